// Test helper run as a child process: writes config versions and kills itself (SIGKILL) at a chosen point.
import { openStore } from '../store.ts';

const [dbPath, mode] = process.argv.slice(2) as [string, 'before-commit' | 'after-commit'];
const store = await openStore({ path: dbPath });
if (!(await store.configs.current())) await store.configs.insertApplied({ yaml: 'version: old\n', author: 'test', source: 'local' });
await store.db.transaction(async (tx) => {
  const id = await store.configs.insertPending({ yaml: 'version: new\n', author: 'test', source: 'local' }, tx);
  await store.configs.markApplied(id, tx);
  if (mode === 'before-commit') process.kill(process.pid, 'SIGKILL');
});
if (mode === 'after-commit') process.kill(process.pid, 'SIGKILL');

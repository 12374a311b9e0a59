// Tests for SA event recording: sessions under an HMAC pseudonym of the IKE SPI, identities pseudonymised unless configured.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { IkeSaInfo } from '../ike/io.ts';
import { createLogger } from '../runtime/logger.ts';
import { pseudonym, sessionPseudonym } from '../store/pseudonym.ts';
import { openStore, SETTING } from '../store/store.ts';
import { recordSaEvents } from './sa-recorder.ts';
import { createStreamBus } from './supervisor.ts';

const dir = mkdtempSync(join(tmpdir(), 'outpost-sarec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ level: 'error', format: 'json', write: () => {} });
const remote = { addr: '198.51.100.7', port: 4500 };
const up = { type: 'ike.up' as const, ikeId: 'h1', conn: 'rw', local: { addr: '192.0.2.1', port: 4500 }, remote, localId: 'fqdn:gw.example', remoteId: 'email:alice@example.com', proposal: 'aes256gcm16-prfsha256-x25519', natLocal: false, natRemote: true, initiator: false };

async function run(identities?: 'store') {
  const store = await openStore({ path: join(dir, `${identities ?? 'default'}.db`) });
  if (identities) await store.settings.set(SETTING.identities, identities);
  const bus = createStreamBus();
  const sas = new Map<string, IkeSaInfo>([['h1', { ikeId: 'h1', spiI: 'A1B2C3D4E5F60718' } as IkeSaInfo]]);
  const rec = await recordSaEvents({ store, events: bus, lookup: (id) => sas.get(id), logger });
  bus.emit(up);
  sas.delete('h1'); // gone from listSas() by the time the later events arrive
  bus.emit({ type: 'child.up', ikeId: 'h1', childId: 'c1', conn: 'rw', child: 'net', spiIn: 0x1234, spiOut: 0x5678, localTs: ['0.0.0.0/0'], remoteTs: ['203.0.113.5/32'], proposal: 'aes256gcm16' });
  bus.emit({ type: 'log', level: 'info', msg: 'not recorded' });
  bus.emit({ type: 'ike.down', ikeId: 'h1', conn: 'rw', reason: 'deleted by peer' });
  bus.emit({ type: 'auth.failed', ikeId: 'h2', conn: 'rw', remote, reason: 'PSK mismatch' });
  await rec.flush();
  rec.stop();
  const rows = (await store.saEvents.list()).reverse();
  const keys = store.keys;
  await store.close();
  return { rows, keys };
}

describe('recordSaEvents', () => {
  it('keys every record of an IKE SA to one pseudonym of its SPI, and hides identities and addresses', async () => {
    const { rows, keys } = await run();
    const session = sessionPseudonym(keys.pseudonyms, 'a1b2c3d4e5f60718');
    expect(rows.map((r) => [r.type, r.session, r.conn])).toEqual([
      ['ike.up', session, 'rw'],
      ['child.up', session, 'rw'],
      ['ike.down', session, 'rw'],
      ['auth.failed', pseudonym(keys.pseudonyms, 'ike-handle', 'h2'), 'rw'],
    ]);
    expect(rows[0]?.detail).toEqual({ remote: pseudonym(keys.pseudonyms, 'addr', remote.addr), remoteId: pseudonym(keys.pseudonyms, 'id', up.remoteId), proposal: up.proposal, natLocal: false, natRemote: true, initiator: false });
    const raw = JSON.stringify(rows);
    for (const secretish of ['alice', '198.51.100.7', 'A1B2', 'a1b2', '4660', '22136']) expect(raw).not.toContain(secretish);
  });

  it('keeps identities and addresses in clear only when the setting says so', async () => {
    const { rows } = await run('store');
    expect(rows[0]?.detail).toMatchObject({ remote: '198.51.100.7', remoteId: 'email:alice@example.com' });
    expect(rows[3]?.detail).toMatchObject({ remote: '198.51.100.7', reason: 'PSK mismatch' });
  });
});

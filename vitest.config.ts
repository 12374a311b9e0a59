// Test runner configuration: unit tests beside the code, cross-cutting suites under test/.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['firmware/**/*.test.ts', 'cloud/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Interop suites share network namespaces and ports; run files one at a time.
    fileParallelism: false,
    pool: 'forks',
  },
});

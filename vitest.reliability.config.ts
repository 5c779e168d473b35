import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The reliability suite (npm run test:reliability): several app processes, killed connections,
// a restarted PostgreSQL server. It runs alone, one file at a time, never beside other tests.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/reliability/**/*.test.ts'],
    exclude: ['node_modules/**'],
    fileParallelism: false,
    // Long: the fuzzers take minutes, and several app processes start on a machine that may be busy.
    testTimeout: 300_000,
    hookTimeout: 240_000,
    globalSetup: ['test/reliability/global-setup.ts'],
  },
});

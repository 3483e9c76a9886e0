import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // isolated-vm needs --no-node-snapshot on Node >= 20, in every worker.
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});

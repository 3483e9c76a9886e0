import { configDefaults, defineConfig } from 'vitest/config';

// isolated-vm needs --no-node-snapshot on Node >= 20, in every worker. Timeouts only end a hung
// test: nothing here asserts speed (bench/ measures it), so they are generous for a loaded machine.
const shared = { pool: 'forks' as const, execArgv: ['--no-node-snapshot'], testTimeout: 60_000, hookTimeout: 60_000 };
const INFRASTRUCTURE = ['test/**/*.docker.test.ts', 'test/**/*.browser.test.ts'];

export default defineConfig({
  test: {
    projects: [
      // Most suites wait on child processes (the CLI, isolate hosts, servers): two files at a
      // time keep both cores busy. (Vitest's default on two cores is one.)
      { test: { ...shared, name: 'main', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...INFRASTRUCTURE], maxWorkers: 2, sequence: { groupOrder: 0 } } },
      // Docker and Chromium suites one file at a time, after the rest: two fork bombs or two
      // browsers at once compete for the same engine and cores, and their limits are the point.
      { test: { ...shared, name: 'infrastructure', include: INFRASTRUCTURE, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});

import type * as Vitest from 'vitest';
import { describe, expect, it, vi } from 'vitest';

describe('describeWith', () => {
  it('refuses to skip a suite when CI requires every suite', async () => {
    vi.resetModules();
    const calls: string[] = [];
    vi.doMock('vitest', async (importOriginal) => {
      const real = await importOriginal<typeof Vitest>();
      const fake = Object.assign((name: string, fn: () => void) => {
        calls.push(`describe:${name}`);
        try {
          fn();
        } catch (err) {
          calls.push(`threw:${(err as Error).message}`);
        }
      }, { skip: (name: string) => calls.push(`skip:${name}`) });
      return { ...real, describe: fake };
    });
    const { describeWith } = await import('./infrastructure.ts');
    describeWith('a Docker engine', false, 'containers', () => {}, { CORDON_REQUIRE_ALL_SUITES: '1' });
    describeWith('a Docker engine', false, 'containers', () => {}, {});
    describeWith('a Docker engine', true, 'containers', () => {}, { CORDON_REQUIRE_ALL_SUITES: '1' });
    vi.doUnmock('vitest');
    expect(calls[0]).toBe('describe:containers');
    expect(calls[1]).toMatch(/^threw:containers: needs a Docker engine/);
    expect(calls[2]).toBe('skip:containers (skipped: a Docker engine not available)');
    expect(calls[3]).toBe('describe:containers');
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHostPool, type HostPool } from './host-pool.ts';
import { createMemoryCap } from './memory-cap.ts';

const CAPS = { outputBytes: 1024, resultBytes: 1024, requestBytes: 1024 };
let pool: HostPool | undefined;
let dir: string | undefined;
afterEach(async () => {
  await pool?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  pool = undefined;
  dir = undefined;
});

const options = (extra: Partial<Parameters<typeof createHostPool>[0]> = {}) => ({
  spares: 1,
  maxHosts: 4,
  maxHostsPerAgent: 1,
  hostMemoryMb: 512,
  warmIsolatesPerHost: 0,
  warmMemoryMb: 64,
  maxQueued: 8,
  idleHostMs: 60_000,
  memoryCap: createMemoryCap('rss', 512, `pooltest-${process.pid}`),
  caps: CAPS,
  ...extra,
});

describe('isolate host pool', () => {
  it('backs off instead of forking in a loop when hosts die before they are ready', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cordon-pool-'));
    const entry = join(dir, 'broken-host.mjs');
    writeFileSync(entry, 'process.exit(3);\n');
    let exits = 0;
    pool = createHostPool(options({ hostEntry: entry, onHostExit: () => exits++ }));
    await new Promise((r) => setTimeout(r, 2000));
    // Without backoff this is hundreds; with it: 1 + 1 (0.25 s) + 1 (0.5 s) + 1 (1 s) at most, give or take scheduling.
    expect(exits).toBeGreaterThan(0);
    expect(exits).toBeLessThanOrEqual(6);
  });

  it('takes a call whose client went away out of the line for a host', async () => {
    pool = createHostPool(options({ maxHostsPerAgent: 1 }));
    // 512 MB less Node's 96: the first call's 400 MB leaves no room for the second on the agent's one host.
    const held = await pool.acquire('agent-a', 400);
    const abort = new AbortController();
    const waiting = pool.acquire('agent-a', 400, abort.signal);
    expect(pool.stats().waitingForHost).toBe(1);
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'CALL_CANCELLED' });
    expect(pool.stats().waitingForHost).toBe(0);
    pool.release(held, 400);
  });

  it('gives each agent its own hosts, never another agent’s', async () => {
    pool = createHostPool(options({ maxHostsPerAgent: 1 }));
    const a = await pool.acquire('agent-a', 64);
    const b = await pool.acquire('agent-b', 64);
    expect(a.owner).toBe('agent-a');
    expect(b.owner).toBe('agent-b');
    expect(a.pid).not.toBe(b.pid);
    pool.release(a, 64);
    pool.release(b, 64);
    // A released host stays its agent's: the other agent never gets it.
    const b2 = await pool.acquire('agent-b', 64);
    expect(b2.pid).toBe(b.pid);
    pool.release(b2, 64);
    expect(pool.pids('agent-a')).toEqual([a.pid]);
  });

  it('refuses a call asking for more heap than a host holds, naming the field', async () => {
    pool = createHostPool(options({ hostMemoryMb: 200 }));
    await expect(pool.acquire('agent-a', 150)).rejects.toMatchObject({ code: 'INPUT_INVALID', details: { field: '/memoryMb' } });
  });
});

import { describe, expect, it } from 'vitest';
import { createConcurrencyLimiter, defaultShare } from './concurrency-limiter.ts';

/** A task that runs until released, recording when it started. */
function gate(log: string[], name: string) {
  let open: () => void = () => {};
  const done = new Promise<void>((r) => (open = r));
  const task = async () => {
    log.push(name);
    await done;
  };
  return { task, release: () => open() };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('concurrency limiter', () => {
  it('gives each agent at most its share of the slots, so another agent runs at once', async () => {
    const log: string[] = [];
    const l = createConcurrencyLimiter({ maxActive: 4, maxQueued: 100, maxActivePerAgent: 2, maxQueuedPerAgent: 50 });
    const a = [0, 1, 2, 3, 4].map((i) => gate(log, `a${i}`));
    const running = a.map((g) => l.run('a', g.task));
    await tick();
    expect(log).toEqual(['a0', 'a1']);
    const b = gate(log, 'b0');
    const bRun = l.run('b', b.task);
    await tick();
    expect(log).toEqual(['a0', 'a1', 'b0']);
    for (const g of [...a, b]) g.release();
    await Promise.all([...running, bRun]);
    expect(l.active).toBe(0);
    expect(l.queued).toBe(0);
  });

  it('serves waiting agents in turn: a long queue delays another agent by one call, not all', async () => {
    const log: string[] = [];
    const l = createConcurrencyLimiter({ maxActive: 1, maxQueued: 100, maxActivePerAgent: 1, maxQueuedPerAgent: 50 });
    const first = gate(log, 'a0');
    const all = [l.run('a', first.task)];
    const gates = [first];
    for (let i = 1; i <= 5; i++) {
      const g = gate(log, `a${i}`);
      gates.push(g);
      all.push(l.run('a', g.task));
    }
    const b = gate(log, 'b0');
    gates.push(b);
    all.push(l.run('b', b.task));
    for (const g of gates) g.release();
    await Promise.all(all);
    expect(log.slice(0, 3)).toEqual(['a0', 'a1', 'b0']);
  });

  it('names the quota that refused: agent_queue, global_queue, agent_concurrency', async () => {
    const log: string[] = [];
    const hold = gate(log, 'x');
    const l = createConcurrencyLimiter({ maxActive: 1, maxQueued: 2, maxActivePerAgent: 1, maxQueuedPerAgent: 1 });
    const runs = [l.run('a', hold.task), l.run('a', hold.task)];
    await expect(l.run('a', hold.task)).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { quota: 'agent_queue' } });
    runs.push(l.run('b', hold.task));
    await expect(l.run('c', hold.task)).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { quota: 'global_queue' } });
    const none = createConcurrencyLimiter({ maxActive: 2, maxQueued: 0, maxActivePerAgent: 1, maxQueuedPerAgent: 0 });
    runs.push(none.run('a', hold.task));
    await expect(none.run('a', hold.task)).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { quota: 'agent_concurrency' } });
    hold.release();
    await Promise.all(runs);
  });

  it('takes a cancelled call out of the queue; it never runs', async () => {
    const log: string[] = [];
    const hold = gate(log, 'hold');
    const l = createConcurrencyLimiter({ maxActive: 1, maxQueued: 10, maxActivePerAgent: 1, maxQueuedPerAgent: 10 });
    const held = l.run('a', hold.task);
    const abort = new AbortController();
    const waiting = l.run('b', async () => void log.push('cancelled call ran'), abort.signal);
    expect(l.queued).toBe(1);
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'CALL_CANCELLED' });
    expect(l.queued).toBe(0);
    hold.release();
    await held;
    await l.run('c', async () => void log.push('next'));
    expect(log).toEqual(['hold', 'next']);
  });

  it('defaults a share to about half, at least one', () => {
    expect([0, 1, 2, 3, 16, 256].map(defaultShare)).toEqual([0, 1, 1, 2, 8, 128]);
  });
});

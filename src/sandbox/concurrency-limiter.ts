import { CordonError } from '../core/errors.ts';

/** Which limit refused a call; the API names it in `details.quota`. */
export type ConcurrencyQuota = 'agent_concurrency' | 'agent_queue' | 'global_queue';

export interface ConcurrencyLimits {
  /** Calls running at once, across agents. */
  readonly maxActive: number;
  /** Calls waiting for a slot, across agents; beyond this, RATE_LIMITED. */
  readonly maxQueued: number;
  /** Calls one agent may have running at once: its share of the slots. */
  readonly maxActivePerAgent: number;
  /** Calls one agent may have waiting: its share of the queue. */
  readonly maxQueuedPerAgent: number;
}

export interface ConcurrencyLimiter {
  /**
   * Runs `task` when a slot is free and the agent is under its share; refuses with
   * RATE_LIMITED (`details.quota` says which limit) when it cannot wait. An aborted
   * `signal` takes a waiting call out of the queue (CALL_CANCELLED); a running task
   * is the task's to stop.
   */
  run<T>(agent: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  readonly active: number;
  readonly queued: number;
}

/** Per-agent shares from the global limits when none are configured: about half, at least one. */
export function defaultShare(total: number): number {
  return total === 0 ? 0 : Math.max(1, Math.ceil(total / 2));
}

interface Waiter {
  readonly start: () => void;
}

interface AgentState {
  active: number;
  readonly waiting: Waiter[];
}

/**
 * At most `maxActive` tasks at once and `maxQueued` waiting, with a share per agent
 * of each. A free slot goes to the agents with waiting calls in turn (round robin),
 * first come first served within one agent: an agent with a long queue delays another
 * agent's first call by at most one of its own, never by all of them. An agent at its
 * running share waits even when slots are free, so no one agent can hold them all.
 * Refusing early (429) beats letting latency grow without bound.
 */
export function createConcurrencyLimiter(limits: ConcurrencyLimits): ConcurrencyLimiter {
  let active = 0;
  let queued = 0;
  const agents = new Map<string, AgentState>();
  // Agents with waiting calls, in the order they are next served.
  const turn: string[] = [];

  const stateOf = (agent: string): AgentState => {
    let s = agents.get(agent);
    if (s === undefined) agents.set(agent, (s = { active: 0, waiting: [] }));
    return s;
  };
  const forgetIfIdle = (agent: string, s: AgentState) => {
    if (s.active === 0 && s.waiting.length === 0) agents.delete(agent);
  };

  /** Hands free slots to waiting calls, one agent at a time, skipping agents at their share. */
  const pump = () => {
    let scanned = 0;
    while (active < limits.maxActive && turn.length > 0 && scanned < turn.length) {
      const agent = turn.shift() as string;
      const s = agents.get(agent);
      if (s === undefined || s.waiting.length === 0) continue;
      if (s.active >= limits.maxActivePerAgent) {
        turn.push(agent);
        scanned++;
        continue;
      }
      const next = s.waiting.shift() as Waiter;
      queued--;
      if (s.waiting.length > 0) turn.push(agent);
      scanned = 0;
      active++;
      s.active++;
      next.start();
    }
  };

  const refuse = (quota: ConcurrencyQuota, agent: string, s: AgentState): CordonError => {
    const message =
      quota === 'global_queue'
        ? `every sandbox slot is busy (${limits.maxActive} running) and the queue is full (${limits.maxQueued} waiting, sandbox.isolate.maxQueued); retry later, or raise sandbox.isolate.maxConcurrent / maxQueued`
        : quota === 'agent_concurrency'
          ? `agent ${agent} already has ${s.active} calls running, its share (sandbox.isolate.maxConcurrentPerAgent ${limits.maxActivePerAgent}), and may queue none (maxQueuedPerAgent 0); wait for one to finish`
          : `agent ${agent} already has ${s.active} calls running and ${s.waiting.length} waiting, its share of the queue (sandbox.isolate.maxQueuedPerAgent ${limits.maxQueuedPerAgent}); wait for some to finish`;
    return new CordonError('RATE_LIMITED', message, { details: { quota, active, queued, retryAfterSec: 1 } });
  };

  return {
    get active() {
      return active;
    },
    get queued() {
      return queued;
    },
    async run<T>(agent: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      if (signal?.aborted === true) throw cancelled();
      const s = stateOf(agent);
      // Another call of this agent already waiting goes first: one agent's calls keep their order.
      if (active < limits.maxActive && s.active < limits.maxActivePerAgent && s.waiting.length === 0) {
        active++;
        s.active++;
      } else {
        if (s.waiting.length >= limits.maxQueuedPerAgent) {
          const quota = limits.maxQueuedPerAgent === 0 && s.active >= limits.maxActivePerAgent ? 'agent_concurrency' : 'agent_queue';
          forgetIfIdle(agent, s);
          throw refuse(quota, agent, s);
        }
        if (queued >= limits.maxQueued) {
          forgetIfIdle(agent, s);
          throw refuse('global_queue', agent, s);
        }
        // The slot is handed over by pump(), so `active` is already counted when start() runs.
        await new Promise<void>((resolve, reject) => {
          const waiter: Waiter = {
            start: () => {
              signal?.removeEventListener('abort', onAbort);
              resolve();
            },
          };
          const onAbort = () => {
            const i = s.waiting.indexOf(waiter);
            if (i < 0) return;
            s.waiting.splice(i, 1);
            queued--;
            const t = turn.indexOf(agent);
            if (s.waiting.length === 0 && t >= 0) turn.splice(t, 1);
            forgetIfIdle(agent, s);
            reject(cancelled());
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          if (s.waiting.length === 0) turn.push(agent);
          s.waiting.push(waiter);
          queued++;
        });
      }
      try {
        return await task();
      } finally {
        active--;
        s.active--;
        forgetIfIdle(agent, s);
        pump();
      }
    },
  };
}

/** The caller went away while its call waited: it leaves the queue and nothing runs. */
function cancelled(): CordonError {
  return new CordonError('CALL_CANCELLED', 'the call was cancelled: its client went away before it ran');
}

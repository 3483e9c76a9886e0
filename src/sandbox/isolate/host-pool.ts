import { CordonError } from '../../core/errors.ts';
import { startHostProcess, type HostDeath, type HostProcess } from './host-process.ts';
import type { MessageCaps } from './ipc-protocol.ts';
import type { MemoryCap } from './memory-cap.ts';

/**
 * Which isolate host runs which call. The rule that bounds the blast radius:
 * a host serves ONE agent for its whole life. Hosts are started unowned (warm
 * spares), handed to the first agent that needs one, and retired — never handed
 * to another agent — once idle. So a host killed for an agent's call (overrun,
 * memory, a V8 fatal error) can only end that same agent's calls and sessions,
 * and nothing one agent's code left behind in a process is ever near another's.
 */
export interface HostPoolOptions {
  /** Unowned hosts kept started and ready. */
  readonly spares: number;
  readonly maxHosts: number;
  readonly maxHostsPerAgent: number;
  /** The OS-level cap on each host's memory. */
  readonly hostMemoryMb: number;
  readonly warmIsolatesPerHost: number;
  readonly warmMemoryMb: number;
  /** Calls waiting for a host, across agents; beyond this, RATE_LIMITED. */
  readonly maxQueued: number;
  /** An owned host with nothing running and no session is retired after this long. */
  readonly idleHostMs: number;
  readonly memoryCap: MemoryCap;
  readonly caps: MessageCaps;
  readonly onHostExit?: (host: HostProcess, death: HostDeath) => void;
  readonly onStderr?: (pid: number, text: string) => void;
  /** The host script (tests only). */
  readonly hostEntry?: string;
}

export interface HostPool {
  /**
   * A ready host owned by `agent` with room for `memoryMb` more; the caller must release() it.
   * An aborted `signal` takes a waiting call out of the line (CALL_CANCELLED).
   */
  acquire(agent: string, memoryMb: number, signal?: AbortSignal): Promise<HostProcess>;
  release(host: HostProcess, memoryMb: number): void;
  /** The agent's host with the fewest sessions, or a new one for it. Does not reserve memory. */
  hostForSession(agent: string): Promise<HostProcess>;
  stats(): { hosts: number; spares: number; waitingForHost: number; inflight: number; sessions: number };
  /** Hosts alive now, or those of one agent (tests and benchmarks check PIDs). */
  pids(agent?: string): number[];
  close(): Promise<void>;
}

/** What a Node process with isolated-vm loaded uses before any isolate. */
export const HOST_BASE_MB = 96;
const MAX_WAIT_MS = 10_000;

interface Waiter {
  readonly agent: string;
  readonly memoryMb: number;
  readonly resolve: (host: HostProcess) => void;
  readonly reject: (err: unknown) => void;
}

export function createHostPool(options: HostPoolOptions): HostPool {
  const hosts = new Set<HostProcess>();
  const spares: HostProcess[] = [];
  const waiting: Waiter[] = [];
  const budgetMb = options.hostMemoryMb - HOST_BASE_MB;
  let closed = false;

  const start = (owner: string): HostProcess => {
    const host = startHostProcess({
      owner,
      memoryCap: options.memoryCap,
      capMb: options.hostMemoryMb,
      warmIsolates: options.warmIsolatesPerHost,
      warmMemoryMb: options.warmMemoryMb,
      caps: options.caps,
      onStderr: (text) => options.onStderr?.(host.pid, text),
      ...(options.hostEntry === undefined ? {} : { entry: options.hostEntry }),
      onExit: (h, death) => {
        hosts.delete(h);
        const i = spares.indexOf(h);
        if (i >= 0) spares.splice(i, 1);
        options.onHostExit?.(h, death);
        // A host that dies before it is ready (isolated-vm will not load, the machine is out of
        // memory) would die again at once: back off instead of forking in a loop.
        earlyDeaths = h.wasReady ? 0 : earlyDeaths + 1;
        if (!closed) {
          if (earlyDeaths === 0) topUpSpares();
          else scheduleTopUp(Math.min(30_000, 250 * 2 ** (earlyDeaths - 1)));
          pump();
        }
      },
    });
    hosts.add(host);
    host.ready.then(pump, () => {});
    return host;
  };

  let earlyDeaths = 0;
  let topUpTimer: NodeJS.Timeout | null = null;
  const scheduleTopUp = (ms: number) => {
    if (topUpTimer !== null) return;
    topUpTimer = setTimeout(() => {
      topUpTimer = null;
      topUpSpares();
      pump();
    }, ms);
    topUpTimer.unref();
  };

  const topUpSpares = () => {
    if (topUpTimer !== null) return;
    while (!closed && spares.length < options.spares && hosts.size < options.maxHosts) spares.push(start(''));
  };

  const owned = (agent: string) => [...hosts].filter((h) => h.owner === agent && !h.dead);

  /** A host for this agent now, or null if it must wait. */
  const tryPlace = (agent: string, memoryMb: number, forSession: boolean): HostProcess | 'wait' | null => {
    const mine = owned(agent);
    const ready = mine.filter((h) => h.isReady && (forSession || h.inflightMb + memoryMb <= budgetMb));
    if (ready.length > 0) {
      return ready.reduce((best, h) => (forSession ? h.sessions.size < best.sessions.size : h.inflight < best.inflight) ? h : best);
    }
    if (mine.length < options.maxHostsPerAgent) {
      const spare = spares.findIndex((h) => h.isReady);
      if (spare >= 0) {
        const host = spares.splice(spare, 1)[0] as HostProcess;
        // A spare was started unowned; it takes its one owner now, for good.
        host.owner = agent;
        topUpSpares();
        return host;
      }
      if (hosts.size < options.maxHosts) {
        const host = start(agent);
        return host.isReady ? host : 'wait';
      }
    }
    // Waiting makes sense only if something this agent can use will free up or start.
    return mine.length > 0 || hosts.size > 0 ? 'wait' : null;
  };

  const pump = () => {
    for (let i = 0; i < waiting.length; ) {
      const w = waiting[i] as Waiter;
      const placed = tryPlace(w.agent, w.memoryMb, false);
      if (placed !== 'wait' && placed !== null) {
        waiting.splice(i, 1);
        placed.inflightMb += w.memoryMb;
        w.resolve(placed);
      } else {
        i++;
      }
    }
    retireIdle();
  };

  const retireIdle = () => {
    const now = Date.now();
    for (const h of hosts) {
      if (h.owner !== '' && h.inflight === 0 && h.sessions.size === 0 && now - h.idleSince > options.idleHostMs && !waiting.some((w) => w.agent === h.owner)) {
        h.kill({ kind: 'retired', detail: 'retired while idle' });
      }
    }
  };
  const idleTimer = setInterval(retireIdle, Math.max(1000, Math.min(options.idleHostMs, 30_000)));
  idleTimer.unref();

  topUpSpares();

  return {
    acquire(agent, memoryMb, signal) {
      if (closed) return Promise.reject(new CordonError('UNAVAILABLE', 'the isolate hosts are shutting down'));
      if (memoryMb > budgetMb) {
        return Promise.reject(new CordonError('INPUT_INVALID', `memoryMb ${memoryMb} is more than an isolate host can hold (${budgetMb} MB); lower it or raise sandbox.isolate.hostMemoryMb`, { details: { field: '/memoryMb' } }));
      }
      if (!waiting.some((w) => w.agent === agent)) {
        const placed = tryPlace(agent, memoryMb, false);
        if (placed !== 'wait' && placed !== null) {
          placed.inflightMb += memoryMb;
          return Promise.resolve(placed);
        }
      }
      if (waiting.length >= options.maxQueued) {
        return Promise.reject(new CordonError('RATE_LIMITED', `every isolate host is busy and ${options.maxQueued} calls are waiting; retry later`, { details: { quota: 'host_queue', queued: waiting.length, retryAfterSec: 1 } }));
      }
      return new Promise((resolve, reject) => {
        const leave = (err: CordonError) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const i = waiting.indexOf(waiter);
          if (i >= 0) waiting.splice(i, 1);
          reject(err);
        };
        const onAbort = () => leave(new CordonError('CALL_CANCELLED', 'the call was cancelled: its client went away while it waited for an isolate host'));
        const waiter: Waiter = {
          agent,
          memoryMb,
          resolve: (h) => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            resolve(h);
          },
          reject,
        };
        // A call does not wait for a host forever: another agent's hosts may stay busy.
        const timer = setTimeout(() => {
          leave(new CordonError('RATE_LIMITED', `no isolate host became free for agent ${agent} within ${MAX_WAIT_MS} ms (at most ${options.maxHostsPerAgent} per agent, sandbox.isolate.maxHostsPerAgent); retry later`, { details: { quota: 'agent_hosts', retryAfterSec: 1 } }));
        }, MAX_WAIT_MS);
        if (signal?.aborted === true) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(waiter);
      });
    },
    release(host, memoryMb) {
      host.inflightMb = Math.max(0, host.inflightMb - memoryMb);
      host.idleSince = Date.now();
      pump();
    },
    async hostForSession(agent) {
      if (closed) throw new CordonError('UNAVAILABLE', 'the isolate hosts are shutting down');
      for (let attempt = 0; attempt < 3; attempt++) {
        const placed = tryPlace(agent, 0, true);
        if (placed === null || placed === 'wait') {
          const starting = owned(agent).find((h) => !h.isReady);
          if (starting === undefined) break;
          await starting.ready.catch(() => {});
          continue;
        }
        await placed.ready;
        return placed;
      }
      throw new CordonError('RATE_LIMITED', `no isolate host is free for agent ${agent} (at most ${options.maxHostsPerAgent} per agent, ${options.maxHosts} in all: sandbox.isolate.maxHostsPerAgent, maxHosts); retry later`, { details: { quota: 'agent_hosts', retryAfterSec: 1 } });
    },
    stats() {
      let inflight = 0;
      let sessions = 0;
      for (const h of hosts) {
        inflight += h.inflight;
        sessions += h.sessions.size;
      }
      return { hosts: hosts.size, spares: spares.length, waitingForHost: waiting.length, inflight, sessions };
    },
    pids: (agent) => [...hosts].filter((h) => agent === undefined || h.owner === agent).map((h) => h.pid),
    async close() {
      closed = true;
      clearInterval(idleTimer);
      if (topUpTimer !== null) clearTimeout(topUpTimer);
      for (const w of waiting.splice(0)) w.reject(new CordonError('UNAVAILABLE', 'the isolate hosts are shutting down'));
      const exits = [...hosts].map((h) => new Promise<void>((resolve) => {
        if (h.dead) return resolve();
        const check = setInterval(() => {
          if (h.dead) {
            clearInterval(check);
            resolve();
          }
        }, 10);
        h.kill({ kind: 'retired', detail: 'the runner is shutting down' });
      }));
      await Promise.all(exits);
      options.memoryCap.close();
    },
  };
}

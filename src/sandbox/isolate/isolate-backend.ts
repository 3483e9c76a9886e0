import { CordonError } from '../../core/errors.ts';
import { depthOf } from '../../core/json-depth.ts';
import { createConcurrencyLimiter, defaultShare } from '../concurrency-limiter.ts';
import type { CodeRunRequest, CodeRunResult, Sandbox, SandboxBackend, SandboxSpec } from '../sandbox-backend.ts';
import { createHostPool, type HostPool } from './host-pool.ts';
import { deathDetail, type HostDeath, type HostProcess, type HostRunOutcome } from './host-process.ts';
import { createMemoryCap, type MemoryCapMode } from './memory-cap.ts';
import type { WorkspaceLease } from '../workspace/index.ts';

export interface IsolateHostsConfig {
  /** Unowned hosts kept ready (default: one per core). */
  readonly hosts: number;
  readonly maxHosts: number;
  readonly maxHostsPerAgent: number;
  /** OS-level memory cap of each host process. */
  readonly hostMemoryMb: number;
  readonly memoryCap: MemoryCapMode;
  readonly warmIsolatesPerHost: number;
  readonly idleHostMs: number;
  /** Calls running at once across all hosts, and waiting beyond that (then 429). */
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  /** One agent's share of each; unset, about half (at least 1). */
  readonly maxConcurrentPerAgent?: number;
  readonly maxQueuedPerAgent?: number;
}

export interface IsolateBackendOptions {
  readonly config: IsolateHostsConfig;
  /** The heap most calls ask for: warm isolates are made with it. */
  readonly warmMemoryMb: number;
  /** Largest output, result and fetch request any profile allows (checked again per call). */
  readonly caps: { readonly outputBytes: number; readonly resultBytes: number; readonly requestBytes: number };
  /** Most a fetch response may be, before the per-call cap from the isolate's memory. */
  readonly maxResponseBytes: number;
  /** Names this runner's cgroup folder. */
  readonly label: string;
  /** Each sandbox's workspace, made when the sandbox is; released when it ends. */
  readonly workspace: (sandboxId: string) => WorkspaceLease;
  readonly onHostExit?: (pid: number, owner: string, death: HostDeath) => void;
  readonly onStderr?: (pid: number, text: string) => void;
}

export interface IsolateBackend extends SandboxBackend {
  readonly kind: 'isolate';
  /** PIDs of the isolate hosts alive now (of one agent, when named). */
  hostPids(agent?: string): number[];
}

/** Deepest result value returned; deeper is reported as a ResultError. */
const MAX_RESULT_DEPTH = 256;

/**
 * Isolates, run in supervised isolate hosts (child processes), never in the
 * runner. A per-call sandbox takes a fresh isolate in one of its agent's hosts
 * and is disposed after the call; a persistent (session) sandbox keeps one
 * isolate alive in one host, so globals persist from call to call.
 */
export function createIsolateBackend(options: IsolateBackendOptions): IsolateBackend {
  const memoryCap = createMemoryCap(options.config.memoryCap, options.config.hostMemoryMb, options.label);
  const limiter = createConcurrencyLimiter({
    maxActive: options.config.maxConcurrent,
    maxQueued: options.config.maxQueued,
    maxActivePerAgent: options.config.maxConcurrentPerAgent ?? defaultShare(options.config.maxConcurrent),
    maxQueuedPerAgent: options.config.maxQueuedPerAgent ?? defaultShare(options.config.maxQueued),
  });
  const sessionsByHost = new Map<HostProcess, Set<SessionHandle>>();
  const pool: HostPool = createHostPool({
    spares: options.config.hosts,
    maxHosts: options.config.maxHosts,
    maxHostsPerAgent: options.config.maxHostsPerAgent,
    hostMemoryMb: options.config.hostMemoryMb,
    warmIsolatesPerHost: options.config.warmIsolatesPerHost,
    warmMemoryMb: options.warmMemoryMb,
    // Only calls past the limiter wait for a host, so at most maxConcurrent ever do.
    maxQueued: options.config.maxConcurrent,
    idleHostMs: options.config.idleHostMs,
    memoryCap,
    caps: options.caps,
    onHostExit: (host, death) => {
      for (const s of sessionsByHost.get(host) ?? []) s.end(`its isolate host died: ${deathDetail(death)}`);
      sessionsByHost.delete(host);
      options.onHostExit?.(host.pid, host.owner, death);
    },
    ...(options.onStderr === undefined ? {} : { onStderr: options.onStderr }),
  });

  /** What crosses into an isolate from fetch is bounded by the isolate's own memory. */
  const fetchMaxBytes = (memoryMb: number) => Math.min(options.maxResponseBytes, Math.floor((memoryMb * 1024 * 1024) / 4));

  const toResult = (outcome: HostRunOutcome, request: CodeRunRequest, sandboxId: string, callStarted: number): CodeRunResult => {
    // Whatever the isolate answered, no one is waiting for it: the call ends as cancelled.
    if (request.signal?.aborted === true) throw new CordonError('CALL_CANCELLED', 'the call was cancelled: its client went away while it ran', { details: { sandbox: sandboxId } });
    if (outcome.ok) return checkDepth(outcome.result);
    const death = outcome.death;
    const durationMs = performance.now() - callStarted;
    if (death.kind === 'oom') {
      return { status: 'oom', error: { name: 'RangeError', message: `the isolate ran out of memory: ${death.detail}` }, stdout: '', stderr: '', truncated: false, durationMs };
    }
    if (death.kind === 'timeout' && durationMs >= request.timeoutMs) {
      return { status: 'timeout', error: { name: 'TimeoutError', message: `wall-clock limit of ${request.timeoutMs} ms exceeded (the isolate did not stop, so its host was ended)` }, stdout: '', stderr: '', truncated: false, durationMs };
    }
    throw new CordonError('SANDBOX_FAILED', `the sandbox failed outside the tool code: ${deathDetail(death)}; retry the call`, { details: { sandbox: sandboxId, retryable: true } });
  };

  const limitsOf = (r: CodeRunRequest) => ({ memoryMb: r.memoryMb, timeoutMs: r.timeoutMs, cpuTimeMs: r.cpuTimeMs, outputBytes: r.outputBytes, resultBytes: r.resultBytes });

  function perCall(spec: SandboxSpec): Sandbox {
    let alive = true;
    const listeners: ((reason: string) => void)[] = [];
    const lease = options.workspace(spec.identity.id);
    const end = (reason: string) => {
      if (!alive) return;
      alive = false;
      spec.egress?.close();
      void lease.release().catch(() => {});
      for (const l of listeners.splice(0)) l(reason);
    };
    return {
      identity: spec.identity,
      persistent: false,
      egress: spec.egress,
      workspace: lease.workspace,
      alive: () => alive,
      run: (request) =>
        limiter.run(spec.identity.agent, async () => {
          if (!alive) throw new CordonError('SANDBOX_FAILED', 'this sandbox has ended', { details: { sandbox: spec.identity.id } });
          const host = await pool.acquire(spec.identity.agent, request.memoryMb, request.signal);
          const started = performance.now();
          try {
            const outcome = await host.run({ session: null, source: request.source, limits: limitsOf(request), fetch: spec.egress?.fetch ?? null, fetchMaxBytes: fetchMaxBytes(request.memoryMb), signal: request.signal });
            return toResult(outcome, request, spec.identity.id, started);
          } finally {
            pool.release(host, request.memoryMb);
            // A per-call sandbox serves one call: it ends with it.
            end('the call finished');
          }
        }, request.signal),
      dispose: async () => end('disposed'),
      onEnd: (l) => {
        if (alive) listeners.push(l);
        else l('ended');
      },
    };
  }

  interface SessionHandle {
    end(reason: string): void;
  }

  async function persistent(spec: SandboxSpec): Promise<Sandbox> {
    const host = await pool.hostForSession(spec.identity.agent);
    const id = spec.identity.id;
    await host.openSession(id, spec.memoryMb, spec.egress?.fetch ?? null).catch((err: unknown) => {
      throw new CordonError('SANDBOX_FAILED', `could not create the sandbox: ${err instanceof Error ? err.message : String(err)}`, { details: { sandbox: id, retryable: true } });
    });
    let alive = true;
    let endedWhy = '';
    let queue: Promise<unknown> = Promise.resolve();
    const listeners: ((reason: string) => void)[] = [];
    const lease = options.workspace(id);
    const handle: SessionHandle = {
      end(reason) {
        if (!alive) return;
        alive = false;
        endedWhy = reason;
        spec.egress?.close();
        void lease.release().catch(() => {});
        sessionsByHost.get(host)?.delete(handle);
        if (!host.dead) host.closeSession(id);
        for (const l of listeners.splice(0)) l(reason);
      },
    };
    let set = sessionsByHost.get(host);
    if (set === undefined) sessionsByHost.set(host, (set = new Set()));
    set.add(handle);

    const runOne = async (asked: CodeRunRequest): Promise<CodeRunResult> => {
      // A session's isolate was made with its heap limit; a call cannot change it.
      const request = { ...asked, memoryMb: spec.memoryMb };
      if (!alive) throw new CordonError('SANDBOX_FAILED', `this sandbox has ended: ${endedWhy}`, { details: { sandbox: id } });
      const started = performance.now();
      host.inflightMb += request.memoryMb;
      try {
        const outcome = await host.run({ session: id, source: request.source, limits: limitsOf(request), fetch: null, fetchMaxBytes: fetchMaxBytes(request.memoryMb), signal: request.signal });
        // The host drops a session whose isolate was disposed (out of memory, an async overrun, a cancel).
        if (!outcome.ok || outcome.sessionEnded) handle.end(`its last call ended with ${outcome.ok ? outcome.result.status : outcome.death.kind}`);
        return toResult(outcome, request, id, started);
      } finally {
        pool.release(host, request.memoryMb);
      }
    };

    return {
      identity: spec.identity,
      persistent: true,
      egress: spec.egress,
      workspace: lease.workspace,
      alive: () => alive,
      run(request) {
        // One call at a time per session, in arrival order: a REPL's semantics.
        const next = queue.then(() => limiter.run(spec.identity.agent, () => runOne(request), request.signal));
        queue = next.catch(() => {});
        return next;
      },
      dispose: async () => handle.end('disposed'),
      onEnd: (l) => {
        if (alive) listeners.push(l);
        else l(endedWhy);
      },
    };
  }

  return {
    kind: 'isolate',
    create: async (spec) => (spec.persistent ? persistent(spec) : perCall(spec)),
    stats: () => ({ active: limiter.active, queued: limiter.queued, ...pool.stats() }),
    hostPids: (agent) => pool.pids(agent),
    close: () => pool.close(),
  };
}

function checkDepth(result: CodeRunResult): CodeRunResult {
  // The runner re-serialises the value (API answer, audit hash): a value nested deeper than
  // it can walk would turn the tool's result into a server error.
  if (result.value !== undefined && depthOf(result.value, MAX_RESULT_DEPTH) > MAX_RESULT_DEPTH) {
    const { value: _dropped, ...rest } = result;
    return { ...rest, status: 'error', error: { name: 'ResultError', message: `the result value nests deeper than ${MAX_RESULT_DEPTH} levels` } };
  }
  return result;
}

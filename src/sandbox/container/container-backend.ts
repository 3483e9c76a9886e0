import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { ContainerConfig } from '../../config/config-schema.ts';
import { CordonError } from '../../core/errors.ts';
import { executorWorkspace } from './container-workspace.ts';
import { newId } from '../../core/ids.ts';
import { silentLogger, type Logger } from '../../core/logger.ts';
import { createConcurrencyLimiter, defaultShare } from '../concurrency-limiter.ts';
import type { CodeRunRequest, CodeRunResult, Sandbox, SandboxBackend, SandboxSpec } from '../sandbox-backend.ts';
import { checkWorkspaceArchive, readWorkspaceArchive, sendWorkspaceFiles } from './container-files.ts';
import { removeOrphanContainers } from './container-gc.ts';
import { endedResult, maxReplyBytes, parseRunReply, ReplyError } from './container-run.ts';
import { removeSlot, startSlot, type ContainerProfileSettings, type ContainerSlot } from './container-slot.ts';
import { ExecutorLinkError, type ExecutorLink } from './executor-link.ts';
import { containerMemoryBytes } from './hardened-container.ts';
import { createWarmPool, type WarmPool } from './warm-pool.ts';

/** `sandbox.container` of the config, less where the engine is (the caller connects to it). */
export type ContainerBackendConfig = Omit<ContainerConfig, 'dockerHost'>;

export interface ContainerBackendOptions {
  /** The engine, connected on first need; rejects with SANDBOX_UNAVAILABLE when none answers. */
  readonly docker: () => Promise<Docker>;
  /** Every container profile's settings, by profile name. */
  readonly profiles: ReadonlyMap<string, ContainerProfileSettings>;
  /** Each container's run directory (its executor and egress sockets) goes under here. */
  readonly runDir: string;
  readonly runnerId: string;
  readonly config: ContainerBackendConfig;
  readonly logger?: Logger;
}

export interface ContainerBackend extends SandboxBackend {
  readonly kind: 'container';
  /**
   * For a serving runner: removes orphans of runners that are gone, then starts the warm
   * pools and the periodic sweep. A missing engine is logged, not thrown. Without it (a
   * one-shot `cordon run`), no container is started ahead of need.
   */
  start(): Promise<void>;
}

/** After the call's own limit, how long the executor has to report a timeout before the runner ends the container. */
const BACKSTOP_GRACE_MS = 2000;
/** How long close() waits for containers to be removed. */
const CLOSE_WAIT_MS = 10_000;
/** How long a container whose executor went away has to stop before its state is read. */
const DEATH_WAIT_MS = 5000;

/**
 * Containers: every sandbox is one hardened container (hardened-container.ts) with an
 * executor inside (executor/executor.py) that the runner talks to over the container's
 * own socket. A per-call sandbox takes a started container from its profile's warm pool
 * (or starts one) and removes it after the call; a session sandbox keeps its container,
 * so workspace files and a Python interpreter's state live from call to call.
 *
 * The executor is as untrusted as the code it runs: the runner caps and checks what it
 * says (container-run.ts), enforces the wall-clock limit itself (the container is ended
 * past it), and asks the engine whether a dead container was killed for memory.
 */
export function createContainerBackend(options: ContainerBackendOptions): ContainerBackend {
  const logger = options.logger ?? silentLogger;
  mkdirSync(options.runDir, { recursive: true, mode: 0o711 });
  const limiter = createConcurrencyLimiter({
    maxActive: options.config.maxConcurrent,
    maxQueued: options.config.maxQueued,
    maxActivePerAgent: defaultShare(options.config.maxConcurrent),
    maxQueuedPerAgent: defaultShare(options.config.maxQueued),
  });
  const live = new Set<ContainerSlot>();
  let closed = false;
  let gcTimer: NodeJS.Timeout | null = null;

  const settingsFor = (profile: string): ContainerProfileSettings => {
    const s = options.profiles.get(profile);
    if (s === undefined) throw new CordonError('SANDBOX_FAILED', `sandbox profile "${profile}" is not a container profile`, { details: { profile } });
    return s;
  };

  const start = async (settings: ContainerProfileSettings, memoryMb: number): Promise<ContainerSlot> => {
    const docker = await options.docker();
    try {
      const slot = await startSlot({ docker, runDir: options.runDir, runnerId: options.runnerId, settings, id: newId('ctr'), memoryMb, startTimeoutMs: options.config.startTimeoutMs });
      live.add(slot);
      return slot;
    } catch (err) {
      logger.warn({ err: (err as { cause?: unknown }).cause ?? err, profile: settings.profile }, 'a container did not start');
      throw err;
    }
  };
  /** Removals under way: close() waits for them, so no container outlives its runner's exit. */
  const removing = new Set<Promise<void>>();
  const remove = (slot: ContainerSlot): Promise<void> => {
    live.delete(slot);
    const done = removeSlot(slot).finally(() => removing.delete(done));
    removing.add(done);
    return done;
  };

  const pools: WarmPool = createWarmPool({
    profiles: [...options.profiles.values()].filter((s) => s.warmPool > 0),
    start: (settings) => start(settings, settings.memoryMb),
    remove,
    logger,
  });

  const sweep = async () => {
    try {
      const removed = await removeOrphanContainers(await options.docker());
      if (removed.length > 0) logger.info({ removed: removed.map((c) => c.id.slice(0, 12)) }, 'removed containers of runners that are gone');
    } catch (err) {
      logger.debug({ err }, 'container gc skipped');
    }
  };

  /** A started container for this sandbox, from its profile's pool or started now, with its egress socket in place. */
  async function acquire(spec: SandboxSpec, settings: ContainerProfileSettings): Promise<ContainerSlot> {
    const slot = pools.take(settings.profile) ?? (await start(settings, spec.memoryMb));
    // The container's name says which sandbox it serves (its label names the slot, fixed when it
    // was started, perhaps for the pool); renaming costs the call nothing.
    void slot.container.rename({ name: `cordon-${spec.identity.id}` }).catch((err: unknown) => logger.debug({ err }, 'container rename failed'));
    try {
      if (spec.egress !== null) await spec.egress.channel({ socketPath: join(slot.dir, 'egress.sock') });
    } catch (err) {
      void remove(slot);
      throw err;
    }
    return slot;
  }

  /** Live (or starting) session containers, by agent: a container is far dearer than an isolate. */
  const sessionsByAgent = new Map<string, number>();
  let sessionCount = 0;
  const holdSession = (agent: string): (() => void) => {
    const mine = sessionsByAgent.get(agent) ?? 0;
    if (sessionCount >= options.config.maxSessions) {
      throw new CordonError('RATE_LIMITED', `too many container sandboxes in all (${options.config.maxSessions}, sandbox.container.maxSessions); delete some or wait for idle ones to expire`, { details: { quota: 'container_sessions', retryAfterSec: 10 } });
    }
    if (mine >= options.config.maxSessionsPerAgent) {
      throw new CordonError('RATE_LIMITED', `agent ${agent} already holds ${mine} container sandboxes, its share (sandbox.container.maxSessionsPerAgent); delete some first`, { details: { quota: 'agent_container_sessions', retryAfterSec: 10 } });
    }
    sessionCount++;
    sessionsByAgent.set(agent, mine + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      sessionCount--;
      const left = (sessionsByAgent.get(agent) ?? 1) - 1;
      if (left === 0) sessionsByAgent.delete(agent);
      else sessionsByAgent.set(agent, left);
    };
  };

  async function create(spec: SandboxSpec): Promise<Sandbox> {
    if (closed) throw new CordonError('SANDBOX_UNAVAILABLE', 'the container backend is shutting down');
    const settings = settingsFor(spec.identity.profile);
    if (!spec.persistent) return containerSandbox(spec, null, () => acquire(spec, settings));
    // A session's container starts now, counted from before it starts; a call's starts when the
    // call gets its turn, so concurrent calls cannot start more containers than the limiter lets run.
    const release = holdSession(spec.identity.agent);
    try {
      const sandbox = containerSandbox(spec, await acquire(spec, settings), () => acquire(spec, settings));
      sandbox.onEnd(release);
      return sandbox;
    } catch (err) {
      release();
      throw err;
    }
  }

  function containerSandbox(spec: SandboxSpec, acquired: ContainerSlot | null, acquireSlot: () => Promise<ContainerSlot>): Sandbox {
    const id = spec.identity.id;
    let slot: ContainerSlot | null = null;
    let alive = true;
    let endedWhy = '';
    let queue: Promise<unknown> = Promise.resolve();
    const listeners: ((reason: string) => void)[] = [];
    let removed: Promise<void> = Promise.resolve();
    const end = (reason: string) => {
      if (!alive) return;
      alive = false;
      endedWhy = reason;
      spec.egress?.close();
      if (slot !== null) removed = remove(slot);
      for (const l of listeners.splice(0)) l(reason);
    };
    /** A call in flight ends the sandbox itself, once it has asked the engine why the container died. */
    let calling = false;
    const bind = (s: ContainerSlot) => {
      slot = s;
      s.link.onClose((e) => {
        if (!calling) end(`its container's executor went away (${e.message})`);
      });
    };
    if (acquired !== null) bind(acquired);

    /** Why the executor went away: the engine knows whether the kernel killed it for memory. */
    const deathOf = async (slot: ContainerSlot, started: number): Promise<CodeRunResult> => {
      const durationMs = performance.now() - started;
      // The executor's socket closes before the engine has seen the container stop (and
      // recorded why): wait for it to, briefly, then ask.
      await Promise.race([slot.container.wait().catch(() => {}), new Promise((r) => setTimeout(r, DEATH_WAIT_MS).unref())]);
      const state = await slot.container.inspect().then((i) => i.State, () => null);
      if (state?.OOMKilled === true) return endedResult('oom', 'MemoryError', `the container ran out of memory (${slot.memoryMb} MB) and was killed`, durationMs);
      // gVisor has no OOM killer of its own: the host's kills the whole sandbox (exit 137), and the
      // engine's OOMKilled event may come late or never (containerd drops it once the cgroup is gone).
      if (slot.settings.runtime === 'runsc' && state?.Running === false && state.ExitCode === 137) {
        return endedResult('oom', 'MemoryError', `the sandbox was killed (exit 137): under gVisor, that is running out of memory (${slot.memoryMb} MB)`, durationMs);
      }
      const how = state === null ? 'was removed' : state.Running ? 'lost its executor' : `exited with code ${state.ExitCode}`;
      return endedResult('error', 'SandboxExit', `the sandbox's container ${how}; its state is gone`, durationMs);
    };

    /** The sandbox's container: a per-call sandbox's starts at its first call or workspace op. */
    const ensureSlot = async (): Promise<ContainerSlot> => {
      if (slot === null) {
        const s = await acquireSlot();
        if (!alive) {
          void remove(s);
          throw new CordonError('CALL_CANCELLED', 'the call was cancelled while its container started', { details: { sandbox: id } });
        }
        bind(s);
      }
      return slot as unknown as ContainerSlot;
    };

    const runOne = async (request: CodeRunRequest): Promise<CodeRunResult> => {
      if (!alive) throw new CordonError('SANDBOX_FAILED', `this sandbox has ended: ${endedWhy}`, { details: { sandbox: id } });
      if (request.language !== 'python' && request.language !== 'sh') {
        throw new CordonError('INPUT_INVALID', `a container runs python or sh, not ${JSON.stringify(request.language.slice(0, 32))}`, { details: { field: '/language' } });
      }
      const current = await ensureSlot();
      // A per-call container takes the call's memory limit; a session's was fixed when it was made.
      if (!spec.persistent && request.memoryMb !== current.memoryMb) {
        const bytes = containerMemoryBytes({ ...current.settings.limits, memoryMb: request.memoryMb });
        try {
          await current.container.update({ Memory: bytes, MemorySwap: bytes });
        } catch (err) {
          end('its memory limit could not be set');
          throw new CordonError('SANDBOX_FAILED', `could not give the container the call's memory limit (${request.memoryMb} MB); retry the call`, { cause: err, details: { sandbox: id, retryable: true } });
        }
        current.memoryMb = request.memoryMb;
      }
      const started = performance.now();
      calling = true;
      let backstop: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const stopped = new Promise<'timeout' | 'cancelled'>((resolve) => {
        backstop = setTimeout(() => resolve('timeout'), request.timeoutMs + BACKSTOP_GRACE_MS);
        if (request.signal !== undefined) {
          onAbort = () => resolve('cancelled');
          if (request.signal.aborted) onAbort();
          else request.signal.addEventListener('abort', onAbort, { once: true });
        }
      });
      try {
        const reply = current.link.request(
          { op: 'run', id: 'run', lang: request.language, source: request.source, timeoutMs: request.timeoutMs, outputBytes: request.outputBytes, resultBytes: request.resultBytes },
          maxReplyBytes(request),
        );
        reply.catch(() => {});
        const first = await Promise.race([reply.then((r) => ({ reply: r })), stopped.then((why) => ({ stop: why }))]).catch((err: unknown) => ({ failed: err }));
        if ('stop' in first) {
          // The executor did not stop the code in time (or no one waits any more): the container ends.
          end(first.stop === 'timeout' ? `its call overran ${request.timeoutMs} ms` : 'its call was cancelled');
          if (first.stop === 'cancelled') throw new CordonError('CALL_CANCELLED', 'the call was cancelled: its client went away while it ran', { details: { sandbox: id } });
          return endedResult('timeout', 'TimeoutError', `wall-clock limit of ${request.timeoutMs} ms exceeded; the container was ended`, performance.now() - started);
        }
        if ('failed' in first) {
          const e = first.failed;
          if (e instanceof ExecutorLinkError && e.kind === 'protocol') {
            end(`it broke the executor protocol: ${e.message}`);
            return endedResult('error', 'ExecutorError', `the sandbox broke the executor protocol (${e.message}); the container was ended`, performance.now() - started);
          }
          const result = await deathOf(current, started);
          end(result.error?.message ?? 'its executor went away');
          return result;
        }
        if (request.signal?.aborted === true) throw new CordonError('CALL_CANCELLED', 'the call was cancelled: its client went away while it ran', { details: { sandbox: id } });
        try {
          const result = parseRunReply(first.reply, request, performance.now() - started);
          if (result.error !== undefined || result.status === 'ok' || result.status === 'error') return result;
          // The executor stopped the code itself; the container, its files and the sandbox go on.
          const note = spec.persistent && request.language === 'python' ? ' (the Python session\'s variables are gone; its files stay)' : '';
          const error = result.status === 'timeout'
            ? { name: 'TimeoutError', message: `wall-clock limit of ${request.timeoutMs} ms exceeded; the code was killed${note}` }
            : { name: 'MemoryError', message: `the code ran out of memory (${current.memoryMb} MB) and was killed${note}` };
          return { ...result, error };
        } catch (err) {
          if (!(err instanceof ReplyError)) throw err;
          end(`it broke the executor protocol: ${err.message}`);
          return endedResult('error', 'ExecutorError', `the sandbox broke the executor protocol (${err.message}); the container was ended`, performance.now() - started);
        }
      } finally {
        calling = false;
        clearTimeout(backstop);
        if (onAbort !== undefined) request.signal?.removeEventListener('abort', onAbort);
        // The executor went away outside what this call could tell (after its answer): end now.
        if (!current.link.open) end('its container\'s executor went away');
      }
    };

    /**
     * Files in or out, and the file tools' workspace ops, in the sandbox's turn and under the
     * limiter like a call, so neither ever interleaves with one. `start`: a per-call sandbox's
     * container starts for it if it has none yet (workspace ops; files in and out are a
     * session's only, since only a session's workspace outlives a call).
     */
    const transfer = <T>(work: (link: ExecutorLink) => Promise<T>, start = false): Promise<T> => {
      const next = queue.then(() =>
        limiter.run(spec.identity.agent, async () => {
          if (!alive) throw new CordonError('SANDBOX_FAILED', `this sandbox has ended: ${endedWhy}`, { details: { sandbox: id } });
          const current = start ? await ensureSlot() : slot;
          if (current === null) throw new CordonError('SANDBOX_FAILED', `this sandbox has ended: ${endedWhy}`, { details: { sandbox: id } });
          try {
            return await work(current.link);
          } finally {
            // The executor went away during the work (or was closed for breaking the protocol): the sandbox ends now.
            if (!current.link.open) end('its container\'s executor went away');
          }
        }),
      );
      queue = next.catch(() => {});
      return next;
    };
    const sessionOnly = () => {
      if (!spec.persistent) throw new CordonError('INPUT_INVALID', 'files move in and out of session sandboxes; a per-call sandbox\'s workspace ends with its call', { details: { field: 'sandbox', sandbox: id } });
      if (!alive) throw new CordonError('SANDBOX_FAILED', `this sandbox has ended: ${endedWhy}`, { details: { sandbox: id } });
    };

    return {
      identity: spec.identity,
      persistent: spec.persistent,
      egress: spec.egress,
      workspace: executorWorkspace({ sandboxId: id, turn: (work) => transfer(work, true) }),
      alive: () => alive,
      run(request) {
        // One call at a time per sandbox, in arrival order: a notebook's semantics.
        const next = queue.then(() =>
          limiter.run(spec.identity.agent, async () => {
            try {
              return await runOne(request);
            } finally {
              if (!spec.persistent) end('the call finished');
            }
          }, request.signal),
        );
        queue = next.catch(() => {});
        return next;
      },
      async writeFiles(archive, caps) {
        sessionOnly();
        // Read and checked before the sandbox's turn: a slow upload holds no slot, and a bad archive changes nothing.
        const checked = await checkWorkspaceArchive(archive, caps);
        return transfer((link) => sendWorkspaceFiles(link, checked));
      },
      async readFiles(path, caps) {
        sessionOnly();
        return transfer((link) => readWorkspaceArchive(link, path, caps));
      },
      dispose: async () => {
        end('disposed');
        await removed;
      },
      onEnd: (l) => {
        if (alive) listeners.push(l);
        else l(endedWhy);
      },
    };
  }

  return {
    kind: 'container',
    create,
    async start() {
      if (gcTimer !== null) return;
      await sweep();
      pools.fill();
      gcTimer = setInterval(() => void sweep(), options.config.gcIntervalMs);
      gcTimer.unref();
    },
    stats: () => ({ containerActive: limiter.active, containerQueued: limiter.queued, containers: live.size, containerSessions: sessionCount, ...pools.stats() }),
    async close() {
      closed = true;
      if (gcTimer !== null) clearInterval(gcTimer);
      await pools.close();
      for (const slot of [...live]) void remove(slot);
      // Every removal has been asked of the engine, which finishes it whether or not we wait; a
      // sandbox gVisor is still tearing down (thousands of host tasks after a fork bomb) must not
      // hold a runner's stop for long.
      const all = Promise.all([...removing]);
      const waited = await Promise.race([all.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), CLOSE_WAIT_MS).unref())]);
      if (!waited) logger.warn({ containers: removing.size }, 'stopped waiting for container removals; the engine finishes them');
    },
  };
}

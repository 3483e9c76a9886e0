import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isCordonError } from '../../core/errors.ts';
import { capString, parseHostMessage, type IsolateRunResult, type MessageCaps, type RunLimits, type SupervisorMessage } from './ipc-protocol.ts';
import type { HostCap, MemoryCap } from './memory-cap.ts';
import type { HostFetch, HostFetchResponse } from '../sandbox-fetch.ts';

const HOST_ENTRY = fileURLToPath(new URL('./host/isolate-host-main.ts', import.meta.url));

/**
 * How long past its wall limit a call may go before its host is killed. The
 * host disposes the isolate itself 100 ms past the limit (leaving isolated-vm's
 * own timeout, at the limit, room to answer first with the output kept); this
 * catches what disposal cannot interrupt (a non-interruptible builtin, a wedged
 * host). Both stay inside the promised limit + 250 ms.
 */
const KILL_GRACE_MS = 180;
const STDERR_TAIL_BYTES = 16 * 1024;

/** Why a host died, as its calls report it. */
export type HostDeath =
  | { readonly kind: 'oom'; readonly detail: string }
  | { readonly kind: 'timeout'; readonly call: number }
  | { readonly kind: 'failed'; readonly detail: string }
  /** Ended on purpose with nothing running: idle, or the runner is closing. */
  | { readonly kind: 'retired'; readonly detail: string };

export interface HostProcessOptions {
  readonly owner: string;
  readonly memoryCap: MemoryCap;
  readonly capMb: number;
  readonly warmIsolates: number;
  readonly warmMemoryMb: number;
  readonly caps: MessageCaps;
  readonly onExit: (host: HostProcess, death: HostDeath) => void;
  readonly onStderr?: (line: string) => void;
  /** The script the child runs; tests replace it with one that fails to start. */
  readonly entry?: string;
}

export interface RunOnHost {
  readonly session: string | null;
  readonly source: string;
  readonly limits: RunLimits;
  readonly fetch: HostFetch | null;
  readonly fetchMaxBytes: number;
  /** Aborted when the caller went away: the host is asked to end this call (see 'cancel'). */
  readonly signal?: AbortSignal | undefined;
}

export type HostRunOutcome = { readonly ok: true; readonly result: IsolateRunResult; readonly sessionEnded: boolean } | { readonly ok: false; readonly death: HostDeath };

export interface HostProcess {
  readonly pid: number;
  /** The one agent this host serves; '' while it is an unowned spare. */
  owner: string;
  readonly ready: Promise<void>;
  readonly isReady: boolean;
  /** It reached ready at some point (a host that never did is failing to start). */
  readonly wasReady: boolean;
  readonly dead: boolean;
  /** Calls running now and the heap they reserved. */
  inflight: number;
  inflightMb: number;
  readonly sessions: Set<string>;
  /** When the host last finished a call or closed a session. */
  idleSince: number;
  run(request: RunOnHost): Promise<HostRunOutcome>;
  openSession(session: string, memoryMb: number, fetch: HostFetch | null): Promise<void>;
  closeSession(session: string): void;
  /** SIGKILL; the host's calls then fail with `death`. */
  kill(death: HostDeath): void;
}

/**
 * The supervisor's side of one isolate host: forks it, caps its memory, kills
 * it when a call overruns, and turns its death into an answer for exactly the
 * calls it was running. Every message from the host is checked before use.
 */
export function startHostProcess(options: HostProcessOptions): HostProcess {
  const child: ChildProcess = fork(options.entry ?? HOST_ENTRY, [JSON.stringify({ warmIsolates: options.warmIsolates, warmMemoryMb: options.warmMemoryMb })], {
    execArgv: ['--no-node-snapshot'],
    // Nothing of the runner's environment (secrets among it) enters a process that runs untrusted code.
    env: {},
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  const pid = child.pid ?? -1;
  let dead = false;
  let isReady = false;
  let killedFor: HostDeath | null = null;
  let stderrTail = '';
  let nextCall = 0;
  const calls = new Map<number, { resolve: (o: HostRunOutcome) => void; fetch: HostFetch | null; maxBytes: number; signal: AbortController; timer: NodeJS.Timeout | null; detach: () => void }>();
  const opens = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  const sessionFetch = new Map<string, HostFetch | null>();

  let resolveReady: () => void = () => {};
  let rejectReady: (e: Error) => void = () => {};
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => {});

  const send = (m: SupervisorMessage) => {
    if (!dead && child.connected) child.send(m);
  };
  const kill = (death: HostDeath) => {
    if (dead) return;
    killedFor ??= death;
    child.kill('SIGKILL');
  };

  let cap: HostCap | null = null;
  try {
    cap = options.memoryCap.attach(pid, () => kill({ kind: 'oom', detail: `resident memory passed ${options.capMb} MB` }));
  } catch (err) {
    // The reason (a cgroup path, an errno) is for the operator's log, not for the caller's answer.
    options.onStderr?.(`could not cap the isolate host's memory: ${err instanceof Error ? err.message : String(err)}\n`);
    kill({ kind: 'failed', detail: "could not cap the isolate host's memory" });
  }

  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    options.onStderr?.(chunk);
  });

  child.on('message', (raw) => {
    const m = parseHostMessage(raw, options.caps);
    if (m === null) {
      kill({ kind: 'failed', detail: 'the isolate host sent a malformed message' });
      return;
    }
    switch (m.t) {
      case 'ready':
        isReady = true;
        resolveReady();
        return;
      case 'result': {
        const c = calls.get(m.call);
        if (c === undefined) return;
        finishCall(m.call, { ok: true, result: m.result, sessionEnded: m.sessionEnded });
        return;
      }
      case 'opened': {
        const o = opens.get(m.call);
        opens.delete(m.call);
        if (o === undefined) return;
        if (m.error === null) o.resolve();
        else o.reject(new Error(m.error));
        return;
      }
      case 'fetch': {
        const c = calls.get(m.call);
        const fetch = c?.fetch ?? null;
        if (c === undefined || fetch === null) {
          send({ t: 'fetched', call: m.call, fetch: m.fetch, response: null, error: 'this sandbox has no egress' });
          return;
        }
        // A fetch that throws instead of rejecting still answers the host, and never escapes this handler.
        new Promise<HostFetchResponse>((resolve) => resolve(fetch(m.request, c.signal.signal, { maxResponseBytes: c.maxBytes }))).then(
          (response) => send({ t: 'fetched', call: m.call, fetch: m.fetch, response, error: null }),
          (err: unknown) => send({ t: 'fetched', call: m.call, fetch: m.fetch, response: null, error: fetchErrorForSandbox(err) }),
        );
        return;
      }
    }
  });

  const finishCall = (call: number, outcome: HostRunOutcome) => {
    const c = calls.get(call);
    if (c === undefined) return;
    calls.delete(call);
    if (c.timer !== null) clearTimeout(c.timer);
    c.detach();
    c.signal.abort();
    host.inflight = Math.max(0, host.inflight - 1);
    c.resolve(outcome);
  };

  child.on('error', (err) => kill({ kind: 'failed', detail: `the isolate host could not run: ${err.message}` }));
  child.on('exit', (code, signal) => {
    dead = true;
    const death = classifyDeath(killedFor, cap?.hitCap() ?? false, code, signal, stderrTail, options.capMb);
    cap?.release();
    rejectReady(new Error(`isolate host exited before it was ready (${describeExit(code, signal)})`));
    for (const call of [...calls.keys()]) finishCall(call, { ok: false, death });
    for (const o of opens.values()) o.reject(new Error(`isolate host died: ${deathDetail(death)}`));
    opens.clear();
    options.onExit(host, death);
  });

  const host: HostProcess = {
    pid,
    owner: options.owner,
    ready,
    get isReady() {
      // A host being killed takes no new call, though its exit may not have been seen yet.
      return isReady && !dead && killedFor === null;
    },
    get wasReady() {
      return isReady;
    },
    get dead() {
      return dead;
    },
    inflight: 0,
    inflightMb: 0,
    sessions: new Set(),
    idleSince: Date.now(),
    run(request) {
      if (dead) return Promise.resolve({ ok: false, death: killedFor ?? { kind: 'failed', detail: 'the isolate host has exited' } });
      const call = nextCall++;
      host.inflight++;
      const fetch = request.session === null ? request.fetch : (sessionFetch.get(request.session) ?? null);
      return new Promise<HostRunOutcome>((resolve) => {
        // The host's own timers come first; this one ends what they cannot.
        const timer = setTimeout(() => {
          const death: HostDeath = { kind: 'timeout', call };
          kill(death);
          // The overrunning call answers now; a host holding a large heap can take a while to exit.
          finishCall(call, { ok: false, death });
        }, request.limits.timeoutMs + KILL_GRACE_MS);
        // The host ends the cancelled call's isolate and answers at once; the kill timer above
        // still covers a host that cannot.
        const onCancel = () => send({ t: 'cancel', call });
        const detach = () => request.signal?.removeEventListener('abort', onCancel);
        calls.set(call, { resolve, fetch, maxBytes: request.fetchMaxBytes, signal: new AbortController(), timer, detach });
        if (request.signal?.aborted === true) queueMicrotask(onCancel);
        else request.signal?.addEventListener('abort', onCancel, { once: true });
        send({ t: 'run', call, session: request.session, source: request.source, limits: request.limits, fetch: fetch !== null, fetchMaxBytes: request.fetchMaxBytes });
      });
    },
    openSession(session, memoryMb, fetch) {
      if (dead) return Promise.reject(new Error('the isolate host has exited'));
      const call = nextCall++;
      sessionFetch.set(session, fetch);
      host.sessions.add(session);
      return new Promise<void>((resolve, reject) => {
        opens.set(call, { resolve, reject });
        send({ t: 'open', call, session, memoryMb, fetch: fetch !== null });
      }).catch((err: unknown) => {
        sessionFetch.delete(session);
        host.sessions.delete(session);
        throw err;
      });
    },
    closeSession(session) {
      sessionFetch.delete(session);
      if (host.sessions.delete(session)) host.idleSince = Date.now();
      send({ t: 'close', session });
    },
    kill,
  };
  return host;
}

/**
 * What a sandbox learns of a failed fetch: the message of a refusal Cordon meant it to see
 * (a CordonError, e.g. its egress share used up), else that it failed. An unexpected error's
 * message can name host files, addresses or internals; those stay on this side.
 */
function fetchErrorForSandbox(err: unknown): string {
  if (isCordonError(err)) return capString(err.message, 512);
  return 'failed on the host side';
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `exit code ${String(code)}`;
}

/** V8 and isolated-vm say "memory" in one of these ways when a heap ran out. */
const MEMORY_DEATH = /out of memory|heap limit|allocation failed|invalid array length|invalid string length|failed to terminate|memory limit/i;

function classifyDeath(killedFor: HostDeath | null, hitCap: boolean, code: number | null, signal: NodeJS.Signals | null, stderrTail: string, capMb: number): HostDeath {
  if (killedFor?.kind === 'timeout') return killedFor;
  if (hitCap || killedFor?.kind === 'oom') return { kind: 'oom', detail: `the isolate host passed its memory cap of ${capMb} MB` };
  const fatal = /CORDON_FATAL (.*)/.exec(stderrTail)?.[1] ?? '';
  if (MEMORY_DEATH.test(fatal) || MEMORY_DEATH.test(stderrTail)) return { kind: 'oom', detail: `V8 ran out of memory (${describeExit(code, signal)})` };
  if (killedFor !== null) return killedFor;
  if (code === 0 && signal === null) return { kind: 'retired', detail: 'the isolate host exited' };
  return { kind: 'failed', detail: `the isolate host ended unexpectedly (${describeExit(code, signal)}${fatal === '' ? '' : `: ${fatal.slice(0, 200)}`})` };
}

export function deathDetail(death: HostDeath): string {
  return death.kind === 'timeout' ? 'a call overran its wall-clock limit' : death.detail;
}

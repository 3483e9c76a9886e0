import ivm from 'isolated-vm';
import { capOutput, capString, checkFetchRequest, MAX_ERROR_MESSAGE, MAX_ERROR_NAME, type HostFetchRequest, type HostFetchResponse, type IsolateRunResult, type RunError, type RunLimits, type SupervisorMessage } from '../ipc-protocol.ts';
import { INSTALL_FETCH } from './isolate-fetch.ts';
import { createWarmIsolates, type PreparedIsolate } from './prepare-isolate.ts';
import { rewriteTopLevelAwait } from './top-level-await.ts';

/**
 * The body of an isolate host: runs calls in isolates, keeps session isolates,
 * and asks the supervisor (over IPC) to perform fetches. Everything that comes
 * out of an isolate is checked and capped here before it is sent on.
 */
export interface HostChannel {
  send(message: unknown): void;
}

export interface IsolateHost {
  handle(message: SupervisorMessage): void;
  close(): void;
}

/**
 * Sources up to this size are compiled on the host's thread: parsing (no tool
 * code runs) takes well under a millisecond, less than the hop to the isolate's
 * thread and back. Larger ones compile there, so this thread stays free.
 */
const SYNC_COMPILE_MAX_CHARS = 16 * 1024;

/** How far past its wall limit a run may go before the host disposes the isolate itself. */
const DISPOSE_GRACE_MS = 100;
const FILENAME = 'input.js';

interface Session {
  readonly prepared: PreparedIsolate;
  /** The call running now, to which the session's fetch is attributed; null between calls. */
  current: { call: number; signal: AbortSignal; maxBytes: number } | null;
}

export function createIsolateHost(channel: HostChannel, options: { warmIsolates: number; warmMemoryMb: number }): IsolateHost {
  const warm = createWarmIsolates(options.warmIsolates, options.warmMemoryMb);
  const sessions = new Map<string, Session>();
  const pendingFetches = new Map<number, { resolve: (r: HostFetchResponse) => void; reject: (e: Error) => void }>();
  /** How to end each running call's isolate, for 'cancel'. */
  const running = new Map<number, () => void>();
  let nextFetch = 0;

  /** Never throws synchronously and never leaves a rejection unobserved: isolated-vm awaits the promise. */
  function requestFetch(call: number, raw: unknown, signal: AbortSignal, maxBytes: number): Promise<HostFetchResponse> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(bridgeError('fetch: the call has finished'));
      const request = checkFetchRequest(raw, maxBytes);
      if (typeof request === 'string') return reject(bridgeError(`fetch: ${request}`));
      const id = nextFetch++;
      const onAbort = () => {
        pendingFetches.delete(id);
        reject(bridgeError('fetch: the call has finished'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      pendingFetches.set(id, {
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort);
          // What crosses in is bounded by the isolate's own memory, whatever the upstream sent.
          if (r.body.byteLength > maxBytes) reject(bridgeError(`fetch: the response is larger than ${maxBytes} bytes`));
          else resolve(r);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      channel.send({ t: 'fetch', call, fetch: id, request: request satisfies HostFetchRequest });
    });
  }

  async function installFetch(prepared: PreparedIsolate, bridge: (raw: unknown) => Promise<HostFetchResponse>): Promise<void> {
    // The one door from this process into an isolate: whatever fails on this side, sync or
    // async, crosses as a fresh error with name and message only (isolateError).
    const door = (raw: unknown): Promise<HostFetchResponse> => {
      try {
        return bridge(raw).catch((err: unknown) => Promise.reject(isolateError(err)));
      } catch (err) {
        return Promise.reject(isolateError(err));
      }
    };
    await prepared.context.evalClosure(INSTALL_FETCH, [new ivm.Reference(door)], { timeout: 1000 });
  }

  async function open(call: number, session: string, memoryMb: number, withFetch: boolean): Promise<void> {
    try {
      if (sessions.has(session)) throw new Error('session already open');
      const prepared = await warm.take(memoryMb);
      const entry: Session = { prepared, current: null };
      if (withFetch) {
        await installFetch(prepared, (raw) => {
          const c = entry.current;
          if (c === null) return Promise.reject(bridgeError('fetch: no call is running in this sandbox'));
          return requestFetch(c.call, raw, c.signal, c.maxBytes);
        });
      }
      sessions.set(session, entry);
      channel.send({ t: 'opened', call, error: null });
    } catch (err) {
      channel.send({ t: 'opened', call, error: err instanceof Error ? err.message : String(err) });
    }
  }

  async function run(m: Extract<SupervisorMessage, { t: 'run' }>): Promise<IsolateRunResult> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const session = m.session === null ? null : (sessions.get(m.session) ?? null);
    if (m.session !== null && session === null) {
      return { status: 'error', error: { name: 'SandboxError', message: 'this session sandbox has ended' }, stdout: '', stderr: '', truncated: false, durationMs: 0 };
    }
    const ended = new AbortController();
    // A cancel may come while the isolate is still being made: it is kept and applied then.
    let cancelled = false;
    let cancel = () => {
      cancelled = true;
    };
    running.set(m.call, () => cancel());
    let prepared: PreparedIsolate;
    if (session !== null) {
      prepared = session.prepared;
      session.current = { call: m.call, signal: ended.signal, maxBytes: m.fetchMaxBytes };
    } else {
      try {
        prepared = await warm.take(m.limits.memoryMb);
        if (m.fetch) await installFetch(prepared, (raw) => requestFetch(m.call, raw, ended.signal, m.fetchMaxBytes));
      } catch (err) {
        running.delete(m.call);
        throw err;
      }
    }
    const { isolate } = prepared;
    const limits = m.limits;
    let killedFor: 'wall' | 'cpu' | 'cancel' | null = null;
    // Set once isolated-vm has stopped the code itself: from then on only the output is read.
    let stopped = false;
    const kill = (why: 'wall' | 'cpu' | 'cancel') => {
      if (killedFor === null && !stopped && !isolate.isDisposed) {
        killedFor = why;
        isolate.dispose();
      }
    };
    // Its caller went away: the isolate ends as it would on an overrun, and only this call's.
    cancel = () => kill('cancel');
    if (cancelled) kill('cancel');
    // isolated-vm's own timeout covers synchronous code; these cover awaited promises and CPU time.
    // setImmediate runs after this loop turn's I/O: an answer isolated-vm has already posted
    // (a timeout with the output intact) is handled before the isolate is disposed under it.
    const wallTimer = setTimeout(() => setImmediate(() => kill('wall')), limits.timeoutMs + DISPOSE_GRACE_MS);
    // One thread per isolate: CPU time never exceeds wall time, so a CPU limit at or above
    // the wall limit can never trip and is not watched.
    const cpuLimitNs = BigInt(limits.cpuTimeMs) * 1_000_000n;
    const cpuTimer =
      limits.cpuTimeMs < limits.timeoutMs
        ? setInterval(() => {
            if (!isolate.isDisposed && isolate.cpuTime > cpuLimitNs) kill('cpu');
          }, Math.max(5, Math.min(50, Math.floor(limits.cpuTimeMs / 4))))
        : undefined;
    const remaining = () => Math.max(1, Math.floor(limits.timeoutMs - elapsed()));
    let firstLineOffset = 0;
    try {
      prepared.begin.applySync(undefined, [limits.outputBytes], { timeout: 100 });
      let script: ivm.Script;
      try {
        script = await compile(isolate, m.source);
      } catch (err) {
        const message = err instanceof Error ? err.message : '';
        // A classic script reads a top-level `await` as an identifier or refuses it, depending on
        // what follows: any source that mentions it gets a second chance as top-level-await code.
        if (!/\bawait\b/.test(m.source)) return syntaxError(message, elapsed());
        const rewritten = rewriteTopLevelAwait(m.source);
        if (!rewritten.ok) {
          if (/await is only valid/.test(message)) return { status: 'error', error: rewritten.error, stdout: '', stderr: '', truncated: false, durationMs: elapsed() };
          return syntaxError(message, elapsed());
        }
        firstLineOffset = rewritten.firstLineOffset;
        script = await compile(isolate, rewritten.code);
      }
      let completion: ivm.Reference<unknown>;
      try {
        completion = (await script.run(prepared.context, { reference: true, timeout: remaining() })) as ivm.Reference<unknown>;
      } catch (err) {
        if (killedFor !== null || isolate.isDisposed) throw err;
        if (/timed out/i.test(errorMessage(err))) {
          stopped = true;
          throw err;
        }
        // The tool's code threw: isolated-vm handed us a copy. Its fields are capped before use.
        const output = await flushOutput(prepared);
        return { status: 'error', error: fromThrown(err, firstLineOffset, m.fetch), ...capOutput(output, limits.outputBytes), durationMs: elapsed() };
      } finally {
        script.release();
      }
      const raw = await prepared.finish.apply(undefined, [false, completion.derefInto(), limits.outputBytes, limits.resultBytes], {
        arguments: { copy: true },
        result: { copy: true, promise: true },
        timeout: remaining(),
      });
      completion.release();
      return fromFinish(raw, elapsed(), limits, firstLineOffset, m.fetch);
    } catch (err) {
      const durationMs = elapsed();
      const reason = errorMessage(err);
      if (killedFor === 'cancel') {
        return { status: 'error', error: { name: 'CancelledError', message: 'the call was cancelled: its client went away' }, stdout: '', stderr: '', truncated: false, durationMs };
      }
      if (killedFor !== null || /timed out/i.test(reason)) {
        if (killedFor === null) stopped = true;
        const output = killedFor === null ? await flushOutput(prepared) : { stdout: '', stderr: '', truncated: false };
        const message = killedFor === 'cpu' ? `CPU time limit of ${limits.cpuTimeMs} ms exceeded` : `wall-clock limit of ${limits.timeoutMs} ms exceeded`;
        return { status: 'timeout', error: { name: 'TimeoutError', message }, ...capOutput(output, limits.outputBytes), durationMs };
      }
      if (session !== null && m.session !== null && !sessions.has(m.session)) {
        return { status: 'error', error: { name: 'SandboxError', message: 'the sandbox was deleted while this call ran' }, stdout: '', stderr: '', truncated: false, durationMs };
      }
      if (isolate.isDisposed || /memory limit/i.test(reason)) {
        return { status: 'oom', stdout: '', stderr: '', truncated: false, durationMs, error: { name: 'RangeError', message: `isolate exceeded its memory limit of ${limits.memoryMb} MB` } };
      }
      return { status: 'error', error: { name: 'SandboxError', message: `the isolate failed outside the tool code: ${capString(reason, 512)}` }, stdout: '', stderr: '', truncated: false, durationMs };
    } finally {
      running.delete(m.call);
      ended.abort();
      clearTimeout(wallTimer);
      clearInterval(cpuTimer);
      if (session !== null) {
        session.current = null;
        // A session whose isolate was disposed (async timeout, memory) has ended.
        if (isolate.isDisposed && m.session !== null) sessions.delete(m.session);
      } else {
        // Disposal is off the answer's path; a per-call isolate is never used again either way.
        setImmediate(() => {
          if (!isolate.isDisposed) isolate.dispose();
        });
      }
    }
  }

  return {
    handle(m) {
      switch (m.t) {
        case 'run':
          run(m)
            .then(
              (result) => channel.send({ t: 'result', call: m.call, result, sessionEnded: m.session !== null && !sessions.has(m.session) }),
              (err: unknown) =>
                channel.send({ t: 'result', call: m.call, sessionEnded: false, result: { status: 'error', error: { name: 'SandboxError', message: capString(errorMessage(err), 512) }, stdout: '', stderr: '', truncated: false, durationMs: 0 } }),
            )
            // The next warm isolate is made once this call has answered, never while it runs.
            .finally(() => warm.refill());
          return;
        case 'open':
          void open(m.call, m.session, m.memoryMb, m.fetch).finally(() => warm.refill());
          return;
        case 'close': {
          const s = sessions.get(m.session);
          sessions.delete(m.session);
          if (s !== undefined && !s.prepared.isolate.isDisposed) s.prepared.isolate.dispose();
          return;
        }
        case 'cancel':
          running.get(m.call)?.();
          return;
        case 'fetched': {
          const pending = pendingFetches.get(m.fetch);
          if (pending === undefined) return;
          pendingFetches.delete(m.fetch);
          if (m.response !== null) pending.resolve(m.response);
          else pending.reject(bridgeError(`fetch: ${m.error ?? 'failed'}`));
          return;
        }
      }
    },
    close() {
      warm.close();
      for (const s of sessions.values()) if (!s.prepared.isolate.isDisposed) s.prepared.isolate.dispose();
      sessions.clear();
    },
  };
}


function compile(isolate: ivm.Isolate, source: string): ivm.Script | Promise<ivm.Script> {
  return source.length <= SYNC_COMPILE_MAX_CHARS ? isolate.compileScriptSync(source, { filename: FILENAME }) : isolate.compileScript(source, { filename: FILENAME });
}

/**
 * An error for tool code: name and message only. isolated-vm copies an error's stack into
 * the isolate, and a host stack names host files and lines the sandbox has no business seeing.
 */
function bridgeError(message: string): TypeError {
  const e = new TypeError(message);
  e.stack = `TypeError: ${message}`;
  bridgeErrors.add(e);
  return e;
}

/** The errors bridgeError made: they may cross as they are. */
const bridgeErrors = new WeakSet<Error>();

/** Our own bridge errors pass as they are; anything else is copied to name and message, capped. */
function isolateError(err: unknown): TypeError {
  if (err instanceof TypeError && bridgeErrors.has(err)) return err;
  return bridgeError(`fetch: ${capString(errorMessage(err), 512) || 'failed on the host side'}`);
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return typeof err.message === 'string' ? err.message : '';
  return typeof err === 'string' ? err : '';
}

async function flushOutput(prepared: PreparedIsolate): Promise<{ stdout: string; stderr: string; truncated: boolean }> {
  try {
    const raw = (await prepared.flush.apply(undefined, [], { result: { copy: true }, timeout: 100 })) as Record<string, unknown>;
    return { stdout: typeof raw.stdout === 'string' ? raw.stdout : '', stderr: typeof raw.stderr === 'string' ? raw.stderr : '', truncated: raw.truncated === true };
  } catch {
    // The isolate is being torn down; its output is lost, which the status already explains.
    return { stdout: '', stderr: '', truncated: false };
  }
}

/** `Unexpected token ')' [input.js:3:5]` → message and position. */
function syntaxError(message: string, durationMs: number): IsolateRunResult {
  const m = /^(.*) \[input\.js:(\d+):(\d+)\]$/s.exec(message);
  const error: RunError = m === null ? { name: 'SyntaxError', message: capString(message, MAX_ERROR_MESSAGE) } : { name: 'SyntaxError', message: capString(m[1], MAX_ERROR_MESSAGE), line: Number(m[2]), column: Number(m[3]) };
  return { status: 'error', error, stdout: '', stderr: '', truncated: false, durationMs };
}

/** The first frame in the tool's own source, from a stack trace. */
function positionOf(stack: unknown, firstLineOffset: number): { line?: number; column?: number } {
  if (typeof stack !== 'string') return {};
  const m = /input\.js:(\d+):(\d+)/.exec(stack.length > 4096 ? stack.slice(0, 4096) : stack);
  if (m === null) return {};
  const line = Number(m[1]);
  const column = Number(m[2]) - (line === 1 ? firstLineOffset : 0);
  return column > 0 ? { line, column } : { line };
}

function withHint(name: string, message: string, hasFetch: boolean): string {
  if (!hasFetch && name === 'ReferenceError' && message === 'fetch is not defined') {
    return 'fetch is not defined: this sandbox has no egress policy, so it has no network at all (an operator grants one per tool or agent in the config, or per sandbox profile)';
  }
  return message;
}

function fromThrown(err: unknown, firstLineOffset: number, hasFetch: boolean): RunError {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as { name?: unknown; message?: unknown; stack?: unknown };
  const name = capString(e.name, MAX_ERROR_NAME) || 'Error';
  return { name, message: capString(withHint(name, capString(e.message, MAX_ERROR_MESSAGE), hasFetch), MAX_ERROR_MESSAGE), ...positionOf(e.stack, firstLineOffset) };
}

/** The bootstrap's answer is untrusted: check every field's type and size. */
function fromFinish(raw: unknown, durationMs: number, limits: RunLimits, firstLineOffset: number, hasFetch: boolean): IsolateRunResult {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const output = capOutput({ stdout: typeof r.stdout === 'string' ? r.stdout : '', stderr: typeof r.stderr === 'string' ? r.stderr : '', truncated: r.truncated === true }, limits.outputBytes);
  if (r.status === 'error') return { status: 'error', error: fromThrown(r.error, firstLineOffset, hasFetch), ...output, durationMs };
  if (r.status !== 'ok') return { status: 'error', error: { name: 'ResultError', message: 'the isolate returned an unexpected result' }, ...output, durationMs };
  if (r.value === undefined) {
    if (typeof r.omitted === 'number') {
      return { status: 'ok', ...output, truncated: true, stderr: output.stderr + `cordon: result value omitted: over ${limits.resultBytes} bytes\n`, durationMs };
    }
    return { status: 'ok', ...output, durationMs };
  }
  if (typeof r.value !== 'string') return { status: 'error', error: { name: 'ResultError', message: 'the isolate returned an unexpected result' }, ...output, durationMs };
  if (r.value.length > limits.resultBytes || Buffer.byteLength(r.value) > limits.resultBytes) {
    return { status: 'ok', ...output, truncated: true, stderr: output.stderr + `cordon: result value omitted: over ${limits.resultBytes} bytes\n`, durationMs };
  }
  // The value stays JSON text until the supervisor parses it: one parse, on the side that needs it.
  return { status: 'ok', value: r.value, ...output, durationMs };
}

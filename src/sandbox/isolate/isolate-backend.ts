import { CordonError } from '../../core/errors.ts';
import { depthOf } from '../../core/json-depth.ts';
import type { IsolateConfig } from '../../config/config-schema.ts';
import { createConcurrencyLimiter } from '../concurrency-limiter.ts';
import ivm from 'isolated-vm';
import { INSTALL_FETCH, type HostFetch, type HostFetchRequest } from './isolate-fetch.ts';
import { createIsolatePool, type PreparedIsolate } from './isolate-pool.ts';

export type RunStatus = 'ok' | 'error' | 'timeout' | 'oom';

export interface IsolateRunRequest {
  readonly sandboxId: string;
  readonly source: string;
  readonly memoryMb: number;
  /** Wall-clock limit for the whole run, including awaited promises. */
  readonly timeoutMs: number;
  /** CPU time the isolate may use; at most timeoutMs. */
  readonly cpuTimeMs: number;
  /** The sandbox's egress, if it has any: installed as `fetch` inside the isolate. */
  readonly fetch?: HostFetch;
}

export interface IsolateRunResult {
  readonly status: RunStatus;
  readonly value?: unknown;
  readonly error?: { readonly name: string; readonly message: string };
  readonly stdout: string;
  readonly stderr: string;
  readonly truncated: boolean;
  readonly durationMs: number;
}

export interface IsolateBackend {
  run(request: IsolateRunRequest): Promise<IsolateRunResult>;
  stats(): { active: number; queued: number };
  close(): void;
}

/** Deepest result value returned; deeper is reported as a ResultError. */
const MAX_RESULT_DEPTH = 256;

/** How far past its limit a run may go before the host disposes the isolate itself. */
const HARD_KILL_GRACE_MS = 50;

export function createIsolateBackend(config: IsolateConfig, onPoolError: (err: unknown) => void): IsolateBackend {
  const limiter = createConcurrencyLimiter(config.maxConcurrent, config.maxQueued);
  const pool = createIsolatePool(config.warmPoolSize, config.defaultMemoryMb, onPoolError);

  async function runOnce(request: IsolateRunRequest): Promise<IsolateRunResult> {
    let prepared: PreparedIsolate;
    try {
      prepared = await pool.take(request.memoryMb);
    } catch (err) {
      throw new CordonError('SANDBOX_FAILED', 'could not create an isolate', { cause: err, details: { sandbox: request.sandboxId } });
    }
    const { isolate } = prepared;
    const runEnded = new AbortController();
    if (request.fetch !== undefined) {
      try {
        await installFetch(prepared, request.fetch, runEnded.signal);
      } catch (err) {
        if (!isolate.isDisposed) isolate.dispose();
        throw new CordonError('SANDBOX_FAILED', 'could not install fetch in the isolate', { cause: err, details: { sandbox: request.sandboxId } });
      }
    }
    const started = performance.now();
    let killedFor: 'wall' | 'cpu' | null = null;
    const kill = (why: 'wall' | 'cpu') => {
      if (killedFor === null && !isolate.isDisposed) {
        killedFor = why;
        isolate.dispose();
      }
    };
    // isolated-vm's own timeout covers synchronous code; these cover awaited promises and CPU time.
    const wallTimer = setTimeout(() => kill('wall'), request.timeoutMs + HARD_KILL_GRACE_MS);
    // An isolate runs on one thread, so its CPU time never exceeds its wall time: a CPU
    // limit at or above the wall limit can never trip, and watching it would only race
    // isolated-vm's own timeout (which, unlike disposal, keeps the output written so far).
    const cpuLimitNs = BigInt(request.cpuTimeMs) * 1_000_000n;
    const cpuTimer =
      request.cpuTimeMs < request.timeoutMs
        ? setInterval(() => {
            if (!isolate.isDisposed && isolate.cpuTime > cpuLimitNs) kill('cpu');
          }, Math.max(5, Math.min(50, Math.floor(request.cpuTimeMs / 4))))
        : undefined;

    const limits = { outputLimitBytes: config.outputLimitBytes, resultLimitBytes: config.resultLimitBytes };
    try {
      const raw = await prepared.run.apply(undefined, [request.source, config.outputLimitBytes], {
        arguments: { copy: true },
        result: { copy: true, promise: true },
        timeout: request.timeoutMs,
      });
      return fromRunResult(raw, performance.now() - started, limits);
    } catch (err) {
      const durationMs = performance.now() - started;
      const reason = err instanceof Error ? err.message : String(err);
      if (killedFor !== null || /timed out/i.test(reason)) {
        const output = killedFor === null ? await flushOutput(prepared) : { stdout: '', stderr: '', truncated: false };
        const message = killedFor === 'cpu' ? `CPU time limit of ${request.cpuTimeMs} ms exceeded` : `wall-clock limit of ${request.timeoutMs} ms exceeded`;
        return { status: 'timeout', error: { name: 'TimeoutError', message }, ...capOutput(output, limits.outputLimitBytes), durationMs };
      }
      if (isolate.isDisposed || /memory limit/i.test(reason)) {
        return { status: 'oom', stdout: '', stderr: '', truncated: false, durationMs, error: { name: 'RangeError', message: `isolate exceeded its memory limit of ${request.memoryMb} MB` } };
      }
      throw new CordonError('SANDBOX_FAILED', 'the isolate failed outside the tool code', { cause: err, details: { sandbox: request.sandboxId } });
    } finally {
      runEnded.abort();
      clearTimeout(wallTimer);
      clearInterval(cpuTimer);
      // Disposal is not on the caller's path; the isolate is never used again either way.
      setImmediate(() => {
        if (!isolate.isDisposed) isolate.dispose();
      });
    }
  }

  return {
    run: (request) => limiter.run(() => runOnce(request)),
    stats: () => ({ active: limiter.active, queued: limiter.queued }),
    close: () => pool.close(),
  };
}

/**
 * Grants the isolate one callback: a reference to a host function bound to this
 * sandbox's fetch. Arguments arrive copied; they are re-checked here because the
 * isolate is untrusted.
 */
async function installFetch(prepared: PreparedIsolate, hostFetch: HostFetch, signal: AbortSignal): Promise<void> {
  const bridge = async (raw: unknown) => {
    if (signal.aborted) throw new Error('the sandbox has finished');
    return hostFetch(checkFetchRequest(raw), signal);
  };
  await prepared.context.evalClosure(INSTALL_FETCH, [new ivm.Reference(bridge)], { timeout: 1000 });
}

const MAX_FETCH_HEADERS = 256;

function checkFetchRequest(raw: unknown): HostFetchRequest {
  const r = raw as Partial<Record<keyof HostFetchRequest, unknown>> | null;
  const fail = (why: string): never => {
    throw new TypeError(`fetch: ${why}`);
  };
  if (typeof r !== 'object' || r === null) return fail('bad request');
  if (typeof r.url !== 'string' || r.url.length > 16_384) return fail('url must be a string of at most 16384 characters');
  if (typeof r.method !== 'string' || !/^[A-Z]{1,16}$/.test(r.method)) return fail('method must be an HTTP method name');
  if (!Array.isArray(r.headers) || r.headers.length > MAX_FETCH_HEADERS) return fail(`at most ${MAX_FETCH_HEADERS} headers`);
  const headers: [string, string][] = [];
  for (const h of r.headers as unknown[]) {
    if (!Array.isArray(h) || typeof h[0] !== 'string' || typeof h[1] !== 'string') return fail('headers must be name/value strings');
    headers.push([h[0], h[1]]);
  }
  const body = r.body === null || typeof r.body === 'string' || r.body instanceof Uint8Array ? r.body : fail('body must be a string or bytes');
  const redirect = r.redirect === 'manual' || r.redirect === 'error' ? r.redirect : 'follow';
  return { url: r.url, method: r.method, headers, body, redirect };
}

async function flushOutput(prepared: PreparedIsolate): Promise<{ stdout: string; stderr: string; truncated: boolean }> {
  try {
    const raw = await prepared.flush.apply(undefined, [], { result: { copy: true }, timeout: 100 });
    if (Array.isArray(raw)) return { stdout: asString(raw[0]), stderr: asString(raw[1]), truncated: raw[2] === true };
  } catch {
    // The isolate is being torn down; its output is lost, which the status already explains.
  }
  return { stdout: '', stderr: '', truncated: false };
}

function asString(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The isolate's answer is untrusted: check every field's type and size. */
function fromRunResult(raw: unknown, durationMs: number, limits: { outputLimitBytes: number; resultLimitBytes: number }): IsolateRunResult {
  if (!Array.isArray(raw) || (raw[0] !== 'ok' && raw[0] !== 'error')) {
    throw new CordonError('SANDBOX_FAILED', 'the isolate returned an unexpected result');
  }
  const output = capOutput({ stdout: asString(raw[3]), stderr: asString(raw[4]), truncated: raw[5] === true }, limits.outputLimitBytes);
  if (raw[0] === 'error') {
    return { status: 'error', error: { name: asString(raw[1]) || 'Error', message: asString(raw[2]) }, ...output, durationMs };
  }
  const json = raw[1];
  if (typeof json !== 'string') return { status: 'ok', ...output, durationMs };
  if (Buffer.byteLength(json) > limits.resultLimitBytes) {
    return { status: 'ok', ...output, truncated: true, durationMs, stderr: output.stderr + `cordon: result value omitted: over ${limits.resultLimitBytes} bytes\n` };
  }
  const value = JSON.parse(json) as unknown;
  // The host re-serialises the value (API answer, audit hash): a value nested deeper than we can
  // walk would turn the tool's result into a server error.
  if (depthOf(value, MAX_RESULT_DEPTH) > MAX_RESULT_DEPTH) {
    return { status: 'error', error: { name: 'ResultError', message: `the result value nests deeper than ${MAX_RESULT_DEPTH} levels` }, ...output, durationMs };
  }
  return { status: 'ok', value, ...output, durationMs };
}

function capOutput(o: { stdout: string; stderr: string; truncated: boolean }, limitBytes: number): { stdout: string; stderr: string; truncated: boolean } {
  const outBytes = Buffer.byteLength(o.stdout);
  if (outBytes + Buffer.byteLength(o.stderr) <= limitBytes) return o;
  const stdout = truncateUtf8(o.stdout, limitBytes);
  const stderr = truncateUtf8(o.stderr, Math.max(0, limitBytes - Buffer.byteLength(stdout)));
  return { stdout, stderr, truncated: true };
}

function truncateUtf8(s: string, maxBytes: number): string {
  const buf = Buffer.from(s);
  if (buf.length <= maxBytes) return s;
  // Drop a partial trailing character rather than emit U+FFFD.
  return buf.subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
}

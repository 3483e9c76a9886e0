/**
 * Messages between the runner (the supervisor) and an isolate host (a child
 * process running isolated-vm). Both sides are our code, but a host runs
 * hostile programs: the supervisor checks the shape and size of everything a
 * host sends before it uses it (`parseHostMessage`), exactly as the host checks
 * what comes out of an isolate.
 */

import type { HostFetchRequest, HostFetchResponse } from '../sandbox-fetch.ts';

export type { HostFetchRequest, HostFetchResponse };

export type RunStatus = 'ok' | 'error' | 'timeout' | 'oom';

export interface RunError {
  readonly name: string;
  readonly message: string;
  /** 1-based position in the tool's source, when the error points into it. */
  readonly line?: number;
  readonly column?: number;
}

export interface IsolateRunResult {
  readonly status: RunStatus;
  readonly value?: unknown;
  readonly error?: RunError;
  readonly stdout: string;
  readonly stderr: string;
  readonly truncated: boolean;
  readonly durationMs: number;
}

export interface RunLimits {
  readonly memoryMb: number;
  readonly timeoutMs: number;
  readonly cpuTimeMs: number;
  readonly outputBytes: number;
  readonly resultBytes: number;
}

// ---- supervisor → host -------------------------------------------------------

export type SupervisorMessage =
  | {
      readonly t: 'run';
      readonly call: number;
      /** A live session isolate to run in, or null for a fresh isolate used once. */
      readonly session: string | null;
      readonly source: string;
      readonly limits: RunLimits;
      readonly fetch: boolean;
      readonly fetchMaxBytes: number;
    }
  | { readonly t: 'open'; readonly call: number; readonly session: string; readonly memoryMb: number; readonly fetch: boolean }
  | { readonly t: 'close'; readonly session: string }
  /** The caller went away: end this call's isolate as an overrun would, and nothing else. */
  | { readonly t: 'cancel'; readonly call: number }
  | { readonly t: 'fetched'; readonly call: number; readonly fetch: number; readonly response: HostFetchResponse | null; readonly error: string | null };

// ---- host → supervisor -------------------------------------------------------

export type HostMessage =
  | { readonly t: 'ready' }
  | { readonly t: 'result'; readonly call: number; readonly result: IsolateRunResult; readonly sessionEnded: boolean }
  | { readonly t: 'opened'; readonly call: number; readonly error: string | null }
  | { readonly t: 'fetch'; readonly call: number; readonly fetch: number; readonly request: HostFetchRequest };

export const MAX_ERROR_NAME = 128;
export const MAX_ERROR_MESSAGE = 4096;
const MAX_URL = 16_384;
const MAX_HEADERS = 256;
const MAX_HEADER_BYTES = 64 * 1024;

/** Upper bounds the supervisor applies whatever the host claims. */
export interface MessageCaps {
  readonly outputBytes: number;
  readonly resultBytes: number;
  readonly requestBytes: number;
}

/**
 * Checks one message from a host. Returns null for anything malformed; the
 * caller treats a malformed message as a failed host. Strings are capped here,
 * so nothing larger than the limits reaches the runner's answer or the audit log.
 */
export function parseHostMessage(raw: unknown, caps: MessageCaps): HostMessage | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const m = raw as Record<string, unknown>;
  switch (m.t) {
    case 'ready':
      return { t: 'ready' };
    case 'opened':
      if (!isCallId(m.call)) return null;
      return { t: 'opened', call: m.call, error: m.error === null ? null : capString(m.error, MAX_ERROR_MESSAGE) };
    case 'result': {
      if (!isCallId(m.call)) return null;
      const result = checkResult(m.result, caps);
      return result === null ? null : { t: 'result', call: m.call, result, sessionEnded: m.sessionEnded === true };
    }
    case 'fetch': {
      if (!isCallId(m.call) || !isCallId(m.fetch)) return null;
      const request = checkFetchRequest(m.request, caps.requestBytes);
      return typeof request === 'string' ? null : { t: 'fetch', call: m.call, fetch: m.fetch, request };
    }
    default:
      return null;
  }
}

function isCallId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function capString(v: unknown, max: number): string {
  if (typeof v !== 'string') return '';
  return v.length <= max ? v : v.slice(0, max) + '…';
}

function checkResult(raw: unknown, caps: MessageCaps): IsolateRunResult | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (r.status !== 'ok' && r.status !== 'error' && r.status !== 'timeout' && r.status !== 'oom') return null;
  const output = capOutput({ stdout: typeof r.stdout === 'string' ? r.stdout : '', stderr: typeof r.stderr === 'string' ? r.stderr : '', truncated: r.truncated === true }, caps.outputBytes);
  const durationMs = typeof r.durationMs === 'number' && Number.isFinite(r.durationMs) && r.durationMs >= 0 ? r.durationMs : 0;
  const error = checkError(r.error);
  // The value crossed as JSON text, measured against the cap before it is parsed.
  let value: unknown = undefined;
  if (r.status === 'ok' && r.value !== undefined) {
    if (typeof r.value !== 'string' || r.value.length > caps.resultBytes) return null;
    try {
      value = JSON.parse(r.value);
    } catch {
      return null;
    }
  }
  return { status: r.status, ...(value === undefined ? {} : { value }), ...(error === undefined ? {} : { error }), ...output, durationMs };
}

function checkError(raw: unknown): RunError | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const e = raw as Record<string, unknown>;
  const pos = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);
  const line = pos(e.line);
  const column = pos(e.column);
  return {
    name: capString(e.name, MAX_ERROR_NAME) || 'Error',
    message: capString(e.message, MAX_ERROR_MESSAGE),
    ...(line === undefined ? {} : { line }),
    ...(column === undefined ? {} : { column }),
  };
}

/** Checks a fetch request from a sandbox. Returns the reason as a string when it is refused. */
export function checkFetchRequest(raw: unknown, maxBodyBytes: number): HostFetchRequest | string {
  if (typeof raw !== 'object' || raw === null) return 'bad request';
  const r = raw as Record<string, unknown>;
  if (typeof r.url !== 'string' || r.url.length === 0 || r.url.length > MAX_URL) return `url must be a string of 1 to ${MAX_URL} characters`;
  if (typeof r.method !== 'string' || !/^[A-Z]{1,16}$/.test(r.method)) return 'method must be an HTTP method name (letters only, at most 16)';
  if (!Array.isArray(r.headers) || r.headers.length > MAX_HEADERS) return `headers: at most ${MAX_HEADERS}`;
  const headers: [string, string][] = [];
  let headerBytes = 0;
  for (const h of r.headers as unknown[]) {
    if (!Array.isArray(h) || typeof h[0] !== 'string' || typeof h[1] !== 'string') return 'headers must be name/value strings';
    headerBytes += h[0].length + h[1].length;
    if (headerBytes > MAX_HEADER_BYTES) return `headers: at most ${MAX_HEADER_BYTES} bytes in all`;
    headers.push([h[0], h[1]]);
  }
  const body = r.body;
  if (body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) return 'body must be a string or bytes';
  const bodyBytes = body === null ? 0 : typeof body === 'string' ? body.length : body.byteLength;
  if (bodyBytes > maxBodyBytes) return `body: at most ${maxBodyBytes} bytes`;
  const redirect = r.redirect === 'manual' || r.redirect === 'error' ? r.redirect : 'follow';
  return { url: r.url, method: r.method, headers, body, redirect };
}

export function capOutput(o: { stdout: string; stderr: string; truncated: boolean }, limitBytes: number): { stdout: string; stderr: string; truncated: boolean } {
  const outBytes = Buffer.byteLength(o.stdout);
  if (outBytes + Buffer.byteLength(o.stderr) <= limitBytes) return o;
  const stdout = truncateUtf8(o.stdout, limitBytes);
  const stderr = truncateUtf8(o.stderr, Math.max(0, limitBytes - Buffer.byteLength(stdout)));
  return { stdout, stderr, truncated: true };
}

function truncateUtf8(s: string, maxBytes: number): string {
  // Cheap bound first: a string of n UTF-16 units encodes to at least n bytes.
  const head = s.length > maxBytes ? s.slice(0, maxBytes) : s;
  const buf = Buffer.from(head);
  if (buf.length <= maxBytes) return head;
  // Drop a partial trailing character rather than emit U+FFFD.
  return buf.subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
}

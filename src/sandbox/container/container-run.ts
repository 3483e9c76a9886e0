import type { CodeRunRequest, CodeRunResult, RunStatus } from '../sandbox-backend.ts';

/** How much a reply may hold for a request: its output in base64, its value JSON-escaped, and room for the rest. */
export function maxReplyBytes(request: Pick<CodeRunRequest, 'outputBytes' | 'resultBytes'>): number {
  return Math.ceil((request.outputBytes * 4) / 3) + 8 + request.resultBytes * 6 + 64 * 1024;
}

const STATUSES: ReadonlySet<string> = new Set<RunStatus>(['ok', 'error', 'timeout', 'oom']);
const decoder = new TextDecoder('utf-8', { fatal: false });
const MAX_ERROR_NAME = 128;
const MAX_ERROR_MESSAGE = 4096;

/** The sandbox said something the runner will not take; the container is ended for it. */
export class ReplyError extends Error {}

/** Standard base64, padded: what the executor sends bytes as. */
export function isBase64(v: unknown): v is string {
  return typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v) && v.length % 4 === 0;
}

/**
 * The executor's reply to a run, checked and capped here: the executor runs as the
 * sandbox's user, so anything in it may be forged by the code it ran. Output past the
 * call's cap is cut (and marked), a value past the result cap is cut, anything of the
 * wrong shape throws ReplyError. The duration is the runner's own measure.
 */
export function parseRunReply(reply: Record<string, unknown>, request: Pick<CodeRunRequest, 'outputBytes' | 'resultBytes'>, durationMs: number): CodeRunResult {
  const { status, stdout, stderr, truncated, value, error, exitCode } = reply;
  if (typeof status !== 'string' || !STATUSES.has(status)) throw new ReplyError('a run reply needs a known status');
  if (!isBase64(stdout) || !isBase64(stderr)) throw new ReplyError('stdout and stderr must be base64');
  let out = Buffer.from(stdout, 'base64');
  let err = Buffer.from(stderr, 'base64');
  let cut = truncated === true;
  if (out.length > request.outputBytes) {
    out = out.subarray(0, request.outputBytes);
    cut = true;
  }
  if (out.length + err.length > request.outputBytes) {
    err = err.subarray(0, request.outputBytes - out.length);
    cut = true;
  }
  const result: { -readonly [K in keyof CodeRunResult]: CodeRunResult[K] } = {
    status: status as RunStatus,
    stdout: decoder.decode(out),
    stderr: decoder.decode(err),
    truncated: cut,
    durationMs,
  };
  if (value !== undefined) {
    if (typeof value !== 'string') throw new ReplyError('a value must be a string (its repr)');
    result.value = value.length > request.resultBytes ? value.slice(0, request.resultBytes) : value;
  }
  if (error !== undefined) {
    if (typeof error !== 'object' || error === null || Array.isArray(error)) throw new ReplyError('an error must be an object');
    const { name, message, line } = error as Record<string, unknown>;
    if (typeof name !== 'string' || typeof message !== 'string') throw new ReplyError('an error needs a name and a message');
    result.error = {
      name: name.slice(0, MAX_ERROR_NAME),
      message: message.slice(0, MAX_ERROR_MESSAGE),
      ...(Number.isSafeInteger(line) && (line as number) > 0 ? { line: line as number } : {}),
    };
  }
  if (exitCode !== undefined) {
    if (!Number.isInteger(exitCode) || (exitCode as number) < 0 || (exitCode as number) > 255) throw new ReplyError('an exit code is 0..255');
    result.exitCode = exitCode as number;
  }
  return result;
}

/** A result the runner makes itself: the container was ended (timeout), died (oom), or broke the protocol. */
export function endedResult(status: RunStatus, name: string, message: string, durationMs: number): CodeRunResult {
  return { status, error: { name, message }, stdout: '', stderr: '', truncated: false, durationMs };
}

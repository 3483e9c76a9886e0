import type { ErrorCode } from '../core/errors.ts';

/** The codes a Cordon server answers with (src/core/errors.ts): one per refusal or failure. */
export type CordonErrorCode = ErrorCode;

/**
 * Codes the client itself raises, when there is no Cordon answer to read. One doc line each,
 * as for the server's codes.
 */
export const CLIENT_ERROR_CODES = {
  CLIENT_OPTIONS_INVALID: 'The client was built or called with a bad option (URL, key, agent id, path); the message says which.',
  CLIENT_CLOSED: 'The client was closed (close()); build a new one.',
  CLIENT_TRANSPORT_FAILED: 'No answer: the connection was refused, reset or broke mid-answer.',
  CLIENT_TIMEOUT: 'The server did not answer in full within timeoutMs (headers and body together).',
  CLIENT_ABORTED: "The caller's AbortSignal fired; the request was abandoned.",
  CLIENT_RESPONSE_TOO_LARGE: 'The answer (headers or body) exceeds the client\'s limit (maxResponseBytes); it was not read further.',
  CLIENT_RESPONSE_MALFORMED: 'The answer is not what a Cordon server sends: not JSON, not UTF-8, nested too deep, or the wrong shape.',
  CLIENT_UNKNOWN_ERROR: 'The server answered with a Cordon error code this client does not know (details.serverCode); a newer server?',
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

/** Everything `error.code` can be: switch on it, never on the message. */
export type CordonClientErrorCode = CordonErrorCode | ClientErrorCode;

export interface CordonClientErrorOptions {
  /** The HTTP status of the answer; 0 when there was none (transport, timeout, closed client). */
  status?: number;
  details?: Record<string, unknown>;
  /** The server's `x-request-id` (or the error body's requestId): quote it when asking an operator. */
  requestId?: string | null;
  /** From `Retry-After` (seconds, or an HTTP date), for RATE_LIMITED and 503s. */
  retryAfterMs?: number | null;
  cause?: unknown;
}

/** One error type for what Cordon refused and what went wrong on the way. */
export class CordonClientError extends Error {
  readonly code: CordonClientErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown>;
  readonly requestId: string | null;
  readonly retryAfterMs: number | null;

  constructor(code: CordonClientErrorCode, message: string, options: CordonClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CordonClientError';
    this.code = code;
    this.status = options.status ?? 0;
    this.details = options.details ?? {};
    this.requestId = options.requestId ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }

  /** True for a code the client raised (no Cordon answer was read). */
  get fromClient(): boolean {
    return this.code in CLIENT_ERROR_CODES;
  }
}

export function isCordonClientError(err: unknown): err is CordonClientError {
  return err instanceof CordonClientError;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return null;
  const text = raw.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  // Only an HTTP date (…GMT): Date.parse would read "-5" or "2030" as years.
  if (text.length > 64 || !/^[A-Za-z]{3},? .* GMT$/.test(text)) return null;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

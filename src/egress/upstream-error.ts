import { DialError } from './dialer.ts';
import type { EgressReasonCode } from './egress-reason.ts';

/** Maps a failure talking to the upstream onto the reason a client sees (502 or 504). */
export function classifyUpstreamError(err: unknown, signal?: AbortSignal): EgressReasonCode {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    if (e instanceof DialError) return e.code;
    const code = (e as { code?: unknown }).code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'upstream_timeout';
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect_timeout';
    e = e.cause;
  }
  if (signal?.aborted === true) return 'upstream_timeout';
  return 'upstream_failed';
}

import { ERROR_CODES, type ErrorCode } from '../core/errors.ts';

/**
 * Why an egress request was refused, as a stable token. It is what the proxy puts
 * in `X-Cordon-Error`, what audit records carry, and what callers match on.
 * Each refusal names the CordonError code it is reported as; that code, in
 * core/errors.ts, is the one place its HTTP status is set.
 */
export const EGRESS_REASONS = {
  allowed: { error: null, doc: 'An allow rule matched and a permitted address was pinned.' },
  open_mode: { error: null, doc: 'The policy is in open mode and the host is public.' },
  invalid_request: { error: 'EGRESS_REQUEST_INVALID', doc: 'The URL or CONNECT target is malformed (control characters, userinfo, zone id, empty label, bad port, scheme).' },
  localhost: { error: 'EGRESS_DENIED', doc: 'localhost and *.localhost are always refused.' },
  metadata_host: { error: 'EGRESS_DENIED', doc: 'A cloud metadata host name is always refused.' },
  denied_by_rule: { error: 'EGRESS_DENIED', doc: 'A deny rule matched.' },
  policy_denied: { error: 'POLICY_DENIED', doc: 'The policy engine (the authorize hook) refused the request or redirect hop before the egress policy was consulted, or the hook failed.' },
  approval_required: { error: 'APPROVAL_REQUIRED', doc: 'The policy engine (the authorize hook) requires a human approval for this request or hop; nothing was sent.' },
  no_matching_rule: { error: 'EGRESS_DENIED', doc: 'No allow rule matched host, port, scheme, method and path.' },
  ip_literal_not_listed: { error: 'EGRESS_DENIED', doc: 'An IP literal needs an exact IP allow entry (except in open mode).' },
  forbidden_address: { error: 'EGRESS_DENIED', doc: 'Every resolved address is private, loopback, link-local, metadata or otherwise forbidden.' },
  denied_by_cidr: { error: 'EGRESS_DENIED', doc: 'Every resolved address is inside deny_cidrs.' },
  sni_mismatch: { error: 'EGRESS_DENIED', doc: 'The TLS ClientHello in a CONNECT tunnel named another host (or none, or was not TLS).' },
  no_egress_policy: { error: 'EGRESS_DENIED', doc: 'The sandbox has no egress policy: no egress at all.' },
  unknown_policy: { error: 'EGRESS_DENIED', doc: 'The sandbox names an egress policy that is not loaded.' },
  sandbox_expired: { error: 'EGRESS_DENIED', doc: 'The sandbox identity has expired.' },
  redirect_limit: { error: 'EGRESS_DENIED', doc: 'Too many redirects.' },
  response_too_large: { error: 'EGRESS_UPSTREAM_FAILED', doc: 'The upstream response exceeded the size cap.' },
  resolution_failed: { error: 'EGRESS_RESOLUTION_FAILED', doc: 'The host did not resolve.' },
  secret_unavailable: { error: 'EGRESS_UPSTREAM_FAILED', doc: 'A secret the matching rule injects is not in the secret store.' },
  upstream_failed: { error: 'EGRESS_UPSTREAM_FAILED', doc: 'The connection to the pinned address failed or broke.' },
  connect_timeout: { error: 'EGRESS_UPSTREAM_TIMEOUT', doc: 'Connecting to the pinned address timed out.' },
  upstream_timeout: { error: 'EGRESS_UPSTREAM_TIMEOUT', doc: 'The upstream was idle too long or the request exceeded its total time.' },
  rate_limited: { error: 'EGRESS_LIMITED', doc: 'The sandbox exceeded its request rate.' },
  request_limit: { error: 'EGRESS_LIMITED', doc: 'The sandbox made as many requests as its lifetime allows (egress.sandboxLimits.maxRequests).' },
  connection_limit: { error: 'EGRESS_LIMITED', doc: 'The sandbox has too many connections open.' },
  byte_limit: { error: 'EGRESS_LIMITED', doc: 'The sandbox used up its byte budget.' },
} as const satisfies Record<string, { error: ErrorCode | null; doc: string }>;

export type EgressReasonCode = keyof typeof EGRESS_REASONS;

/** The CordonError code a refusal is reported as; null for the reasons that allow. */
export function errorCodeFor(code: EgressReasonCode): ErrorCode | null {
  return EGRESS_REASONS[code].error;
}

/** The HTTP status the sandbox sees: 200 when allowed, else its error code's status. */
export function statusFor(code: EgressReasonCode): number {
  const error = errorCodeFor(code);
  return error === null ? 200 : ERROR_CODES[error].httpStatus;
}

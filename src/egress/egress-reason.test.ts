import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../core/errors.ts';
import { EGRESS_REASONS, errorCodeFor, statusFor, type EgressReasonCode } from './egress-reason.ts';
import { renderRefusal } from './proxy-response.ts';

// What a sandbox sees for each reason: the status and the error code in the body.
const EXPECTED: Record<EgressReasonCode, readonly [number, string | null]> = {
  allowed: [200, null],
  open_mode: [200, null],
  invalid_request: [400, 'EGRESS_REQUEST_INVALID'],
  localhost: [403, 'EGRESS_DENIED'],
  metadata_host: [403, 'EGRESS_DENIED'],
  denied_by_rule: [403, 'EGRESS_DENIED'],
  policy_denied: [403, 'POLICY_DENIED'],
  approval_required: [403, 'APPROVAL_REQUIRED'],
  no_matching_rule: [403, 'EGRESS_DENIED'],
  ip_literal_not_listed: [403, 'EGRESS_DENIED'],
  forbidden_address: [403, 'EGRESS_DENIED'],
  denied_by_cidr: [403, 'EGRESS_DENIED'],
  sni_mismatch: [403, 'EGRESS_DENIED'],
  no_egress_policy: [403, 'EGRESS_DENIED'],
  unknown_policy: [403, 'EGRESS_DENIED'],
  sandbox_expired: [403, 'EGRESS_DENIED'],
  redirect_limit: [403, 'EGRESS_DENIED'],
  response_too_large: [502, 'EGRESS_UPSTREAM_FAILED'],
  resolution_failed: [502, 'EGRESS_RESOLUTION_FAILED'],
  secret_unavailable: [502, 'EGRESS_UPSTREAM_FAILED'],
  upstream_failed: [502, 'EGRESS_UPSTREAM_FAILED'],
  connect_timeout: [504, 'EGRESS_UPSTREAM_TIMEOUT'],
  upstream_timeout: [504, 'EGRESS_UPSTREAM_TIMEOUT'],
  rate_limited: [429, 'EGRESS_LIMITED'],
  request_limit: [429, 'EGRESS_LIMITED'],
  connection_limit: [429, 'EGRESS_LIMITED'],
  byte_limit: [429, 'EGRESS_LIMITED'],
};

describe('egress reasons', () => {
  it.each(Object.keys(EGRESS_REASONS) as EgressReasonCode[])('%s has the status and error code a sandbox relies on', (reason) => {
    const [status, error] = EXPECTED[reason];
    expect([statusFor(reason), errorCodeFor(reason)]).toEqual([status, error]);
    if (error === null) return;
    const r = renderRefusal(reason, 'why', 'rule-1');
    expect(r.status).toBe(status);
    expect(r.headers['x-cordon-error']).toBe(reason);
    expect(JSON.parse(r.body)).toEqual({ error: { code: error, message: 'why', details: { reason, rule: 'rule-1' } } });
  });

  it('maps egress refusals to the exit codes the CLI documents', () => {
    const exits = Object.fromEntries(Object.entries(ERROR_CODES).filter(([code]) => code.startsWith('EGRESS_')).map(([code, spec]) => [code, spec.exitCode]));
    expect(exits).toEqual({ EGRESS_DENIED: 5, EGRESS_REQUEST_INVALID: 2, EGRESS_RESOLUTION_FAILED: 7, EGRESS_UPSTREAM_FAILED: 7, EGRESS_UPSTREAM_TIMEOUT: 7, EGRESS_LIMITED: 7 });
  });

  it('never renders a refusal as a 200, even if handed an allow reason', () => {
    const r = renderRefusal('allowed', 'bug', null);
    expect([r.status, JSON.parse(r.body).error.code]).toEqual([403, 'EGRESS_DENIED']);
  });
});

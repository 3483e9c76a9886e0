import { ERROR_CODES } from '../core/errors.ts';
import type { EgressVerdict } from './egress-decider.ts';
import type { EgressAuditRecord } from './egress-audit.ts';
import type { EgressIdentity } from './egress-identity.ts';
import { errorCodeFor, type EgressReasonCode } from './egress-reason.ts';

/**
 * What a sandbox is told when Cordon refuses. The reason names the rule and the
 * request, but never resolved addresses: Cordon is the sandbox's only resolver,
 * and echoing "10.3.4.5 is private" would turn refusals into an internal-DNS oracle.
 * The audit record keeps the full reason.
 */
export function sandboxReason(verdict: Pick<EgressVerdict, 'code' | 'decision' | 'target'>): string {
  const host = verdict.target?.host ?? 'the host';
  switch (verdict.code) {
    case 'forbidden_address':
    case 'denied_by_cidr':
      return `${host} resolves only to addresses this sandbox may not reach`;
    case 'resolution_failed':
      return `${host} did not resolve`;
    case 'upstream_failed':
      return `could not connect to ${host}`;
    case 'policy_denied':
      return `denied by policy: ${verdict.decision.reason}`;
    case 'approval_required':
      return `needs approval: ${verdict.decision.reason}`;
    default:
      return verdict.decision.reason;
  }
}

export interface Refusal {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * A refusal as `{error: {code, message, details}}` plus `X-Cordon-Error: <reason code>`.
 * `decision` carries the policy engine's details (deciding policies per principal)
 * for hook refusals, as the API's own POLICY_DENIED bodies do.
 */
export function renderRefusal(code: EgressReasonCode, message: string, rule: string | null, decision?: Readonly<Record<string, unknown>>): Refusal {
  // A refusal never goes out as a 200: being handed an allow reason here is a
  // bug upstream of this function, and it fails closed as a denial.
  const error = errorCodeFor(code) ?? 'EGRESS_DENIED';
  const details = decision === undefined ? { reason: code, rule } : { reason: code, rule, decision };
  const body = JSON.stringify({ error: { code: error, message, details } });
  return {
    status: ERROR_CODES[error].httpStatus,
    headers: { 'x-cordon-error': code, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store' },
    body,
  };
}

/** For raw sockets (CONNECT): a complete HTTP/1.1 response that closes the connection. */
export function rawResponse(status: number, statusText: string, headers: Record<string, string>, body: string): string {
  const lines = [`HTTP/1.1 ${status} ${statusText}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'connection: close', '', body];
  return lines.join('\r\n');
}

export interface AuditFacts {
  readonly identity: EgressIdentity;
  readonly channel: EgressAuditRecord['channel'];
  readonly kind: EgressAuditRecord['kind'];
  readonly verdict: EgressVerdict;
  /** Overrides the verdict's code and reason (limits, timeouts, SNI). */
  readonly outcome?: { readonly code: EgressReasonCode; readonly reason: string; readonly result: 'allow' | 'deny' };
  readonly status: number;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly bytesToUpstream: number;
  readonly bytesFromUpstream: number;
  readonly injected: readonly string[];
  readonly redirectHop?: number;
}

export function auditRecord(f: AuditFacts): EgressAuditRecord {
  const t = f.verdict.target;
  const record: EgressAuditRecord = {
    time: new Date(f.startedAtMs).toISOString(),
    sandbox: f.identity.id,
    sandboxUri: f.identity.uri,
    profile: f.identity.profile,
    agent: f.identity.agent,
    user: f.identity.user,
    channel: f.channel,
    kind: f.kind,
    scheme: t?.scheme ?? null,
    host: t?.host ?? null,
    port: t?.port ?? null,
    address: f.verdict.address,
    method: t?.method ?? null,
    path: t?.path ?? null,
    result: f.outcome?.result ?? (f.verdict.decision.result === 'allow' ? 'allow' : 'deny'),
    code: f.outcome?.code ?? f.verdict.code,
    reason: f.outcome?.reason ?? f.verdict.decision.reason,
    rule: f.verdict.decision.ruleId,
    policy: f.verdict.policy === '' ? null : f.verdict.policy,
    wouldDeny: f.verdict.wouldDeny !== null,
    status: f.status,
    bytesToUpstream: f.bytesToUpstream,
    bytesFromUpstream: f.bytesFromUpstream,
    durationMs: Math.max(0, f.endedAtMs - f.startedAtMs),
    injected: f.injected,
  };
  return f.redirectHop === undefined ? record : { ...record, redirectHop: f.redirectHop };
}

import { appendAsItHappens } from '../audit/audit-append.ts';
import type { AuditSink } from '../audit/audit-sink.ts';
import { newId } from '../core/ids.ts';
import type { EgressAuditRecord, EgressAuditSink } from './egress-audit.ts';

/**
 * Egress records land in the one audit log, next to the invocations that caused
 * them. `redact` removes known secret values from the reason text. They are written as
 * requests happen, not awaited (audit-append.ts): a failed one fails the sink, and the call
 * that made the request is refused at its final record.
 */
export function createEgressAuditLog(audit: AuditSink, redact: (text: string) => string): EgressAuditSink {
  return {
    record(e: EgressAuditRecord) {
      appendAsItHappens(audit, {
        ts: e.time,
        kind: 'egress',
        id: newId('aud'),
        requestId: null,
        agent: e.agent,
        user: e.user,
        tokenId: null,
        tool: null,
        action: e.kind === 'connect' ? 'egress.connect' : 'egress.http',
        resource: e.host === null ? null : `${e.scheme ?? 'connect'}://${e.host}:${e.port ?? ''}${e.path ?? ''}`,
        sandbox: e.sandbox,
        decision: { result: e.result, reason: redact(e.reason), ruleId: e.rule },
        outcome: e.result === 'allow' ? String(e.status) : e.code,
        durationMs: e.durationMs,
        inputSha256: null,
        egress: { ...e, reason: redact(e.reason) },
      });
    },
  };
}

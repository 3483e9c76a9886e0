import { createHash } from 'node:crypto';
import type { AuditRecord, AuditSink } from '../../audit/audit-sink.ts';
import type { Decision } from '../../core/decision.ts';
import { newId } from '../../core/ids.ts';
import { principalUserKey, type Principal } from '../../core/principal.ts';
import type { Logger } from '../../core/logger.ts';

export interface InvocationFacts {
  requestId: string | null;
  principal: Principal | null;
  tool: string | null;
  action: string | null;
  resource: string | null;
  sandbox: string | null;
  decision: Decision | null;
  outcome: string;
  durationMs: number;
  input: unknown;
}

function sha256OfInput(input: unknown): string | null {
  if (input === undefined) return null;
  try {
    return createHash('sha256').update(JSON.stringify(input) ?? '').digest('hex');
  } catch {
    // Input that cannot be serialised is refused earlier; the record must still be written.
    return null;
  }
}

/**
 * Stage 7: one audit record per call, whatever happened. A failure to write
 * the record is logged loudly; the answer already computed still goes out.
 */
export function record(sink: AuditSink, logger: Logger, kind: AuditRecord['kind'], facts: InvocationFacts): void {
  const entry: AuditRecord = {
    ts: new Date().toISOString(),
    kind,
    id: newId('aud'),
    requestId: facts.requestId,
    agent: facts.principal?.agent ?? null,
    user: facts.principal === null ? null : principalUserKey(facts.principal),
    tokenId: facts.principal?.tokenId ?? null,
    tool: facts.tool,
    action: facts.action,
    resource: facts.resource,
    sandbox: facts.sandbox,
    decision:
      facts.decision === null
        ? null
        : { result: facts.decision.result, reason: facts.decision.reason, ruleId: facts.decision.ruleId, ...(facts.decision.details === undefined ? {} : { details: facts.decision.details }) },
    outcome: facts.outcome,
    durationMs: Math.round(facts.durationMs * 1000) / 1000,
    inputSha256: sha256OfInput(facts.input),
  };
  try {
    sink.append(entry);
  } catch (err) {
    logger.error({ err, auditId: entry.id }, 'audit record could not be written');
  }
}

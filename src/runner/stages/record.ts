import { createHash } from 'node:crypto';
import { appendOrRefuse } from '../../audit/audit-append.ts';
import type { AuditRecord, AuditSink } from '../../audit/audit-sink.ts';
import type { Decision } from '../../core/decision.ts';
import type { CordonError } from '../../core/errors.ts';
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
  /** The client's address, where there is no principal to name (failed authentication). */
  source?: string;
  /** The invocation id returned to the client (`inv_…`), for a tool call. */
  invocation?: string;
  /** The session the call belongs to (a client's name, or a session sandbox's own), if any. */
  session?: string | null;
  /** `audit.recordInput`: the raw input goes into the record too (capped). */
  recordInput?: boolean;
  /** For an approval record: which approval, what happened to it, and who decided. */
  approval?: AuditRecord['approval'];
}

/** The most raw input a record keeps (JSON bytes); beyond it, the digest alone. */
export const MAX_RECORDED_INPUT_BYTES = 64 * 1024;

function rawInput(input: unknown): { input: unknown } | { inputOmitted: string } | Record<string, never> {
  if (input === undefined) return {};
  let json: string | undefined;
  try {
    json = JSON.stringify(input);
  } catch {
    return { inputOmitted: 'not JSON' };
  }
  if (json === undefined) return {};
  if (Buffer.byteLength(json) > MAX_RECORDED_INPUT_BYTES) return { inputOmitted: `larger than ${MAX_RECORDED_INPUT_BYTES} bytes of JSON` };
  // A copy, parsed back: the record holds data, never a live object of the caller's.
  return { input: JSON.parse(json) as unknown };
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

/** Stage 7: one audit record per call, whatever happened (and a `started` one before it runs). Await it: appendRecord. */
export function record(sink: AuditSink, logger: Logger, kind: AuditRecord['kind'], facts: InvocationFacts): Promise<void> {
  return appendRecord(sink, logger, buildRecord(kind, facts));
}

/** The audit record for a call's facts. */
export function buildRecord(kind: AuditRecord['kind'], facts: InvocationFacts): AuditRecord {
  return {
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
    decision: facts.decision === null ? null : auditDecision(facts.decision),
    outcome: facts.outcome,
    durationMs: Math.round(facts.durationMs * 1000) / 1000,
    inputSha256: sha256OfInput(facts.input),
    ...(facts.recordInput === true ? rawInput(facts.input) : {}),
    ...(facts.source === undefined ? {} : { source: facts.source }),
    ...(facts.invocation === undefined ? {} : { invocation: facts.invocation }),
    ...(facts.session === undefined || facts.session === null ? {} : { session: facts.session }),
    ...(facts.approval === undefined ? {} : { approval: facts.approval }),
  };
}

/**
 * A decision as a record keeps it: result, reason and rule once, beside what the policy engine
 * adds (policy ids per principal, what was evaluated, the policy version). The engine's details
 * repeat result, reason and rule; written twice they could even disagree, so they are not.
 */
export function auditDecision(decision: Decision): NonNullable<AuditRecord['decision']> {
  const { result: _result, reason: _reason, ruleId: _ruleId, ...rest } = decision.details ?? {};
  return { ...rest, result: decision.result, reason: decision.reason, ruleId: decision.ruleId };
}

/**
 * Every record the runner writes goes through here, under the one rule for a failed append
 * (audit/audit-append.ts): it resolves once the record is written, and rejects with
 * AUDIT_UNAVAILABLE when it cannot be — the caller then refuses instead of answering. The sink
 * reports its failure once, so `_logger` (the caller's) logs nothing per record.
 */
export function appendRecord(sink: AuditSink, _logger: Logger, entry: AuditRecord): Promise<void> {
  return appendOrRefuse(sink, entry);
}

/**
 * Refusals written as counted repeats rather than one record each: failed
 * authentication per client address and reason (anyone can send bad tokens), and
 * RATE_LIMITED per principal, action, quota and the decision that allowed the call
 * (an agent hammering a full quota). Everything else is one record per call.
 */
export function repeatKey(kind: AuditRecord['kind'], facts: InvocationFacts, err: CordonError): string | null {
  if (kind === 'auth') return ['auth', facts.source ?? '', facts.outcome].join('\u0000');
  if (err.code !== 'RATE_LIMITED') return null;
  const quota = typeof err.details.quota === 'string' ? err.details.quota : err.message.slice(0, 200);
  const p = facts.principal;
  return ['rate', kind, p?.agent ?? '', p?.user ?? '', facts.action ?? facts.tool ?? '', quota, facts.decision?.result ?? '', facts.decision?.ruleId ?? ''].join('\u0000');
}

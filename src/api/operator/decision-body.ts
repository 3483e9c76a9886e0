import { CordonError } from '../../core/errors.ts';
import type { DecisionStatement, SignedDecision } from '../../approvals/approval-types.ts';

const invalid = (message: string, field: string) => new CordonError('INPUT_INVALID', message, { details: { field } });

const STATEMENT_FIELDS = ['approvalId', 'invocationHash', 'decision', 'approver', 'iat', 'exp', 'nonce'] as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const extra = Object.keys(obj).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw invalid(`${where} has an unknown field ${JSON.stringify(extra.slice(0, 64))}`, `${where}/${extra.slice(0, 64)}`);
}

function text(obj: Record<string, unknown>, key: string, pattern: RegExp, where: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || !pattern.test(v)) throw invalid(`${where}.${key} must match ${pattern.source}`, `${where}/${key}`);
  return v;
}

function seconds(obj: Record<string, unknown>, key: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(`statement.${key} must be a whole number of seconds since the epoch`, `/statement/${key}`);
  return v;
}

/**
 * A SignedDecision body, shape only: exactly these fields, bounded. Whether it is signed, by whom,
 * for what, and still fresh is the approval service's to check — the signed bytes are rebuilt
 * from these fields, so nothing unchecked can ride along.
 */
export function parseDecisionBody(body: unknown): SignedDecision {
  if (!isPlainObject(body)) throw invalid('the body must be a JSON object {statement, signature}', '/');
  onlyKeys(body, ['statement', 'signature'], '');
  const s = body.statement;
  if (!isPlainObject(s)) throw invalid('statement must be an object', '/statement');
  onlyKeys(s, STATEMENT_FIELDS, '/statement');
  const decision = s.decision;
  if (decision !== 'approve' && decision !== 'deny') throw invalid('statement.decision must be "approve" or "deny"', '/statement/decision');
  const statement: DecisionStatement = {
    approvalId: text(s, 'approvalId', /^[A-Za-z0-9_-]{1,128}$/, 'statement'),
    invocationHash: text(s, 'invocationHash', /^[0-9a-f]{64}$/, 'statement'),
    decision,
    approver: text(s, 'approver', /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'statement'),
    iat: seconds(s, 'iat'),
    exp: seconds(s, 'exp'),
    nonce: text(s, 'nonce', /^[A-Za-z0-9_-]{22,128}$/, 'statement'),
  };
  // An Ed25519 signature is 64 bytes: 86 base64url characters without padding.
  const signature = text(body, 'signature', /^[A-Za-z0-9_-]{86}$/, 'body');
  return { statement, signature };
}

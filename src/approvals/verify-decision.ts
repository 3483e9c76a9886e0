import { verify, type KeyObject } from 'node:crypto';
import { APPROVER_NAME_PATTERN } from '../config/config-schema.ts';
import { CordonError } from '../core/errors.ts';
import { invocationHash } from './approval-store.ts';
import { decisionSigningInput, MAX_STATEMENT_LIFETIME_SEC, type ApprovalView, type CanonicalInvocation, type DecisionStatement, type SignedDecision } from './approval-types.ts';
import type { Approver, Approvers } from './approvers.ts';

/** How far an approver's clock may run ahead of Cordon's (iat in the future). exp gets no slack. */
export const MAX_CLOCK_SKEW_SEC = 30;

const STATEMENT_FIELDS = ['approvalId', 'invocationHash', 'decision', 'approver', 'iat', 'exp', 'nonce'] as const;
/** `apr_` and 26 characters of newId's alphabet. */
export const APPROVAL_ID = /^apr_[0-9a-hjkmnp-tv-z]{26}$/;
const HASH = /^[0-9a-f]{64}$/;
/** 16 to 48 bytes of base64url without padding: 22 to 64 characters. */
const NONCE = /^[A-Za-z0-9_-]{22,64}$/;
/** An Ed25519 signature is 64 bytes: 86 characters of base64url without padding. */
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;

export interface VerifyDecisionContext {
  readonly approvers: Approvers;
  /** The stored approval, or null when there is none with that id. */
  readonly lookup: (approvalId: string) => ApprovalView | null;
  /** The groups of the call's agent and of its user: what an approver's `groups` are matched against. */
  readonly principalGroups: (invocation: CanonicalInvocation) => readonly string[];
  /** Was this nonce spent already? (The store's insert is what makes it single use; this names a replay.) */
  readonly nonceUsed: (nonce: string) => boolean;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

export interface VerifiedDecision {
  readonly signed: SignedDecision;
  readonly approver: Approver;
  readonly approval: ApprovalView;
}

/**
 * Every check a decision passes before it may change anything, in an order that reveals
 * nothing to an unsigned caller: shape, then the signature by a registered approver, then its
 * time bounds, and only then anything about the approval (existence, the approver's right, the
 * hash, its status). Single use (the nonce and the pending → decided transition) is the store's
 * atomic step after this. Throws INPUT_INVALID or an APPROVAL_* CordonError.
 */
export function verifyDecision(body: unknown, context: VerifyDecisionContext): VerifiedDecision {
  const signed = parseSignedDecision(body);
  const { statement } = signed;
  const approver = context.approvers.get(statement.approver);
  if (approver === undefined) throw signatureInvalid('unknown_approver', `no approver "${statement.approver}" is registered (approvals.approvers)`);
  // parseSignedDecision admitted only canonical base64url of exactly 64 bytes.
  const signature = Buffer.from(signed.signature, 'base64url');
  if (!verifies(decisionSigningInput(statement), approver.publicKey, signature)) throw signatureInvalid('bad_signature', `the signature is not approver "${approver.name}"'s over this statement`);

  const nowSec = Math.floor(context.now / 1000);
  if (statement.exp <= nowSec) throw signatureInvalid('expired', `the statement expired at ${statement.exp} (now ${nowSec}); sign a new one`);
  if (statement.iat > nowSec + MAX_CLOCK_SKEW_SEC) throw signatureInvalid('issued_in_future', `the statement is issued at ${statement.iat}, in the future (now ${nowSec}); check the signer's clock`);
  if (statement.exp <= statement.iat || statement.exp - statement.iat > MAX_STATEMENT_LIFETIME_SEC) {
    throw signatureInvalid('lifetime', `a statement lives more than 0 and at most ${MAX_STATEMENT_LIFETIME_SEC} seconds (exp − iat is ${statement.exp - statement.iat})`);
  }

  const approval = context.lookup(statement.approvalId);
  if (approval === null) throw new CordonError('APPROVAL_NOT_FOUND', `no approval ${statement.approvalId}`, { details: { approval: statement.approvalId } });
  const tool = approval.invocation.tool;
  if (!approver.mayDecide(tool, context.principalGroups(approval.invocation))) {
    throw new CordonError('APPROVAL_NOT_PERMITTED', `approver "${approver.name}" may not decide calls of ${tool}${approver.groups === null ? '' : ` for these principals (groups: ${approver.groups.join(', ')})`}`, { details: { approval: approval.id, approver: approver.name, tool } });
  }
  // Cordon's own recomputation, not the stored hash alone: a row edited on disk decides nothing.
  const recomputed = invocationHash(approval.invocation);
  if (statement.invocationHash !== recomputed || approval.invocationHash !== recomputed) {
    throw new CordonError('APPROVAL_HASH_MISMATCH', `the signed invocationHash is not the hash of the call approval ${approval.id} holds; nothing was decided`, { details: { approval: approval.id, invocationHash: recomputed } });
  }
  // The exact statement again (its approval is decided by it) is named a replay, before "already decided".
  if (context.nonceUsed(statement.nonce)) throw new CordonError('APPROVAL_REPLAYED', 'this signed statement was already used (its nonce is spent); sign a new one', { details: { approval: approval.id } });
  if (approval.status === 'approved' || approval.status === 'denied') {
    throw new CordonError('APPROVAL_ALREADY_DECIDED', `approval ${approval.id} was already ${approval.status} by ${approval.decidedBy ?? 'an approver'}`, { details: { approval: approval.id, status: approval.status, decidedBy: approval.decidedBy } });
  }
  if (approval.status === 'expired') throw new CordonError('APPROVAL_EXPIRED', `approval ${approval.id} expired at ${approval.expiresAt}`, { details: { approval: approval.id, status: approval.status } });
  return { signed, approver, approval };
}

/** The exact shape of a signed decision: these fields, these types and sizes, nothing else. */
export function parseSignedDecision(body: unknown): SignedDecision {
  const top = exactObject(body, ['statement', 'signature'], '');
  const signature = top.signature;
  if (typeof signature !== 'string' || !SIGNATURE.test(signature) || !canonicalBase64url(signature)) {
    throw invalid('/signature', 'must be an Ed25519 signature: 64 bytes of base64url without padding');
  }
  const s = exactObject(top.statement, STATEMENT_FIELDS, '/statement');
  const text = (field: string, pattern: RegExp, what: string): string => {
    const value = s[field];
    if (typeof value !== 'string' || !pattern.test(value)) throw invalid(`/statement/${field}`, `must be ${what}`);
    return value;
  };
  const seconds = (field: string): number => {
    const value = s[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`/statement/${field}`, 'must be a whole number of seconds since the epoch');
    return value;
  };
  const decision = s.decision;
  if (decision !== 'approve' && decision !== 'deny') throw invalid('/statement/decision', 'must be "approve" or "deny"');
  const nonce = text('nonce', NONCE, 'at least 16 random bytes in base64url without padding (22 to 64 characters)');
  if (!canonicalBase64url(nonce) || Buffer.from(nonce, 'base64url').length < 16) throw invalid('/statement/nonce', 'must be at least 16 random bytes in base64url without padding');
  const statement: DecisionStatement = {
    approvalId: text('approvalId', APPROVAL_ID, 'an approval id (apr_…)'),
    invocationHash: text('invocationHash', HASH, '64 lower-case hex characters (SHA-256)'),
    decision,
    approver: text('approver', APPROVER_NAME_PATTERN, 'an approver name from approvals.approvers'),
    iat: seconds('iat'),
    exp: seconds('exp'),
    nonce,
  };
  return Object.freeze({ statement: Object.freeze(statement), signature });
}

function verifies(data: Buffer, key: KeyObject, signature: Buffer): boolean {
  try {
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}

function exactObject(value: unknown, fields: readonly string[], at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(at === '' ? '/' : at, 'must be an object');
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) throw invalid(at === '' ? '/' : at, 'must be a plain object');
  const keys = Object.keys(value);
  const extra = keys.find((k) => !fields.includes(k));
  if (extra !== undefined) throw invalid(`${at}/${extra.slice(0, 64)}`, 'is not a field of a signed decision');
  const missing = fields.find((f) => !keys.includes(f));
  if (missing !== undefined) throw invalid(`${at}/${missing}`, 'is required');
  return value as Record<string, unknown>;
}

/** Node's decoder skips characters it does not know; only text that encodes back to itself is accepted. */
function canonicalBase64url(text: string): boolean {
  return Buffer.from(text, 'base64url').toString('base64url') === text;
}

function invalid(field: string, reason: string): CordonError {
  return new CordonError('INPUT_INVALID', `signed decision ${field}: ${reason}`, { details: { field, reason } });
}

function signatureInvalid(reason: string, message: string): CordonError {
  return new CordonError('APPROVAL_SIGNATURE_INVALID', message, { details: { reason } });
}

import { canonicalJson } from '../audit/canonical-json.ts';

/**
 * The approvals contract: what is stored for a call that needs a human, what an approver
 * signs, and what the operator channels (CLI, web page) may ask of the approval service.
 * The runner side (store, verification, running the stored call) and the operator side
 * (listener, login, page, CLI) meet here and nowhere else.
 */

/** The exact call an approval is bound to; its hash is SHA-256 over RFC 8785 canonical JSON. */
export interface CanonicalInvocation {
  /** The invocation id the agent was given with its 202 (`inv_…`). */
  readonly invocation: string;
  readonly tool: string;
  readonly input: unknown;
  readonly agent: string;
  /** The user the agent acts for, in its one canonical form; null when it acts for no one. */
  readonly user: { readonly issuer: string; readonly subject: string } | null;
  /** A live session sandbox the call runs in, or null for a fresh one. */
  readonly sandbox: string | null;
  /** The profile of a fresh sandbox (null: the session sandbox's own). */
  readonly profile: string | null;
  readonly session: string | null;
  /** The policy set's version when the call was decided. */
  readonly policyVersion: string;
}

export type ApprovalVerdict = 'approve' | 'deny';

/** What an approver signs. Every field is checked; nothing else is accepted. */
export interface DecisionStatement {
  readonly approvalId: string;
  /** Lower-case hex SHA-256 of the canonical invocation, as the approver saw it. */
  readonly invocationHash: string;
  readonly decision: ApprovalVerdict;
  /** The approver's name in config (`approvals.approvers[].name`). */
  readonly approver: string;
  /** Seconds since the epoch; a statement lives at most MAX_STATEMENT_LIFETIME_SEC. */
  readonly iat: number;
  readonly exp: number;
  /** At least 16 random bytes, base64url: a statement is used once. */
  readonly nonce: string;
}

/** A statement and its Ed25519 signature (base64url, no padding) over decisionSigningInput. */
export interface SignedDecision {
  readonly statement: DecisionStatement;
  readonly signature: string;
}

export const MAX_STATEMENT_LIFETIME_SEC = 300;

/**
 * Domain separation: a signature over a decision can never be replayed as any other signed
 * thing of Cordon's (a token, a checkpoint), nor the reverse.
 */
export const DECISION_SIGNING_CONTEXT = 'cordon-approval-decision/v1\n';

/** The bytes an approver signs: the context line, then the statement's canonical JSON. */
export function decisionSigningInput(statement: DecisionStatement): Buffer {
  return Buffer.from(DECISION_SIGNING_CONTEXT + canonicalJson(statement), 'utf8');
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** One approval as the operator channels show it: the exact input, both principals, the reason. */
export interface ApprovalView {
  /** `apr_…` */
  readonly id: string;
  readonly status: ApprovalStatus;
  readonly invocation: CanonicalInvocation;
  readonly invocationHash: string;
  /** Why policy asked for approval, and the policies that said so. */
  readonly reason: string;
  readonly policyId: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
}

/** What the operator listener may ask; nothing here is reachable with an agent token. */
export interface ApprovalService {
  list(filter?: { readonly status?: ApprovalStatus }): ApprovalView[];
  get(id: string): ApprovalView | null;
  /**
   * Checks the signature, the approver's right to this call, expiry, single use and that the
   * hash equals Cordon's own recomputation; then `approve` runs exactly the stored call once
   * (the agent's long-poll gets its result) and `deny` closes it. Refusals are CordonErrors
   * with APPROVAL_* codes, and change nothing.
   */
  decide(signed: SignedDecision): Promise<ApprovalView>;
}

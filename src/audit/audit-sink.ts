/** One line of the audit log. Fields are flat and stable; consumers parse them. */
export interface AuditRecord {
  readonly ts: string;
  readonly kind: 'invocation' | 'auth' | 'egress' | 'sandbox' | 'token' | 'approval' | 'config';
  readonly id: string;
  readonly requestId: string | null;
  readonly agent: string | null;
  readonly user: string | null;
  readonly tokenId: string | null;
  readonly tool: string | null;
  readonly action: string | null;
  readonly resource: string | null;
  readonly sandbox: string | null;
  /**
   * The decision once: result, reason and rule, with what the policy engine adds beside them
   * (`policyIds`, per-principal `agent` / `user` results, `evaluated`, `policyVersion`).
   */
  readonly decision: AuditDecision | null;
  /**
   * The tool's status when it ran, or the error code when Cordon refused. `started`: written
   * (and on disk) before the call's sandbox runs, so a call that crashes the process leaves
   * evidence; its final record follows with the same `invocation`.
   */
  readonly outcome: string;
  readonly durationMs: number;
  readonly inputSha256: string | null;
  /** The raw input, when `audit.recordInput` is on and its JSON is at most 64 KiB (redacted like the rest). */
  readonly input?: unknown;
  /** Set instead of `input` when recordInput is on but the input was too large to keep. */
  readonly inputOmitted?: string;
  /** The client's address, for records of requests that carry no principal (failed authentication). */
  readonly source?: string;
  /** For kind "invocation": the invocation id returned to the client (`inv_…`). */
  readonly invocation?: string;
  /** The session the call belongs to, when it has one (a session sandbox's is `#sandbox/<id>`). */
  readonly session?: string;
  /**
   * Repeated refusals are counted, not written one by one (see repeat-aggregator.ts): the first
   * of a window has `count: 1`, the rest of the window is one record with `count`, `firstAt`
   * and `lastAt` (ISO times of the first and last counted). Sum `count` for the total.
   */
  readonly count?: number;
  readonly firstAt?: string;
  readonly lastAt?: string;
  /**
   * For kind "token": what the token endpoint did — `issued` (client credentials), `exchanged`
   * (delegation), `refused` or `replayed` (an assertion used twice) — with the grant and the
   * issued token's id (`jti`), scope and lifetime; never a token itself.
   */
  readonly token?: { readonly event: 'issued' | 'exchanged' | 'refused' | 'replayed'; readonly grant: string | null; readonly issuedId?: string; readonly scope?: string; readonly expiresInSec?: number };
  /**
   * For kind "approval": a call held for a human — `requested` (with the decision that asked),
   * `approved` or `denied` (naming the approver), `expired`; or a decision Cordon `refused`
   * (forged, replayed, expired, unentitled: `outcome` is the code), counted per code, approval
   * and claimed approver. A refused statement's `claimedApprover` is what it says, unproven.
   * `invocation` is the call's id.
   */
  readonly approval?: { readonly id: string | null; readonly event: 'requested' | 'approved' | 'denied' | 'expired' | 'refused'; readonly approver?: string; readonly claimedApprover?: string };
  /**
   * For kind "config": a reload of agents, users, Cedar and egress policies (`cordon reload`,
   * SIGHUP), `applied` or `refused` (then `problems` says why and nothing changed), with the
   * policy versions before and after and what changed. `outcome` is the event.
   */
  readonly reload?: ConfigReloadFacts;
  /** For kind "egress": the egress layer's record (host, port, pinned address, bytes, status, rule…; never header values or bodies). */
  readonly egress?: Readonly<Record<string, unknown>>;
}

export interface ConfigReloadFacts {
  readonly event: 'applied' | 'refused';
  /** Counts reloads of this process, applied or refused (1 is the first after start-up). */
  readonly generation: number;
  readonly fromPolicyVersion: string;
  readonly toPolicyVersion: string;
  readonly changes: readonly string[];
  readonly problems: readonly string[];
}

export interface AuditDecision {
  readonly result: string;
  readonly reason: string;
  readonly ruleId: string | null;
  readonly policyIds?: readonly string[];
  readonly policyVersion?: string;
  readonly [extra: string]: unknown;
}

export interface AuditSink {
  /**
   * Takes its place in the log at once (order = append order); the promise resolves when the
   * record, and every record before it, is written (on disk in durable mode), and rejects with
   * AUDIT_UNAVAILABLE when it cannot be. Once one append has failed, every later one fails
   * (fail closed: no record after a lost one is ever reported written). What a caller does
   * with a failure: audit-append.ts.
   */
  append(record: AuditRecord): Promise<void>;
  /** Writes what is pending, then closes; resolves even after a failure (that was reported once). */
  close(): Promise<void>;
}

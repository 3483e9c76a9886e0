import { createHash } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { canonicalJson } from '../audit/canonical-json.ts';
import type { Decision } from '../core/decision.ts';
import { CordonError, ERROR_CODES, type ErrorCode } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { currentRunnerId, isRunnerAlive } from '../core/runner-id.ts';
import type { Principal } from '../core/principal.ts';
import type { ApprovalStatus, ApprovalVerdict, ApprovalView, CanonicalInvocation } from './approval-types.ts';

/** Lower-case hex SHA-256 over the invocation's RFC 8785 canonical JSON: what an approver signs. */
export function invocationHash(invocation: CanonicalInvocation): string {
  return createHash('sha256').update(canonicalJson(invocation), 'utf8').digest('hex');
}

/** What an approved call ended with: the body a direct call answers, or the error it was refused with. */
export type ApprovalOutcome =
  | { readonly kind: 'result'; readonly body: Readonly<Record<string, unknown>> }
  | { readonly kind: 'error'; readonly code: ErrorCode; readonly message: string; readonly details: Readonly<Record<string, unknown>> };

/** Where an approved call's single run is: not started (pending, denied, expired), running, done. */
export type RunState = 'none' | 'running' | 'done';

export interface StoredApproval {
  readonly view: ApprovalView;
  /** Everything needed to run the call later as the caller who asked. */
  readonly principal: Principal;
  /** The decision that asked for approval, for audit records. */
  readonly decision: Decision;
  readonly expiresAtMs: number;
  readonly run: RunState;
  readonly outcome: ApprovalOutcome | null;
}

export interface NewApproval {
  readonly invocation: CanonicalInvocation;
  readonly principal: Principal;
  readonly decision: Decision;
}

export interface DecideRequest {
  readonly id: string;
  readonly verdict: ApprovalVerdict;
  readonly approver: string;
  /** The hash the approver signed; the transition happens only if it is the stored one. */
  readonly invocationHash: string;
  readonly nonce: string;
  /** Until when the nonce must be remembered (the statement's exp). */
  readonly nonceExpiresAtMs: number;
}

export interface ApprovalStoreOptions {
  readonly ttlMs: number;
  readonly maxPending: number;
  readonly maxPendingPerAgent: number;
  readonly now?: () => number;
}

export interface ApprovalStore {
  /** Stores a pending approval; RATE_LIMITED when a cap is reached (nothing stored). */
  add(approval: NewApproval): StoredApproval;
  get(id: string): StoredApproval | null;
  /** Approvals waiting for a decision now (not past their time). */
  pendingCount(): number;
  byInvocation(invocation: string): StoredApproval | null;
  list(filter?: { readonly status?: ApprovalStatus; readonly limit?: number }): StoredApproval[];
  /**
   * The single-use transition pending → approved/denied, in one transaction with the nonce:
   * exactly one of any number of concurrent decisions wins. An approve also marks the run
   * started. Throws an APPROVAL_* CordonError, having changed nothing, when it cannot happen.
   */
  decide(request: DecideRequest): StoredApproval;
  /** Whether a statement's nonce was spent (and is still remembered: until its statement's exp). */
  nonceUsed(nonce: string): boolean;
  /** Stores the outcome of an approved call's run (once). */
  finish(id: string, outcome: ApprovalOutcome): void;
  /** Marks pending approvals whose time is up as expired and returns them (for audit records). */
  expireDue(): StoredApproval[];
  close(): void;
}

export const APPROVALS_FILE = 'approvals.sqlite';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS approvals (
  id TEXT PRIMARY KEY,
  invocation_id TEXT NOT NULL UNIQUE,
  agent TEXT NOT NULL,
  invocation_json TEXT NOT NULL,
  invocation_hash TEXT NOT NULL,
  principal_json TEXT NOT NULL,
  decision_json TEXT NOT NULL,
  reason TEXT NOT NULL,
  policy_id TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
  decided_by TEXT,
  decided_at INTEGER,
  run TEXT NOT NULL DEFAULT 'none' CHECK (run IN ('none', 'running', 'done')),
  runner TEXT,
  outcome_json TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS approvals_pending ON approvals (status, expires_at);
CREATE INDEX IF NOT EXISTS approvals_agent ON approvals (agent, status);
CREATE TABLE IF NOT EXISTS used_nonces (
  nonce TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;
`;

/** A decided approval is kept this long for its waiting agent and the operator pages, then removed. */
const KEEP_DECIDED_MS = 7 * 86_400_000;

const INTERRUPTED: ApprovalOutcome = {
  kind: 'error',
  code: 'APPROVAL_RUN_INTERRUPTED',
  message: 'the approved call was running when Cordon stopped; it is not run again (check what it did, then ask again)',
  details: {},
};

type Row = Record<string, SQLInputValue>;

/** The approvals database under the data directory: `<dataDir>/approvals.sqlite`, mode 0600, WAL. */
export function openApprovalStore(dataDir: string, options: ApprovalStoreOptions): ApprovalStore {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, APPROVALS_FILE);
  // Created owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
  db.exec(SCHEMA);
  const now = options.now ?? Date.now;
  /** This process, as it is named on the runs it starts. */
  const runner = currentRunnerId();

  // A run cut by a crash may have done part of its work: it is reported failed, never run again.
  // Only runs whose runner process is gone: another process on this data directory (a `cordon run`
  // beside `cordon serve`) must not void the runs the live one is doing.
  const interrupt = db.prepare(`UPDATE approvals SET run = 'done', outcome_json = ? WHERE id = ? AND run = 'running'`);
  for (const row of db.prepare(`SELECT id, runner FROM approvals WHERE run = 'running'`).all()) {
    if (typeof row.runner !== 'string' || !isRunnerAlive(row.runner)) interrupt.run(JSON.stringify(INTERRUPTED), String(row.id));
  }
  db.prepare('DELETE FROM used_nonces WHERE expires_at <= ?').run(now());
  db.prepare(`DELETE FROM approvals WHERE status <> 'pending' AND COALESCE(decided_at, expires_at) <= ?`).run(now() - KEEP_DECIDED_MS);

  const q = {
    insert: db.prepare(`INSERT INTO approvals (id, invocation_id, agent, invocation_json, invocation_hash, principal_json, decision_json, reason, policy_id, created_at, expires_at, status)
      VALUES ($id, $inv, $agent, $invocation, $hash, $principal, $decision, $reason, $policy, $created, $expires, 'pending')`),
    countPending: db.prepare(`SELECT COUNT(*) AS n FROM approvals WHERE status = 'pending' AND expires_at > ?`),
    countAgentPending: db.prepare(`SELECT COUNT(*) AS n FROM approvals WHERE agent = ? AND status = 'pending' AND expires_at > ?`),
    byId: db.prepare('SELECT * FROM approvals WHERE id = ?'),
    byInvocation: db.prepare('SELECT * FROM approvals WHERE invocation_id = ?'),
    all: db.prepare('SELECT * FROM approvals ORDER BY created_at DESC, id DESC LIMIT ?'),
    // Status as reported: a pending row past its time is expired (see fromRow).
    byStatus: {
      pending: db.prepare(`SELECT * FROM approvals WHERE status = 'pending' AND expires_at > $now ORDER BY created_at DESC, id DESC LIMIT $limit`),
      expired: db.prepare(`SELECT * FROM approvals WHERE status = 'expired' OR (status = 'pending' AND expires_at <= $now) ORDER BY created_at DESC, id DESC LIMIT $limit`),
      decided: db.prepare(`SELECT * FROM approvals WHERE status = $status ORDER BY created_at DESC, id DESC LIMIT $limit`),
    },
    useNonce: db.prepare('INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING'),
    transition: db.prepare(`UPDATE approvals SET status = $status, decided_by = $approver, decided_at = $now, run = $run, runner = $runner
      WHERE id = $id AND status = 'pending' AND expires_at > $now AND invocation_hash = $hash`),
    finish: db.prepare(`UPDATE approvals SET run = 'done', outcome_json = ? WHERE id = ? AND run = 'running'`),
    expire: db.prepare(`UPDATE approvals SET status = 'expired' WHERE status = 'pending' AND expires_at <= ? RETURNING *`),
    pruneNonces: db.prepare('DELETE FROM used_nonces WHERE expires_at <= ?'),
    nonceUsed: db.prepare('SELECT 1 AS used FROM used_nonces WHERE nonce = ?'),
  };

  /** Runs fn in one write transaction (BEGIN IMMEDIATE: other processes' writers wait). */
  function transaction<T>(fn: () => T): T {
    db.exec('BEGIN IMMEDIATE');
    try {
      const value = fn();
      db.exec('COMMIT');
      return value;
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }

  const read = (row: Row | undefined): StoredApproval | null => (row === undefined ? null : fromRow(row, now()));

  return {
    add({ invocation, principal, decision }) {
      const created = now();
      const id = newId('apr');
      const policyId = decision.ruleId;
      return transaction(() => {
        const pending = Number(q.countPending.get(created)?.n ?? 0);
        if (pending >= options.maxPending) {
          throw new CordonError('RATE_LIMITED', `too many calls wait for approval (${options.maxPending}); retry later`, { details: { quota: 'approvals_pending', limit: options.maxPending } });
        }
        const mine = Number(q.countAgentPending.get(principal.agent, created)?.n ?? 0);
        if (mine >= options.maxPendingPerAgent) {
          throw new CordonError('RATE_LIMITED', `agent "${principal.agent}" has ${mine} calls waiting for approval, its limit; retry once some are decided`, { details: { quota: 'agent_approvals_pending', limit: options.maxPendingPerAgent } });
        }
        q.insert.run({
          $id: id,
          $inv: invocation.invocation,
          $agent: principal.agent,
          $invocation: JSON.stringify(invocation),
          $hash: invocationHash(invocation),
          $principal: JSON.stringify(principal),
          $decision: JSON.stringify(decision),
          $reason: decision.reason,
          $policy: policyId,
          $created: created,
          $expires: created + options.ttlMs,
        });
        return read(q.byId.get(id)) as StoredApproval;
      });
    },

    pendingCount: () => Number(q.countPending.get(now())?.n ?? 0),
    get: (id) => read(q.byId.get(id)),
    byInvocation: (invocation) => read(q.byInvocation.get(invocation)),

    list(filter = {}) {
      const at = now();
      const limit = Math.min(Math.max(Math.trunc(filter.limit ?? 1000), 1), 10_000);
      const status = filter.status;
      const rows =
        status === undefined ? q.all.all(limit)
        : status === 'pending' || status === 'expired' ? q.byStatus[status].all({ $now: at, $limit: limit })
        : q.byStatus.decided.all({ $status: status, $limit: limit });
      return rows.map((row) => fromRow(row, at));
    },

    decide(request) {
      const at = now();
      return transaction(() => {
        const used = q.useNonce.run(request.nonce, request.nonceExpiresAtMs);
        if (Number(used.changes) !== 1) throw new CordonError('APPROVAL_REPLAYED', 'this signed statement was already used (its nonce is spent); sign a new one', { details: { approval: request.id } });
        const changed = q.transition.run({
          $status: request.verdict === 'approve' ? 'approved' : 'denied',
          $approver: request.approver,
          $now: at,
          $run: request.verdict === 'approve' ? 'running' : 'none',
          $runner: request.verdict === 'approve' ? runner : null,
          $id: request.id,
          $hash: request.invocationHash,
        });
        if (Number(changed.changes) === 1) return read(q.byId.get(request.id)) as StoredApproval;
        // Not decided: say why. The throw rolls the nonce back, so a refused decision changes nothing.
        throw refusal(read(q.byId.get(request.id)), request);
      });
    },

    nonceUsed: (nonce) => q.nonceUsed.get(nonce) !== undefined,

    finish(id, outcome) {
      q.finish.run(JSON.stringify(outcome), id);
    },

    expireDue() {
      const at = now();
      q.pruneNonces.run(at);
      return q.expire.all(at).map((row) => fromRow(row, at));
    },

    close() {
      if (db.isOpen) db.close();
    },
  };
}

/** Why a conditional transition changed nothing, checked in the order a decision is judged. */
function refusal(current: StoredApproval | null, request: DecideRequest): CordonError {
  if (current === null) return new CordonError('APPROVAL_NOT_FOUND', `no approval ${request.id.slice(0, 64)}`, { details: { approval: request.id.slice(0, 64) } });
  const details = { approval: current.view.id, status: current.view.status };
  if (current.view.status === 'approved' || current.view.status === 'denied') {
    return new CordonError('APPROVAL_ALREADY_DECIDED', `approval ${current.view.id} was already ${current.view.status} by ${current.view.decidedBy ?? 'an approver'}`, { details: { ...details, decidedBy: current.view.decidedBy } });
  }
  if (current.view.status === 'expired') return new CordonError('APPROVAL_EXPIRED', `approval ${current.view.id} expired at ${current.view.expiresAt}`, { details });
  return new CordonError('APPROVAL_HASH_MISMATCH', `the signed invocationHash is not the hash of the call approval ${current.view.id} holds; nothing was decided`, { details: { ...details, invocationHash: current.view.invocationHash } });
}

function fromRow(row: Row, now: number): StoredApproval {
  const stored = String(row.status) as ApprovalStatus;
  const expiresAtMs = Number(row.expires_at);
  // A pending row past its time is expired whether or not the sweep has marked it yet.
  const status: ApprovalStatus = stored === 'pending' && expiresAtMs <= now ? 'expired' : stored;
  const decidedAt = row.decided_at === null ? null : new Date(Number(row.decided_at)).toISOString();
  const view: ApprovalView = Object.freeze({
    id: String(row.id),
    status,
    invocation: JSON.parse(String(row.invocation_json)) as CanonicalInvocation,
    invocationHash: String(row.invocation_hash),
    reason: String(row.reason),
    policyId: row.policy_id === null ? null : String(row.policy_id),
    createdAt: new Date(Number(row.created_at)).toISOString(),
    expiresAt: new Date(expiresAtMs).toISOString(),
    decidedBy: row.decided_by === null ? null : String(row.decided_by),
    decidedAt,
  });
  return Object.freeze({
    view,
    principal: JSON.parse(String(row.principal_json)) as Principal,
    decision: JSON.parse(String(row.decision_json)) as Decision,
    expiresAtMs,
    run: String(row.run) as RunState,
    outcome: row.outcome_json === null ? null : parseOutcome(String(row.outcome_json)),
  });
}

/** A stored outcome; an error code this build does not know reads as INTERNAL, never as success. */
function parseOutcome(text: string): ApprovalOutcome {
  const value = JSON.parse(text) as ApprovalOutcome;
  if (value.kind === 'result') return value;
  return value.code in ERROR_CODES ? value : { kind: 'error', code: 'INTERNAL', message: 'internal error', details: {} };
}

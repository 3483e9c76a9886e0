import type { ApprovalNotifier } from '../approvals/approval-notifier.ts';
import type { ApprovalOutcome, ApprovalStore, StoredApproval } from '../approvals/approval-store.ts';
import type { ApprovalService, CanonicalInvocation } from '../approvals/approval-types.ts';
import type { Approvers } from '../approvals/approvers.ts';
import { APPROVAL_ID, verifyDecision } from '../approvals/verify-decision.ts';
import type { AuditRecord, AuditSink } from '../audit/audit-sink.ts';
import type { RepeatAggregator } from '../audit/repeat-aggregator.ts';
import { APPROVER_NAME_PATTERN } from '../config/config-schema.ts';
import type { Decision } from '../core/decision.ts';
import { CordonError, toCordonError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import { principalUserKey, type Principal } from '../core/principal.ts';
import type { Redactor } from './redaction.ts';
import { record, type InvocationFacts } from './stages/record.ts';

/** What the agent is told about the approval its call waits for (the 202, and each poll while pending). */
export interface PendingApproval {
  readonly id: string;
  readonly reason: string;
  readonly policyId: string | null;
  readonly expiresAt: string;
}

/** The body a direct call answers; an approved call's poll answers the same. */
export interface InvocationBody {
  readonly id: string;
  readonly tool: string;
  readonly status: string;
  readonly output: unknown;
  readonly durationMs: number;
}

/** What `GET /v1/invocations/:id` answers with 200: still waiting, running, or the call's own body. */
export type InvocationState = { readonly id: string; readonly status: 'pending_approval' | 'running'; readonly approval: PendingApproval } | InvocationBody;

export interface ApprovalFlow extends ApprovalService {
  /** Holds a call policy sent to a human: stored (caps apply), recorded, and described for the 202. */
  request(invocation: CanonicalInvocation, principal: Principal, decision: Decision, facts: InvocationFacts): Promise<PendingApproval>;
  /**
   * The call's state for the principal that asked; anyone else's id reads as unknown. Waits up
   * to `waitMs` while it is pending or running, waking when it changes or the client leaves.
   * A denied, expired or refused call is thrown as the error the agent sees.
   */
  read(principal: Principal, invocationId: string, options: { readonly waitMs: number; readonly signal?: AbortSignal }): Promise<InvocationState>;
  /** Marks approvals whose time is up as expired, records and wakes them; returns how many. */
  expireDue(): Promise<number>;
  readonly maxWaitMs: number;
  /** Long-polls waiting right now (a client that left is no longer counted). */
  readonly waiting: number;
  /** Calls held for a human now: pending approvals not past their time. */
  readonly pending: number;
  /** Refuses new decisions, waits for approved calls still running, closes the store. */
  close(): Promise<void>;
}

export interface ApprovalFlowDeps {
  readonly store: ApprovalStore;
  readonly approvers: Approvers;
  readonly notifier: ApprovalNotifier;
  readonly audit: AuditSink;
  /** Refused decisions are counted here (anyone who reaches the operator listener can send them). */
  readonly repeats: RepeatAggregator;
  readonly logger: Logger;
  readonly redactor: Redactor;
  /** The groups of a call's agent and user, for approvers limited to groups. */
  readonly principalGroups: (invocation: CanonicalInvocation) => readonly string[];
  /** Runs exactly the stored call once, through the whole pipeline, as its stored principal. */
  readonly run: (approval: StoredApproval) => Promise<InvocationBody>;
  readonly maxWaitMs: number;
  /** How often expired approvals are swept into records (0: only when asked). */
  readonly sweepIntervalMs: number;
  readonly now?: () => number;
}

/**
 * Long-polls one agent may hold open at once. Each holds a connection and a listener until its
 * call is decided or its wait runs out: without a share, one agent could hold enough of them to
 * starve everyone else's connections. Past it, a poll is refused (429), not turned into a busy loop.
 */
export const MAX_WAITERS_PER_AGENT = 64;

export function createApprovalFlow(deps: ApprovalFlowDeps): ApprovalFlow {
  const now = deps.now ?? Date.now;
  const waitersByAgent = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let closed = false;
  const sweep = deps.sweepIntervalMs > 0 ? setInterval(() => void expireDue().catch((err: unknown) => deps.logger.error({ err }, 'approval sweep failed')), deps.sweepIntervalMs) : null;
  sweep?.unref();

  const pendingOf = (s: StoredApproval): PendingApproval => ({ id: s.view.id, reason: s.view.reason, policyId: s.view.policyId, expiresAt: s.view.expiresAt });

  /** An approval event's record, from what the store holds (the decision is in the `requested` record only). */
  async function recordEvent(s: StoredApproval, event: NonNullable<AuditRecord['approval']>['event'], approver?: string): Promise<void> {
    const inv = s.view.invocation;
    await record(deps.audit, deps.logger, 'approval', {
      requestId: null, principal: s.principal, tool: inv.tool, action: null, resource: null, sandbox: inv.sandbox, decision: null,
      outcome: event, durationMs: 0, input: inv.input, invocation: inv.invocation, session: inv.session,
      approval: { id: s.view.id, event, ...(approver === undefined ? {} : { approver }) },
    });
  }

  async function expireDue(): Promise<number> {
    const expired = deps.store.expireDue();
    for (const s of expired) {
      deps.notifier.notify(s.view.id);
      await recordEvent(s, 'expired');
    }
    return expired.length;
  }

  /**
   * A refused decision is a record: forgeries and replays are what an operator looks for. Only
   * values that pass the id and name patterns are kept (the rest is the sender's free text), and
   * repeats of one (code, approval, claimed approver) are counted, not written one by one.
   */
  async function recordRefused(signed: unknown, e: CordonError): Promise<void> {
    const statement = (signed as { statement?: { approvalId?: unknown; approver?: unknown } } | null)?.statement;
    const approvalId = typeof statement?.approvalId === 'string' && APPROVAL_ID.test(statement.approvalId) ? statement.approvalId : null;
    const claimed = typeof statement?.approver === 'string' && APPROVER_NAME_PATTERN.test(statement.approver) ? statement.approver : null;
    const reason = typeof e.details.reason === 'string' && /^[a-z_]{1,40}$/.test(e.details.reason) ? e.details.reason : '';
    const outcome = reason === '' ? e.code : `${e.code}:${reason}`;
    await deps.repeats.append(['approval-refused', outcome, approvalId ?? '', claimed ?? ''].join('\u0000'), {
      ts: new Date(now()).toISOString(),
      kind: 'approval',
      id: newId('aud'),
      requestId: null,
      agent: null,
      user: null,
      tokenId: null,
      tool: null,
      action: 'approval.decide',
      resource: approvalId === null ? null : `approval:${approvalId}`,
      sandbox: null,
      decision: null,
      outcome,
      durationMs: 0,
      inputSha256: null,
      approval: { id: approvalId, event: 'refused', ...(claimed === null ? {} : { claimedApprover: claimed }) },
    });
  }

  /** Runs the approved call once and stores what it ended with; its waiters wake either way. */
  async function runApproved(s: StoredApproval): Promise<void> {
    let outcome: ApprovalOutcome;
    try {
      outcome = { kind: 'result', body: { ...(await deps.run(s)) } };
    } catch (err) {
      const e = toCordonError(err);
      outcome = { kind: 'error', code: e.code, message: e.message, details: e.details };
    }
    try {
      // The result is kept on disk and shown later: known secrets never reach it.
      deps.store.finish(s.view.id, deps.redactor.value(outcome) as ApprovalOutcome);
    } catch (err) {
      deps.logger.error({ err, approval: s.view.id }, 'the approved call ran, but its result could not be stored');
    }
    deps.notifier.notify(s.view.id);
  }

  /** The answer for a call whose approval is settled, or null while the agent should wait. */
  function settled(s: StoredApproval): InvocationState | null {
    const status = s.view.status;
    if (status === 'expired') throw new CordonError('APPROVAL_EXPIRED', `no approver decided in time: the approval expired at ${s.view.expiresAt}; the call never ran`, { details: { approval: s.view.id } });
    if (status === 'denied') {
      throw new CordonError('APPROVAL_DENIED', `approver "${s.view.decidedBy ?? ''}" denied this call; it never ran`, { details: { approval: s.view.id, approver: s.view.decidedBy } });
    }
    if (status === 'approved' && s.outcome !== null) {
      if (s.outcome.kind === 'result') return s.outcome.body as unknown as InvocationBody;
      throw new CordonError(s.outcome.code, s.outcome.message, { details: { ...s.outcome.details, approval: s.view.id } });
    }
    return null;
  }

  return {
    maxWaitMs: deps.maxWaitMs,
    get waiting() {
      return deps.notifier.waiting;
    },
    get pending() {
      return deps.store.pendingCount();
    },

    async request(invocation, principal, decision, facts) {
      const stored = deps.store.add({ invocation, principal, decision });
      await record(deps.audit, deps.logger, 'approval', { ...facts, outcome: 'requested', approval: { id: stored.view.id, event: 'requested' } });
      return pendingOf(stored);
    },

    async read(principal, invocationId, options) {
      const deadline = now() + options.waitMs;
      for (;;) {
        const s = deps.store.byInvocation(invocationId);
        // Another principal's call reads exactly as an unknown id: no existence oracle.
        if (s === null || s.principal.agent !== principal.agent || principalUserKey(s.principal) !== principalUserKey(principal)) {
          throw new CordonError('INVOCATION_NOT_FOUND', `no invocation ${invocationId.slice(0, 64)} of yours waits for or went through approval`, { details: { invocation: invocationId.slice(0, 64) } });
        }
        const done = settled(s);
        if (done !== null) return done;
        const left = (s.view.status === 'pending' ? Math.min(deadline, s.expiresAtMs) : deadline) - now();
        if (left <= 0 && s.view.status === 'pending' && s.expiresAtMs <= now()) continue;
        if (left <= 0 || options.signal?.aborted === true) {
          return { id: s.view.invocation.invocation, status: s.view.status === 'pending' ? 'pending_approval' : 'running', approval: pendingOf(s) };
        }
        const held = waitersByAgent.get(principal.agent) ?? 0;
        if (held >= MAX_WAITERS_PER_AGENT) {
          throw new CordonError('RATE_LIMITED', `agent "${principal.agent}" already has ${MAX_WAITERS_PER_AGENT} long-polls open; poll with waitMs=0 or wait for one to return`, { details: { quota: 'agent_approval_waiters', limit: MAX_WAITERS_PER_AGENT, retryAfterSec: 1 } });
        }
        waitersByAgent.set(principal.agent, held + 1);
        try {
          await deps.notifier.wait(s.view.id, left, options.signal);
        } finally {
          const after = (waitersByAgent.get(principal.agent) ?? 1) - 1;
          if (after === 0) waitersByAgent.delete(principal.agent);
          else waitersByAgent.set(principal.agent, after);
        }
      }
    },

    list: (filter) => deps.store.list(filter).map((s) => s.view),
    get: (id) => deps.store.get(id)?.view ?? null,

    async decide(signed) {
      if (closed) throw new CordonError('UNAVAILABLE', 'Cordon is shutting down; decide again once it runs');
      let verified;
      try {
        verified = verifyDecision(signed, { approvers: deps.approvers, lookup: (id) => deps.store.get(id)?.view ?? null, principalGroups: deps.principalGroups, nonceUsed: deps.store.nonceUsed, now: now() });
      } catch (err) {
        await recordRefused(signed, toCordonError(err));
        throw err;
      }
      const { statement } = verified.signed;
      const decided = deps.store.decide({
        id: statement.approvalId,
        verdict: statement.decision,
        approver: verified.approver.name,
        invocationHash: statement.invocationHash,
        nonce: statement.nonce,
        nonceExpiresAtMs: statement.exp * 1000,
      });
      deps.notifier.notify(decided.view.id);
      await recordEvent(decided, statement.decision === 'approve' ? 'approved' : 'denied', verified.approver.name);
      if (statement.decision === 'approve') {
        const run = runApproved(decided).finally(() => running.delete(run));
        running.add(run);
      }
      return decided.view;
    },

    expireDue,

    async close() {
      closed = true;
      if (sweep !== null) clearInterval(sweep);
      while (running.size > 0) await Promise.allSettled([...running]);
      deps.store.close();
    },
  };
}

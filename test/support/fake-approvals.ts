import { createHash } from 'node:crypto';
import type { ApprovalService, ApprovalStatus, ApprovalView, CanonicalInvocation, SignedDecision } from '../../src/approvals/approval-types.ts';
import { canonicalJson } from '../../src/audit/canonical-json.ts';
import { newId } from '../../src/core/ids.ts';

/**
 * Stands in for the approval service behind the operator listener: holds views, records every
 * SignedDecision it is handed, and checks nothing itself, so a test sees exactly what the channel
 * sent (and proves the channel's own checks, not the service's).
 */
export interface FakeApprovals extends ApprovalService {
  readonly received: SignedDecision[];
  add(invocation: Partial<CanonicalInvocation> & { input: unknown }, extra?: Partial<ApprovalView>): ApprovalView;
}

export function invocationHashOf(invocation: CanonicalInvocation): string {
  return createHash('sha256').update(canonicalJson(invocation)).digest('hex');
}

export function createFakeApprovals(): FakeApprovals {
  const views = new Map<string, ApprovalView>();
  const received: SignedDecision[] = [];
  return {
    received,
    add(partial, extra = {}) {
      const invocation: CanonicalInvocation = {
        invocation: newId('inv'),
        tool: 'fs.write',
        agent: 'builder',
        user: { issuer: 'https://idp.example', subject: 'alice@example.com' },
        sandbox: null,
        profile: 'default',
        session: null,
        policyVersion: 'pv_1',
        ...partial,
      };
      const view: ApprovalView = {
        id: newId('apr'),
        status: 'pending',
        invocation,
        invocationHash: invocationHashOf(invocation),
        reason: 'writing outside drafts needs a human',
        policyId: 'approve-workspace-writes',
        createdAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
        decidedBy: null,
        decidedAt: null,
        ...extra,
      };
      views.set(view.id, view);
      return view;
    },
    list(filter = {}) {
      return [...views.values()].filter((v) => filter.status === undefined || v.status === filter.status);
    },
    get(id) {
      return views.get(id) ?? null;
    },
    async decide(signed) {
      received.push(signed);
      const view = views.get(signed.statement.approvalId);
      if (view === undefined) throw new Error('unknown approval');
      const status: ApprovalStatus = signed.statement.decision === 'approve' ? 'approved' : 'denied';
      const decided = { ...view, status, decidedBy: signed.statement.approver, decidedAt: new Date().toISOString() };
      views.set(view.id, decided);
      return decided;
    },
  };
}

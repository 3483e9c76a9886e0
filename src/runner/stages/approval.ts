import { invocationHash, type StoredApproval } from '../../approvals/approval-store.ts';
import type { CanonicalInvocation } from '../../approvals/approval-types.ts';
import type { Decision } from '../../core/decision.ts';
import { CordonError } from '../../core/errors.ts';
import type { Principal } from '../../core/principal.ts';
import { enforce } from './authorize.ts';
import type { RefusalSubject } from './refusal.ts';

/** The call exactly as it will run: what an approval is bound to and an approver signs. */
export function canonicalInvocation(
  id: string,
  tool: string,
  input: unknown,
  principal: Principal,
  placement: { readonly sandbox: string | null; readonly profile: string | null; readonly session: string | null },
  policyVersion: string,
): CanonicalInvocation {
  const user = principal.user === null ? null : { issuer: principal.user.issuer, subject: principal.user.subject };
  return { invocation: id, tool, input, agent: principal.agent, user, sandbox: placement.sandbox, profile: placement.profile, session: placement.session, policyVersion };
}

/**
 * Stage 4's verdict with approvals: `hold` when policy asks a human and this is not the approved
 * run of this very call; otherwise the call goes on or is refused as usual. An approval satisfies
 * only the require_approval of the call it is bound to: a deny decided now wins over it.
 */
export function gate(decision: Decision, approved: StoredApproval | null, subject: RefusalSubject): 'hold' | 'go' {
  if (decision.result === 'require_approval') return approved === null ? 'hold' : 'go';
  enforce(decision, subject);
  return 'go';
}

/**
 * Before an approved call runs: the call as the pipeline derived it again (tool, input,
 * principals, placement) must hash to what the approver signed, else it does not run.
 */
export function checkApprovedCall(approved: StoredApproval, call: CanonicalInvocation): void {
  const again = invocationHash({ ...call, policyVersion: approved.view.invocation.policyVersion });
  if (again !== approved.view.invocationHash) {
    throw new CordonError('APPROVAL_HASH_MISMATCH', `the call about to run is not the one approval ${approved.view.id} was signed for; it did not run`, { details: { approval: approved.view.id } });
  }
}

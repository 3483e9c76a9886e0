import type { PolicyDecision, PrincipalDecision } from './policy-decision.ts';
import type { LoadedPolicySet } from './policy-set.ts';

/**
 * A readable account of a decision: the result, each principal's deciding
 * policies with where they live, any evaluation error, and the request exactly
 * as Cedar evaluated it. Plain text, for `cordon policy explain` and denials.
 */
export function explainDecision(decision: PolicyDecision, set: LoadedPolicySet): string {
  const where = new Map(set.policies.map((p) => [p.id, `${p.file}:${p.line}`]));
  const lines: string[] = [`decision: ${decision.result}${decision.ruleId === null ? '' : ` (rule ${decision.ruleId})`}`, `reason:   ${decision.reason}`];
  const principal = (role: string, d: PrincipalDecision) => {
    lines.push(`${role} ${d.principal}: ${d.result}`);
    if (d.policyIds.length === 0 && d.errors.length === 0) lines.push('  no permit matched');
    for (const id of d.policyIds) {
      const p = set.policies.find((x) => x.id === id);
      const kind = p === undefined ? '' : `${p.effect}${p.approval ? ' @approval("required")' : ''} `;
      lines.push(`  ${kind}${id}  ${where.get(id) ?? ''}`.trimEnd());
    }
    for (const e of d.errors) lines.push(`  error${e.policyId === null ? '' : ` in ${e.policyId}`}: ${e.message}`);
  };
  principal('agent', decision.agentDecision);
  if (decision.userDecision !== undefined) principal('user ', decision.userDecision);
  const ev = decision.evaluated;
  lines.push('evaluated:');
  lines.push(`  principal: ${ev.principal.agent}${ev.principal.user === null ? '' : ` acting for ${ev.principal.user}`}`);
  lines.push(`  action:    ${ev.action}`);
  lines.push(`  resource:  ${ev.resource.uid} ${JSON.stringify(ev.resource.attributes)}`);
  lines.push(`  context:   ${JSON.stringify(ev.context)}`);
  lines.push(`policy set: ${decision.policyVersion}`);
  return lines.join('\n');
}

/**
 * The part of a decision that is safe and useful in an error body
 * (`POLICY_DENIED` / `APPROVAL_REQUIRED` details) and an audit record: the
 * deciding policy ids (empty means "no permit matched"), each principal's
 * own result, and what was evaluated. Plain JSON.
 */
export function decisionDetails(d: PolicyDecision): Record<string, unknown> {
  const principal = (p: PrincipalDecision) => ({ principal: p.principal, result: p.result, reason: p.reason, policyIds: p.policyIds });
  return {
    result: d.result,
    reason: d.reason,
    ruleId: d.ruleId,
    policyIds: d.policyIds,
    agent: principal(d.agentDecision),
    ...(d.userDecision === undefined ? {} : { user: principal(d.userDecision) }),
    evaluated: { principal: d.evaluated.principal, action: d.evaluated.action, resource: d.evaluated.resource.uid },
    policyVersion: d.policyVersion,
  };
}

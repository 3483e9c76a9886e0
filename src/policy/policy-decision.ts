import type { Decision, DecisionResult } from '../core/decision.ts';
import type { RequestContext } from './build-entities.ts';
import type { CedarValueJson } from './cedar.ts';

/** An evaluation error (or a request the schema refused); any one of these denies. */
export interface PolicyEvaluationError {
  /** `Agent::"id"` or `User::"id"`: whose evaluation failed. */
  readonly principal: string;
  /** The policy whose condition errored; null when the request itself was refused. */
  readonly policyId: string | null;
  readonly message: string;
}

/** One principal's decision. */
export interface PrincipalDecision extends Decision {
  readonly principal: string;
  /** The determining policies: satisfied permits on allow/approval, satisfied forbids (or erroring policies) on deny. */
  readonly policyIds: readonly string[];
  readonly errors: readonly PolicyEvaluationError[];
}

/** What was evaluated, as Cedar saw it (for explanations and the audit record). */
export interface EvaluatedRequest {
  readonly principal: { readonly agent: string; readonly user: string | null };
  readonly action: string;
  readonly resource: { readonly uid: string; readonly attributes: Readonly<Record<string, CedarValueJson>> };
  readonly context: RequestContext;
}

export interface PolicyDecision extends Decision {
  /** The policy-set version that decided. */
  readonly policyVersion: string;
  /**
   * The policies that determined the final result: those of the principal
   * whose decision was the stricter, or of both when they agree (agent's
   * first). Each principal's own are in agentDecision / userDecision.
   */
  readonly policyIds: readonly string[];
  readonly agentDecision: PrincipalDecision;
  /** Present when the agent acted for a user. */
  readonly userDecision?: PrincipalDecision;
  readonly evaluated: EvaluatedRequest;
  readonly errors: readonly PolicyEvaluationError[];
}

export interface PolicyExplanation extends PolicyDecision {
  /** Multi-line, readable: what decided and why, with the request as evaluated. */
  readonly explanation: string;
}

const SEVERITY: Record<DecisionResult, number> = { allow: 0, require_approval: 1, deny: 2 };

/**
 * Both principals must be allowed: the stricter of the two decisions wins
 * (deny over require_approval over allow). When they tie, the agent's
 * decision names the rule.
 */
export function combineDecisions(
  policyVersion: string,
  agent: PrincipalDecision,
  user: PrincipalDecision | undefined,
  evaluated: EvaluatedRequest,
): PolicyDecision {
  const decider = user !== undefined && SEVERITY[user.result] > SEVERITY[agent.result] ? user : agent;
  let reason = decider.reason;
  if (user !== undefined) {
    const part = (d: PrincipalDecision) => `${d.principal}: ${d.result} (${d.reason})`;
    reason = decider.result === 'allow' ? `both principals allowed; ${part(agent)}; ${part(user)}` : `${part(decider)}`;
    if (user.result === 'deny' && agent.result === 'deny') reason = `${part(agent)}; ${part(user)}`;
  }
  return deepFreeze({
    result: decider.result,
    reason,
    ruleId: decider.ruleId,
    policyVersion,
    policyIds: decidingIds(agent, user),
    agentDecision: agent,
    ...(user === undefined ? {} : { userDecision: user }),
    evaluated,
    errors: [...agent.errors, ...(user?.errors ?? [])],
  });
}

function decidingIds(agent: PrincipalDecision, user: PrincipalDecision | undefined): string[] {
  if (user === undefined || SEVERITY[agent.result] > SEVERITY[user.result]) return [...agent.policyIds];
  if (SEVERITY[user.result] > SEVERITY[agent.result]) return [...user.policyIds];
  return [...new Set([...agent.policyIds, ...user.policyIds])];
}

/** Cached decisions are shared between callers: nobody may change one. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

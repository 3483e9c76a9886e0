import { CordonError } from '../core/errors.ts';
import type { AuthzRequest, PrincipalFacts } from './authz-request.ts';
import { buildCedarParts, buildPrincipalEntity, formatUid, type CedarParts, type PrincipalType } from './build-entities.ts';
import { canonicaliseRequest, type CanonicalRequest } from './canonical-request.ts';
import { preparseSchema, statefulIsAuthorized, type AuthorizationAnswer } from './cedar.ts';
import type { DecisionCache } from './decision-cache.ts';
import { explainDecision } from './explain-decision.ts';
import { combineDecisions, type EvaluatedRequest, type PolicyDecision, type PolicyEvaluationError, type PolicyExplanation, type PrincipalDecision } from './policy-decision.ts';
import type { LoadedPolicySet, PolicyInfo } from './policy-set.ts';
import { createPolicySlices } from './policy-slices.ts';

export interface PolicyEngineOptions {
  /** Share one cache between engines if you like: keys carry the policy-set version. */
  readonly cache?: DecisionCache;
  /** Bound on preparsed policy slices kept in Cedar's storage (default 4096). */
  readonly maxSlices?: number;
}

export interface PolicyEngine {
  readonly version: string;
  readonly policySet: LoadedPolicySet;
  /**
   * Decides a request. Throws CordonError INPUT_INVALID only for a malformed
   * request; every other failure, including any policy evaluation error, is a
   * deny (fail closed).
   */
  decide(req: AuthzRequest): PolicyDecision;
  /** decide() plus a readable explanation. Runs nothing. */
  explain(req: AuthzRequest): PolicyExplanation;
  /** Frees the engine's preparsed state; the engine must not be used after. */
  close(): void;
}

let nextSchema = 0;

/**
 * Design: a delegated call is evaluated twice, once with the agent as
 * principal and once with the user, against the same action, resource and
 * context; the stricter result wins (see docs/policy.md).
 */
export function createPolicyEngine(set: LoadedPolicySet, options: PolicyEngineOptions = {}): PolicyEngine {
  const schemaName = `cordon-schema-${++nextSchema}-${set.version}`;
  const parsed = preparseSchema(schemaName, set.schema.text);
  if (parsed.type === 'failure') {
    throw new CordonError('CONFIG_INVALID', `${set.schema.file}: ${parsed.errors[0]?.message ?? 'schema does not parse'}`, { details: { source: 'policies' } });
  }
  const slices = createPolicySlices(set, { maxSlots: options.maxSlices });
  const byId = new Map<string, PolicyInfo>(set.policies.map((p) => [p.id, p]));
  const order = new Map<string, number>(set.policies.map((p, i) => [p.id, i]));
  const cache = options.cache;
  let closed = false;

  const byOrder = (ids: readonly string[]) => [...new Set(ids)].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  const isGate = (id: string) => byId.get(id)?.effect === 'forbid' && byId.get(id)?.approval === true;
  const needsApproval = (id: string) => byId.get(id)?.effect === 'permit' && byId.get(id)?.approval === true;

  type Outcome = { ok: true; decision: 'allow' | 'deny'; ids: string[] } | { ok: false; errors: PolicyEvaluationError[] };

  function run(type: PrincipalType, facts: PrincipalFacts, parts: CedarParts, withoutGates: boolean): Outcome {
    const principal = { type, id: facts.id };
    const label = formatUid(principal);
    let answer: AuthorizationAnswer;
    try {
      const slot = slices.slotFor({
        principalType: type,
        principalId: facts.id,
        groups: facts.groups,
        action: parts.action.id,
        resourceType: parts.resource.type,
        withoutGates,
      });
      answer = statefulIsAuthorized({
        principal,
        action: parts.action,
        resource: parts.resource,
        context: parts.context,
        entities: [buildPrincipalEntity(type, facts), parts.resourceEntity],
        preparsedSchemaName: schemaName,
        // Every request is checked against the schema: a request of the wrong
        // shape can make a forbid's condition error (and Cedar skips it) or a
        // `has` guard quietly false.
        validateRequest: true,
        preparsedPolicySetId: slot,
      });
    } catch (err) {
      return { ok: false, errors: [{ principal: label, policyId: null, message: `policy evaluation failed: ${(err as Error).message}` }] };
    }
    if (answer.type === 'failure') {
      return { ok: false, errors: answer.errors.map((e) => ({ principal: label, policyId: null, message: `request does not match the policy schema: ${e.message}` })) };
    }
    const { decision, diagnostics } = answer.response;
    // Cedar skips a policy whose condition errors, which silently drops a
    // forbid; any error at all therefore denies.
    if (diagnostics.errors.length > 0) {
      return { ok: false, errors: diagnostics.errors.map((e) => ({ principal: label, policyId: e.policyId, message: e.error.message })) };
    }
    return { ok: true, decision, ids: byOrder(diagnostics.reason) };
  }

  function failed(label: string, errors: PolicyEvaluationError[]): PrincipalDecision {
    const ids = byOrder(errors.flatMap((e) => (e.policyId === null ? [] : [e.policyId])));
    const first = errors[0];
    const what = first?.policyId ? `evaluation error in policy ${first.policyId}: ${first.message}` : (first?.message ?? 'evaluation failed');
    return {
      principal: label,
      result: 'deny',
      reason: `${what} (denied: any error denies)`,
      ruleId: ids[0] ?? null,
      policyIds: ids,
      errors,
    };
  }

  function decidePrincipal(type: PrincipalType, facts: PrincipalFacts, parts: CedarParts): PrincipalDecision {
    const label = formatUid({ type, id: facts.id });
    const out = run(type, facts, parts, false);
    if (!out.ok) return failed(label, out.errors);
    const base = { principal: label, errors: [] as PolicyEvaluationError[] };
    if (out.decision === 'allow') {
      const approvals = out.ids.filter(needsApproval);
      if (approvals.length > 0) {
        return { ...base, result: 'require_approval', reason: `allowed with approval by ${approvals.join(', ')}`, ruleId: approvals[0] ?? null, policyIds: out.ids };
      }
      return { ...base, result: 'allow', reason: `allowed by ${out.ids.join(', ')}`, ruleId: out.ids[0] ?? null, policyIds: out.ids };
    }
    if (out.ids.length === 0) return { ...base, result: 'deny', reason: 'no permit matched', ruleId: null, policyIds: [] };
    const hard = out.ids.filter((id) => !isGate(id));
    if (hard.length > 0) return { ...base, result: 'deny', reason: `denied by ${hard.join(', ')}`, ruleId: hard[0] ?? null, policyIds: out.ids };
    // Only approval gates denied: the call needs approval if, and only if, it
    // would be allowed without them. Gates never grant anything themselves.
    const without = run(type, facts, parts, true);
    if (!without.ok) return failed(label, without.errors);
    if (without.decision === 'deny') {
      const reason = without.ids.length === 0 ? 'no permit matched' : `denied by ${without.ids.join(', ')}`;
      return { ...base, result: 'deny', reason, ruleId: without.ids[0] ?? null, policyIds: without.ids };
    }
    return {
      ...base,
      result: 'require_approval',
      reason: `requires approval by ${out.ids.join(', ')} (otherwise allowed by ${without.ids.join(', ')})`,
      ruleId: out.ids[0] ?? null,
      policyIds: [...out.ids, ...without.ids],
    };
  }

  function evaluated(req: CanonicalRequest, parts: CedarParts): EvaluatedRequest {
    return {
      principal: { agent: formatUid({ type: 'Agent', id: req.agent.id }), user: req.user === null ? null : formatUid({ type: 'User', id: req.user.id }) },
      action: formatUid(parts.action),
      resource: { uid: formatUid(parts.resource), attributes: parts.resourceEntity.attrs },
      context: parts.context,
    };
  }

  function decide(req: AuthzRequest): PolicyDecision {
    if (closed) throw new CordonError('INTERNAL', 'policy engine used after close()');
    const canonical = canonicaliseRequest(req);
    const key = cache === undefined ? '' : `${set.version}\n${canonical.key}`;
    const hit = cache?.get(key);
    if (hit !== undefined) return hit;
    const parts = buildCedarParts(canonical);
    const agent = decidePrincipal('Agent', canonical.agent, parts);
    const user = canonical.user === null ? undefined : decidePrincipal('User', canonical.user, parts);
    const decision = combineDecisions(set.version, agent, user, evaluated(canonical, parts));
    cache?.set(key, decision);
    return decision;
  }

  return {
    version: set.version,
    policySet: set,
    decide,
    explain(req) {
      const decision = decide(req);
      return { ...decision, explanation: explainDecision(decision, set) };
    },
    close() {
      closed = true;
      slices.close();
    },
  };
}

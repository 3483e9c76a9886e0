import type { AuthorizationRequest, Authorizer } from '../core/authorization.ts';
import type { Principal, UserRef } from '../core/principal.ts';
import { deny } from '../core/decision.ts';
import type { AgentRegistry } from '../identity/agent-registry.ts';
import type { UserDirectory } from '../identity/user-directory.ts';
import { decisionDetails, mayEverPermit, resourceFromDescriptor, type AuthzRequest, type PolicyEngine, type PrincipalFacts } from '../policy/index.ts';

export interface PrincipalResolver {
  agent(id: string): PrincipalFacts | undefined;
  user(user: UserRef): PrincipalFacts;
}

/** Principal facts from config and registrations: what policies see as groups and attributes. */
export function createPrincipalResolver(agents: AgentRegistry, users: UserDirectory): PrincipalResolver {
  return {
    agent(id) {
      const a = agents.get(id);
      return a === undefined ? undefined : { id: a.id, groups: a.groups, attributes: a.attributes };
    },
    user(user) {
      // The Cedar User entity is named by the user's key (issuer and subject), so `User::"…"` and the
      // groups it carries are those of this issuer's user, never another issuer's user of the same name.
      const u = users.get(user);
      return { id: u.key, groups: u.groups, attributes: u.attributes };
    },
  };
}

/** The engine's request for one call; null when Cordon cannot describe the call (then it is denied). */
export function toAuthzRequest(req: AuthorizationRequest, principals: PrincipalResolver): AuthzRequest | string {
  const agent = principals.agent(req.principal.agent);
  if (agent === undefined) return `agent "${req.principal.agent}" is not registered`;
  const resource = resourceFromDescriptor(req.resource);
  if (resource === null) return `resource of type "${req.resource.type}" cannot be described to the policy engine`;
  return {
    agent,
    user: req.principal.user === null ? null : principals.user(req.principal.user),
    action: req.action,
    resource,
    context: {
      session: req.session,
      sandbox: { profile: req.sandbox.profile },
      annotations: { readOnlyHint: req.annotations.readOnlyHint === true, destructiveHint: req.annotations.destructiveHint === true },
    },
  };
}

/** The runner's authorization stage backed by the Cedar engine (both principals, session facts). */
export function createPolicyAuthorizer(engine: PolicyEngine, principals: PrincipalResolver): Authorizer {
  return {
    authorize(req) {
      const authz = toAuthzRequest(req, principals);
      if (typeof authz === 'string') return deny(authz, null);
      const d = engine.decide(authz);
      return { result: d.result, reason: d.reason, ruleId: d.ruleId, details: decisionDetails(d) };
    },
    mayEverAllow(principal: Principal, actions) {
      // A delegated call needs both principals allowed (docs/policy.md): some one action must
      // have a permit in scope for the agent and for the user alike.
      const agent = principals.agent(principal.agent);
      if (agent === undefined) return false;
      const user = principal.user === null ? null : principals.user(principal.user);
      const set = engine.policySet;
      return actions.some(
        (action) =>
          mayEverPermit(set, { type: 'Agent', id: agent.id, groups: agent.groups }, [action]) &&
          (user === null || mayEverPermit(set, { type: 'User', id: user.id, groups: user.groups }, [action])),
      );
    },
  };
}

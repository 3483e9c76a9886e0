import type { Authorizer } from '../../core/authorization.ts';
import type { PolicyEngine } from '../../policy/index.ts';
import { createPolicyAuthorizer, createPrincipalResolver } from '../policy-authorizer.ts';
import type { IdentityWiring } from './identity.ts';

export interface PolicyWiring {
  readonly policy: PolicyEngine;
  readonly authorizer: Authorizer;
}

/**
 * What may be done: the Cedar engine (compiled with the live set, where a bad policy stops start-up
 * naming file, line and reason; a view of the current one) behind the runner's authorizer.
 */
export function wirePolicy(policy: PolicyEngine, identity: Pick<IdentityWiring, 'agents' | 'users'>): PolicyWiring {
  return { policy, authorizer: createPolicyAuthorizer(policy, createPrincipalResolver(identity.agents, identity.users)) };
}

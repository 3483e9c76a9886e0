import type { CordonConfig } from '../../config/config-schema.ts';
import type { Authorizer } from '../../core/authorization.ts';
import { createDecisionCache, createPolicyEngine, loadPolicySet, type PolicyEngine } from '../../policy/index.ts';
import { createPolicyAuthorizer, createPrincipalResolver } from '../policy-authorizer.ts';
import type { IdentityWiring } from './identity.ts';

export interface PolicyWiring {
  readonly policy: PolicyEngine;
  readonly authorizer: Authorizer;
}

/** What may be done: the Cedar policies, compiled once; a bad policy stops start-up naming file, line and reason. */
export function wirePolicy(config: CordonConfig, identity: Pick<IdentityWiring, 'agents' | 'users'>): PolicyWiring {
  const policy = createPolicyEngine(loadPolicySet(config.policyDir), { cache: createDecisionCache({ maxEntries: 10_000 }) });
  return { policy, authorizer: createPolicyAuthorizer(policy, createPrincipalResolver(identity.agents, identity.users)) };
}

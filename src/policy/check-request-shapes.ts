import type { AuthzResource } from './authz-request.ts';
import { buildCedarParts, buildPrincipalEntity, type PrincipalType } from './build-entities.ts';
import { canonicaliseRequest } from './canonical-request.ts';
import { isAuthorized } from './cedar.ts';
import type { PolicyProblem } from './policy-set.ts';

/**
 * Proves at load that the requests Cordon builds match the schema, for every
 * action and every principal and resource type it applies to. The shape of
 * what build-entities produces depends only on the action and the types, not
 * on the values, so one sample per shape finds any mismatch (an attribute
 * renamed or retyped in the schema, tags removed) at start-up, rather than as
 * a deny on every call at run time.
 */

const SAMPLES: Record<string, AuthzResource> = {
  File: { kind: 'file', path: '/workspace/sample.txt' },
  Url: { kind: 'url', scheme: 'https', host: 'sample.test', port: 443, path: '/', method: 'GET', trusted: false },
  Language: { kind: 'language', language: 'javascript' },
  SandboxProfile: { kind: 'profile', profile: 'default' },
};
const PRINCIPALS: readonly PrincipalType[] = ['Agent', 'User'];

export interface ActionTypes {
  readonly principalTypes: readonly string[];
  readonly resourceTypes: readonly string[];
}

export function checkRequestShapes(schemaFile: string, schemaText: string, actions: ReadonlyMap<string, ActionTypes>): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const facts = { id: 'sample', groups: ['sample-group'], attributes: { sample: 'x' } };
  for (const [action, types] of actions) {
    if (types.principalTypes.length === 0) continue; // an action group
    const principals = PRINCIPALS.filter((p) => types.principalTypes.includes(p));
    const resources = types.resourceTypes.filter((r) => r in SAMPLES);
    if (principals.length === 0 || resources.length === 0) {
      problems.push({ severity: 'warning', file: schemaFile, reason: `action "${action}" applies to no principal (Agent, User) or no resource (${Object.keys(SAMPLES).join(', ')}) that Cordon builds, so every request for it is denied` });
      continue;
    }
    for (const principal of principals) {
      for (const resourceType of resources) {
        const req = canonicaliseRequest({
          agent: facts,
          user: principal === 'User' ? facts : null,
          action,
          resource: SAMPLES[resourceType] as AuthzResource,
          context: {
            session: { untrusted_content: false, sensitive_read: false, egress_hosts: ['sample.test'], calls: 0 },
            sandbox: { profile: 'default' },
            annotations: { readOnlyHint: false, destructiveHint: false },
          },
        });
        const parts = buildCedarParts(req);
        const answer = isAuthorized({
          principal: { type: principal, id: facts.id },
          action: parts.action,
          resource: parts.resource,
          context: parts.context,
          schema: schemaText,
          validateRequest: true,
          policies: { staticPolicies: {} },
          entities: [buildPrincipalEntity(principal, facts), parts.resourceEntity],
        });
        if (answer.type === 'failure') {
          const why = answer.errors.map((e) => e.message).join('; ');
          problems.push({ severity: 'error', file: schemaFile, reason: `the schema does not accept the requests Cordon builds for "${action}" (${principal} on ${resourceType}): ${why}` });
        }
      }
    }
  }
  return problems;
}

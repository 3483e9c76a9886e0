import type { PrincipalType } from './build-entities.ts';
import { scopeMayApply } from './policy-scope.ts';
import type { LoadedPolicySet } from './policy-set.ts';

/** A principal as its policies see it: type, id (a user's key) and flat groups. */
export interface PermitSubject {
  readonly type: PrincipalType;
  readonly id: string;
  readonly groups: readonly string[];
}

/**
 * Whether some `permit` policy's scope (principal, action, resource type) may apply to this
 * principal for at least one of `actions`: "could any call of these actions ever be allowed?"
 *
 * This over-approximates on purpose. Conditions (`when`/`unless`) are not evaluated, forbids
 * are not subtracted, and a permit that needs an approval counts as a permit. It is used to
 * decide what a caller is *shown* (MCP tools/list), never what it may *do*: every call is still
 * decided by the engine in full. Answering "maybe" too often shows a tool whose call is then
 * denied; answering "no" wrongly would hide a tool the caller may use, which the scope check
 * cannot do (policy-scope.ts keeps any scope form it does not understand).
 */
export function mayEverPermit(set: LoadedPolicySet, subject: PermitSubject, actions: readonly string[]): boolean {
  const permits = set.policies.filter((p) => p.effect === 'permit');
  return actions.some((action) => {
    const actionAncestors = set.actionAncestors.get(action) ?? [action];
    // The schema says which resource types an action applies to; a policy naming another type
    // cannot apply. An action the schema does not declare fails request validation, so no call
    // of it can ever be allowed (no resource types: nothing is asked, the answer is no).
    const resourceTypes = set.actionTypes.get(action)?.resourceTypes ?? [];
    return permits.some((p) => resourceTypes.some((resourceType) => scopeMayApply(p, { principal: { type: subject.type, id: subject.id }, groups: subject.groups, actionAncestors, resourceType })));
  });
}

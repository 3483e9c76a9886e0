import type { PrincipalType } from './build-entities.ts';
import { actionScopeMayMatch, scopeMayApply } from './policy-scope.ts';
import type { LoadedPolicySet, PolicyInfo } from './policy-set.ts';

/** A principal as its policies see it: type, id (a user's key) and flat groups. */
export interface PermitSubject {
  readonly type: PrincipalType;
  readonly id: string;
  readonly groups: readonly string[];
}

/** Per policy set (a reload makes a new one): permits by action, and answers already given. */
interface SetIndex {
  readonly permitsByAction: Map<string, readonly PolicyInfo[]>;
  readonly answers: Map<string, boolean>;
}

/** Answers kept per policy set; past this the memo starts over (a listing is cheap to redo). */
const MAX_ANSWERS = 10_000;
const indexes = new WeakMap<LoadedPolicySet, SetIndex>();

function indexOf(set: LoadedPolicySet): SetIndex {
  let index = indexes.get(set);
  if (index === undefined) {
    index = { permitsByAction: new Map(), answers: new Map() };
    indexes.set(set, index);
  }
  return index;
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
  return actions.some((action) => mayEverPermitAction(set, subject, action));
}

function mayEverPermitAction(set: LoadedPolicySet, subject: PermitSubject, action: string): boolean {
  const index = indexOf(set);
  // Sorted groups: the same principal is one key whatever order its groups came in.
  const key = `${subject.type}\n${subject.id}\n${[...subject.groups].sort().join('\n')}\n\n${action}`;
  const known = index.answers.get(key);
  if (known !== undefined) return known;
  const actionAncestors = set.actionAncestors.get(action) ?? [action];
  let permits = index.permitsByAction.get(action);
  if (permits === undefined) {
    permits = set.policies.filter((p) => p.effect === 'permit' && actionScopeMayMatch(p, actionAncestors));
    index.permitsByAction.set(action, permits);
  }
  // The schema says which resource types an action applies to; a policy naming another type
  // cannot apply. An action the schema does not declare fails request validation, so no call
  // of it can ever be allowed (no resource types: nothing is asked, the answer is no).
  const resourceTypes = set.actionTypes.get(action)?.resourceTypes ?? [];
  const principal = { type: subject.type, id: subject.id };
  const answer = permits.some((p) => resourceTypes.some((resourceType) => scopeMayApply(p, { principal, groups: subject.groups, actionAncestors, resourceType })));
  if (index.answers.size >= MAX_ANSWERS) index.answers.clear();
  index.answers.set(key, answer);
  return answer;
}

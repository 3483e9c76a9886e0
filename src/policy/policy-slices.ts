import { CordonError } from '../core/errors.ts';
import { preparsePolicySet } from './cedar.ts';
import { actionScopeMayMatch, scopeMayApply } from './policy-scope.ts';
import type { LoadedPolicySet, PolicyInfo } from './policy-set.ts';
import type { PrincipalType } from './build-entities.ts';

/**
 * Preparsed sub-sets of a policy set, one per distinct list of policies that
 * can apply to a (principal, groups, action, resource type). Each list is
 * preparsed once in Cedar's wasm storage under a slot name; identical lists
 * share a slot. See policy-scope.ts for why slicing cannot change a decision.
 *
 * Preparsed sets cannot be deleted from Cedar's storage, only overwritten, so
 * the number of slots is bounded: past `maxSlots` the least recently used
 * slot is overwritten with the new list.
 */

export interface SliceSubject {
  readonly principalType: PrincipalType;
  readonly principalId: string;
  /** Sorted, de-duplicated. */
  readonly groups: readonly string[];
  readonly action: string;
  readonly resourceType: string;
  /** Leave out approval-gate forbids: "would this be allowed without the gates?" */
  readonly withoutGates: boolean;
}

export interface PolicySlices {
  /** The preparsed policy-set id to evaluate this subject against. */
  slotFor(subject: SliceSubject): string;
  readonly stats: () => { slots: number; subjects: number };
  /** Overwrites every slot with an empty set, freeing the wasm memory. */
  close(): void;
}

export interface PolicySlicesOptions {
  readonly maxSlots?: number;
  readonly maxSubjects?: number;
}

let nextEngine = 0;

export function createPolicySlices(set: LoadedPolicySet, options: PolicySlicesOptions = {}): PolicySlices {
  const maxSlots = options.maxSlots ?? 4096;
  const maxSubjects = options.maxSubjects ?? 65_536;
  const prefix = `cordon-${++nextEngine}-${set.version}`;
  const order = new Map(set.policies.map((p, i) => [p, i]));

  // Policies by concrete action: an action's bucket holds every policy whose
  // action scope can match it (directly or through an action group).
  const byAction = new Map<string, readonly PolicyInfo[]>();

  // subject key → list key; list key → slot (Map order = recency).
  const subjects = new Map<string, string>();
  const slots = new Map<string, string>();
  let slotCount = 0;

  function bucket(action: string): readonly PolicyInfo[] {
    let list = byAction.get(action);
    if (list === undefined) {
      // An action the schema does not know fails request validation anyway.
      const ancestors = set.actionAncestors.get(action) ?? [action];
      list = set.policies.filter((p) => actionScopeMayMatch(p, ancestors));
      if (byAction.size < maxSubjects) byAction.set(action, list);
    }
    return list;
  }

  function listFor(s: SliceSubject): readonly PolicyInfo[] {
    const subject = {
      principal: { type: s.principalType, id: s.principalId },
      groups: s.groups,
      actionAncestors: set.actionAncestors.get(s.action) ?? [s.action],
      resourceType: s.resourceType,
    };
    // bucket() keeps set order, so equal lists always get the same key.
    return bucket(s.action).filter((p) => !(s.withoutGates && p.effect === 'forbid' && p.approval) && scopeMayApply(p, subject));
  }

  function preparse(listKey: string, list: readonly PolicyInfo[]): string {
    let name: string | undefined;
    if (slotCount >= maxSlots) {
      const oldest = slots.entries().next().value;
      if (oldest !== undefined) {
        slots.delete(oldest[0]);
        name = oldest[1];
      }
    }
    name ??= `${prefix}:${slotCount++}`;
    const answer = preparsePolicySet(name, { staticPolicies: Object.fromEntries(list.map((p) => [p.id, p.text])) });
    if (answer.type === 'failure') {
      throw new CordonError('INTERNAL', 'could not preparse a policy slice', { details: { errors: answer.errors.map((e) => e.message) } });
    }
    slots.set(listKey, name);
    return name;
  }

  return {
    slotFor(s: SliceSubject): string {
      // JSON, not a separator join: ids may contain any character, and two
      // subjects must never share a key (a shared key would share a slice).
      const subjectKey = JSON.stringify([s.withoutGates, s.action, s.principalType, s.principalId, s.resourceType, s.groups]);
      let listKey = subjects.get(subjectKey);
      let list: readonly PolicyInfo[] | undefined;
      if (listKey === undefined) {
        list = listFor(s);
        listKey = list.map((p) => order.get(p)).join(',');
        if (subjects.size >= maxSubjects) subjects.clear();
        subjects.set(subjectKey, listKey);
      }
      const slot = slots.get(listKey);
      if (slot !== undefined) {
        slots.delete(listKey);
        slots.set(listKey, slot);
        return slot;
      }
      return preparse(listKey, list ?? listFor(s));
    },
    stats: () => ({ slots: slots.size, subjects: subjects.size }),
    close(): void {
      for (const name of slots.values()) preparsePolicySet(name, { staticPolicies: {} });
      slots.clear();
      subjects.clear();
    },
  };
}

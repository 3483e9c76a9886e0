import type { ActionConstraint, PrincipalConstraint, ResourceConstraint } from './cedar.ts';

/** One policy, as loaded from a .cedar file. */
export interface PolicyInfo {
  /** From the policy's `@id("...")` annotation; unique across the set. */
  readonly id: string;
  readonly effect: 'permit' | 'forbid';
  /**
   * `@approval("required")`. On a permit: the permit grants, but only with an
   * approval. On a forbid: the forbid is an approval gate — it turns what
   * would otherwise be allowed into require_approval (it never grants).
   */
  readonly approval: boolean;
  readonly file: string;
  /** 1-based line of the policy's first character (its first annotation). */
  readonly line: number;
  readonly text: string;
  /** The policy's scope, as Cedar parsed it; used to slice the set per request. */
  readonly scope: {
    readonly principal: PrincipalConstraint;
    readonly action: ActionConstraint;
    readonly resource: ResourceConstraint;
  };
}

export interface PolicyProblem {
  readonly severity: 'error' | 'warning';
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly policyId?: string;
  readonly reason: string;
}

export interface PolicySource {
  /** A path for messages (the file it came from, or a label). */
  readonly file: string;
  readonly text: string;
}

export interface PolicySetSources {
  readonly schema: PolicySource;
  readonly policies: readonly PolicySource[];
}

/** A validated policy set: what an engine is created from. Immutable. */
export interface LoadedPolicySet {
  /** A hash of the schema and every policy file: changes whenever any of them does. */
  readonly version: string;
  readonly schema: PolicySource;
  readonly policies: readonly PolicyInfo[];
  /** Each action the schema declares → itself and every action group it is in (transitively). */
  readonly actionAncestors: ReadonlyMap<string, readonly string[]>;
  /** Each action → the principal and resource types it applies to (empty for an action group). */
  readonly actionTypes: ReadonlyMap<string, { readonly principalTypes: readonly string[]; readonly resourceTypes: readonly string[] }>;
  /** Validator warnings (for example a policy that can never apply); not fatal. */
  readonly warnings: readonly PolicyProblem[];
}

/** `file:line:column: policy "id": reason` — the form every problem is printed in. */
export function formatPolicyProblem(p: PolicyProblem): string {
  const where = [p.file, p.line, p.column].filter((x) => x !== undefined).join(':');
  const who = p.policyId === undefined ? '' : `policy "${p.policyId}": `;
  return `${where}: ${p.severity === 'warning' ? 'warning: ' : ''}${who}${p.reason}`;
}

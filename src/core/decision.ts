/** What every authorization step (policy, egress) answers. */
export type DecisionResult = 'allow' | 'deny' | 'require_approval';

export interface Decision {
  readonly result: DecisionResult;
  /** Human-readable; safe to show to the caller. */
  readonly reason: string;
  /** The rule or policy that decided, or null when nothing matched (default deny). */
  readonly ruleId: string | null;
  /** Plain JSON for error bodies and audit records: deciding policy ids per principal, what was evaluated. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export function allow(reason: string, ruleId: string | null): Decision {
  return Object.freeze({ result: 'allow', reason, ruleId });
}

export function deny(reason: string, ruleId: string | null = null): Decision {
  return Object.freeze({ result: 'deny', reason, ruleId });
}

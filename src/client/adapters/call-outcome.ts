/**
 * What became of a call, in any of the shapes a caller holds: the runner API's answer bodies
 * (200 result, 202 pending approval, `{error: {…}}` refusal) or an error a client threw
 * (`{code, message, details}`, as CordonError has).
 */
export type CordonOutcome =
  | { readonly id?: string; readonly tool?: string; readonly status: string; readonly output: unknown; readonly durationMs?: number }
  | { readonly id: string; readonly status: 'pending_approval' | 'running'; readonly approval: { readonly id: string; readonly reason?: string; readonly expiresAt?: string } }
  | { readonly error: { readonly code: string; readonly message: string; readonly details?: Readonly<Record<string, unknown>> } }
  | { readonly code: string; readonly message: string; readonly details?: Readonly<Record<string, unknown>>; readonly status?: number };

export type OutcomeKind = 'result' | 'tool_failed' | 'pending_approval' | 'refused';

export interface DescribedOutcome {
  readonly kind: OutcomeKind;
  /** What the model reads. */
  readonly text: string;
  /** The model should treat it as a failure (Anthropic's is_error). */
  readonly isError: boolean;
}

// Details are facts (the field, the rule); a model gets them only while they stay short.
const MAX_DETAILS_CHARS = 1000;

function json(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

function refused(code: string, message: string, details: Readonly<Record<string, unknown>> | undefined): DescribedOutcome {
  const shown = details === undefined || Object.keys(details).length === 0 ? '' : json(details);
  const extra = shown === '' || shown.length > MAX_DETAILS_CHARS ? '' : ` Details: ${shown}`;
  return { kind: 'refused', isError: true, text: `Cordon refused this call, so the tool did not run (${code}): ${message}.${extra}` };
}

/**
 * One outcome → what a model should read. Four cases, kept apart because a model should act
 * differently on each: a result (use it), the tool's own failure (its code ran and failed: fix
 * the code or input), a pending approval (nothing ran yet: do not retry, it runs once a person
 * approves), and a refusal by Cordon (policy, input, limits: the tool never ran).
 */
export function describeOutcome(outcome: CordonOutcome): DescribedOutcome {
  if ('error' in outcome && typeof outcome.error === 'object' && outcome.error !== null) return refused(String(outcome.error.code), String(outcome.error.message), outcome.error.details);
  if ('approval' in outcome && (outcome.status === 'pending_approval' || outcome.status === 'running')) {
    const a = outcome.approval;
    const state = outcome.status === 'running' ? 'was approved and is running now' : 'waits for a person to approve it';
    const why = a.reason === undefined ? '' : ` Reason it needs approval: ${a.reason}.`;
    const until = a.expiresAt === undefined ? '' : ` The approval expires at ${a.expiresAt}.`;
    return {
      kind: 'pending_approval',
      isError: false,
      text: `This call has not run yet: it ${state} (invocation ${outcome.id}, approval ${a.id}).${why}${until} Do not call it again; its result comes once it is decided.`,
    };
  }
  if ('output' in outcome && 'status' in outcome) {
    if (outcome.status === 'ok') return { kind: 'result', isError: false, text: json(outcome.output) };
    const tool = outcome.tool === undefined ? 'The tool' : `The tool ${outcome.tool}`;
    return { kind: 'tool_failed', isError: true, text: `${tool} ran and failed (status ${outcome.status}). Its output: ${json(outcome.output)}` };
  }
  // Last: a thrown error may carry other fields too (an HTTP status, a cause).
  if ('code' in outcome && typeof outcome.code === 'string') return refused(outcome.code, String(outcome.message), outcome.details);
  return refused('INTERNAL', 'the answer from Cordon was not one an adapter understands', undefined);
}

import type { AuthorizationRequest, Authorizer } from '../../core/authorization.ts';
import type { Decision } from '../../core/decision.ts';
import { deny } from '../../core/decision.ts';
import type { Principal } from '../../core/principal.ts';
import type { SessionFactsSnapshot } from '../../core/session-facts.ts';
import type { ResourceContext } from '../../tools/tool.ts';
import type { RegisteredTool } from '../../tools/tool-registry.ts';
import { refusalError, type RefusalSubject } from './refusal.ts';

/** One action as the authorizer sees it: a tool call, or a request a sandbox makes. */
export interface ActionCall {
  readonly tool: string;
  readonly action: string;
  /** Derives the resource; may throw (then the call is denied). */
  readonly resource: () => AuthorizationRequest['resource'];
  readonly annotations: AuthorizationRequest['annotations'];
}

/** Every action a tool call takes: its own, then any extra ones (all must be allowed). */
export function toolCalls(tool: RegisteredTool, input: unknown, context: ResourceContext): ActionCall[] {
  const d = tool.definition;
  const annotations = d.annotationsFor?.(input) ?? d.annotations;
  const first: ActionCall = { tool: d.name, action: d.action(input), resource: () => d.resource(input, context), annotations };
  return [first, ...(d.extraActions?.(input, context) ?? []).map((extra) => ({ tool: d.name, action: extra.action, resource: () => extra.resource, annotations }))];
}

/** A call's decision and the action it is about (the first one not allowed, else the last). */
export interface Decided {
  readonly decision: Decision;
  readonly call: ActionCall | null;
}

/** Decides each action in turn; the first that is not allowed is the call's decision. */
export async function authorizeAll(authorizer: Authorizer, principal: Principal, calls: readonly ActionCall[], sandbox: { id: string; profile: string }, session: SessionFactsSnapshot): Promise<Decided> {
  let decided: Decided = { decision: deny('the call takes no action; denied (fail closed)'), call: null };
  for (const call of calls) {
    decided = { decision: await authorize(authorizer, principal, call, sandbox, session), call };
    if (decided.decision.result !== 'allow') return decided;
  }
  return decided;
}

/** Stage 4: ask the authorizer; any failure inside it is a denial (fail closed). */
export async function authorize(authorizer: Authorizer, principal: Principal, call: ActionCall, sandbox: { id: string; profile: string }, session: SessionFactsSnapshot): Promise<Decision> {
  const verb = call.action;
  // A token's scope narrows what it can do; it never widens what policy allows.
  if (principal.scope !== null && !principal.scope.includes(verb)) {
    return deny(`the token's scope (${principal.scope.join(' ')}) does not include ${verb}`, 'token-scope');
  }
  let decision: Decision;
  try {
    decision = await authorizer.authorize({
      principal,
      tool: call.tool,
      action: verb,
      resource: call.resource(),
      annotations: call.annotations,
      sandbox: { id: sandbox.id, profile: sandbox.profile },
      session,
    });
  } catch {
    decision = deny('the authorization step failed; denied (fail closed)');
  }
  if (decision.result !== 'allow' && decision.result !== 'deny' && decision.result !== 'require_approval') {
    decision = deny('the authorization step returned no decision; denied (fail closed)');
  }
  return decision;
}

/** The resource an action is about, for a refusal's message; null when it cannot be derived. */
export function resourceOf(call: ActionCall | null): { type: string; id: string } | null {
  if (call === null) return null;
  try {
    const r = call.resource();
    return { type: r.type, id: r.id };
  } catch {
    return null;
  }
}

/** Throws the refusal the caller sees (refusal.ts) unless the decision allows. */
export function enforce(decision: Decision, subject: RefusalSubject): void {
  if (decision.result === 'allow') return;
  throw refusalError(decision, subject);
}

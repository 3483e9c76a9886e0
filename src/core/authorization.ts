import type { Decision } from './decision.ts';
import type { Principal } from './principal.ts';
import type { SessionFactsSnapshot } from './session-facts.ts';

/** Everything the authorization step sees about one call, all derived by Cordon. */
export interface AuthorizationRequest {
  readonly principal: Principal;
  readonly tool: string;
  /** The tool's verb, e.g. `code.exec`. */
  readonly action: string;
  readonly resource: { readonly type: string; readonly id: string; readonly attributes?: Readonly<Record<string, string | number | boolean>> };
  readonly annotations: { readonly readOnlyHint?: boolean; readonly destructiveHint?: boolean };
  readonly sandbox: { readonly id: string; readonly profile: string };
  /** Facts of the session this call belongs to, before this call. */
  readonly session: SessionFactsSnapshot;
}

/** Deny by default; must never throw for a well-formed request (errors deny). */
export interface Authorizer {
  authorize(request: AuthorizationRequest): Decision | Promise<Decision>;
  /**
   * Whether any call of one of `actions` could ever be allowed for this principal (each of its
   * principals: the agent, and the user when delegated), from the policies' scopes alone.
   * It decides what a caller is shown (MCP tools/list), never what it may do. Over-approximates:
   * true may still be denied call by call; false means no call of these actions can be allowed.
   * Required, so a wrapper that forgets to forward it does not compile (one that did showed
   * every tool to every caller).
   */
  mayEverAllow(principal: Principal, actions: readonly string[]): boolean;
}

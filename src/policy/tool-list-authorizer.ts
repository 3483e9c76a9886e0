import type { Authorizer } from '../core/authorization.ts';
import { allow, deny } from '../core/decision.ts';

/** Looks up the tools an agent may call; undefined for an unknown agent. */
export type ToolGrants = (agentId: string) => readonly string[] | undefined;

/**
 * The interim rule until the capability engine lands: an agent may call the
 * tools its config entry lists, and nothing else.
 */
export function createToolListAuthorizer(grants: ToolGrants): Authorizer {
  return {
    authorize(request) {
      const tools = grants(request.principal.agent);
      if (tools === undefined) return deny(`agent "${request.principal.agent}" is not registered`, null);
      if (tools.includes(request.tool)) return allow(`agent "${request.principal.agent}" lists tool "${request.tool}"`, `agents/${request.principal.agent}/tools`);
      return deny(`agent "${request.principal.agent}" may not call tool "${request.tool}": no grant (deny by default)`, null);
    },
  };
}

import type { Authorizer } from '../../core/authorization.ts';
import type { Decision } from '../../core/decision.ts';
import { deny } from '../../core/decision.ts';
import { CordonError } from '../../core/errors.ts';
import type { Principal } from '../../core/principal.ts';
import type { RegisteredTool } from '../../tools/tool-registry.ts';
import type { SandboxIdentity } from './sandbox.ts';

/** Stage 4: ask the authorizer; any failure inside it is a denial (fail closed). */
export async function authorize(authorizer: Authorizer, principal: Principal, tool: RegisteredTool, input: unknown, sandbox: SandboxIdentity): Promise<Decision> {
  let decision: Decision;
  try {
    const resource = tool.definition.resource(input);
    decision = await authorizer.authorize({
      principal,
      tool: tool.definition.name,
      action: tool.definition.verb,
      resource,
      annotations: tool.definition.annotations,
      sandbox: { id: sandbox.id, profile: sandbox.profile },
    });
  } catch {
    decision = deny('the authorization step failed; denied (fail closed)');
  }
  if (decision.result !== 'allow' && decision.result !== 'deny' && decision.result !== 'require_approval') {
    decision = deny('the authorization step returned no decision; denied (fail closed)');
  }
  return decision;
}

/** Turns a non-allow decision into the error the caller sees. */
export function enforce(decision: Decision): void {
  if (decision.result === 'allow') return;
  if (decision.result === 'require_approval') {
    throw new CordonError('APPROVAL_REQUIRED', `this call needs approval: ${decision.reason}`, { details: { decision } });
  }
  throw new CordonError('POLICY_DENIED', `denied: ${decision.reason}`, { details: { decision } });
}

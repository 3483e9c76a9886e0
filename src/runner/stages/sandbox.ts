import { CordonError } from '../../core/errors.ts';
import type { Principal } from '../../core/principal.ts';
import type { OpenEgress, Sandbox, SandboxIdentity, SandboxManager, SandboxProfile } from '../../sandbox/index.ts';
import type { CallLimits } from '../../tools/tool.ts';
import type { RegisteredTool } from '../../tools/tool-registry.ts';

/**
 * The session a session sandbox's calls share. The '#' is not allowed in a session id a
 * client names, so no call outside the sandbox can join its session.
 */
export function sandboxSessionKey(sandboxId: string): string {
  return `#sandbox/${sandboxId}`;
}

export interface SandboxSettings {
  readonly defaultProfile: string;
  /** The egress policy for this principal and tool: the agent's override, else the tool's, else the profile's. */
  egressPolicyFor(agent: string, tool: string | null, profile: SandboxProfile): string | null;
  /** Whether content under this egress policy counts as trusted (a URL resource's `trusted`). */
  egressTrusted(policy: string | null): boolean;
}

/** The sandbox a call will run in: its identity now, the sandbox itself once the call is allowed. */
export interface CallSandbox {
  readonly identity: SandboxIdentity;
  readonly profile: SandboxProfile;
  readonly limits: CallLimits;
  /** The session sandbox's own session, when the call runs in one. */
  readonly sessionKey: string | null;
  start(open: OpenEgress): Promise<Sandbox>;
  /** Per-call sandboxes end with their call; session sandboxes live on. */
  finish(sandbox: Sandbox | null): Promise<void>;
}

/** The profile a request names; INPUT_INVALID listing the others when there is none. */
export function namedProfile(manager: SandboxManager, name: string): SandboxProfile {
  const profile = manager.profile(name);
  if (profile === undefined) {
    const known = manager.profiles().map((p) => p.name).join(', ');
    throw new CordonError('INPUT_INVALID', `body/profile: no sandbox profile named ${JSON.stringify(name.slice(0, 64))}; there are: ${known}`, { details: { field: '/profile', reason: 'unknown profile' } });
  }
  return profile;
}

function mustOffer(profile: SandboxProfile, toolName: string, field: '/profile' | '/tool'): SandboxProfile {
  if (profile.tools.includes(toolName)) return profile;
  throw new CordonError('INPUT_INVALID', `sandbox profile "${profile.name}" does not offer tool "${toolName}"; it offers: ${profile.tools.join(', ')}`, { details: { field, reason: 'tool not offered' } });
}

/** Which profile a call without a sandbox runs in: the one it names, else the default, else the first that offers the tool. */
function profileFor(manager: SandboxManager, settings: SandboxSettings, toolName: string, named: string | undefined): SandboxProfile {
  if (named !== undefined) return mustOffer(namedProfile(manager, named), toolName, '/profile');
  const preferred = manager.profile(settings.defaultProfile);
  if (preferred !== undefined && preferred.tools.includes(toolName)) return preferred;
  const any = manager.profiles().find((p) => p.tools.includes(toolName));
  if (any === undefined) throw new CordonError('INPUT_INVALID', `no sandbox profile offers tool "${toolName}"`, { details: { field: '/tool', reason: 'no profile offers it' } });
  return any;
}

/**
 * Stage 3: the sandbox this call runs in — the caller's named session sandbox,
 * or a fresh one from a profile — and the call's limits within that profile.
 * Nothing is created yet: that waits for the authorization step.
 */
export function sandboxForCall(
  manager: SandboxManager,
  settings: SandboxSettings,
  principal: Principal,
  tool: RegisteredTool,
  input: unknown,
  request: { readonly sandbox?: string; readonly profile?: string },
): CallSandbox {
  if (request.sandbox !== undefined) {
    const { sandbox, profile } = manager.session(principal, request.sandbox);
    if (request.profile !== undefined && request.profile !== profile.name) {
      throw new CordonError('INPUT_INVALID', `body/profile: sandbox ${sandbox.identity.id} runs profile "${profile.name}", not "${request.profile.slice(0, 64)}"`, { details: { field: '/profile', reason: 'does not match the sandbox' } });
    }
    mustOffer(profile, tool.definition.name, '/tool');
    const limits = tool.definition.limits(input, profile);
    return { identity: sandbox.identity, profile, limits, sessionKey: sandboxSessionKey(sandbox.identity.id), start: async () => sandbox, finish: async () => {} };
  }
  const profile = profileFor(manager, settings, tool.definition.name, request.profile);
  const limits = tool.definition.limits(input, profile);
  const egressPolicy = settings.egressPolicyFor(principal.agent, tool.definition.name, profile);
  const pending = manager.forCall(principal, profile, egressPolicy, limits.timeoutMs);
  return {
    identity: pending.identity,
    profile,
    limits,
    sessionKey: null,
    start: (open) => pending.start(open),
    finish: async (sandbox) => {
      await sandbox?.dispose();
    },
  };
}

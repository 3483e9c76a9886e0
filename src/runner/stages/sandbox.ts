import { newId } from '../../core/ids.ts';
import type { Principal } from '../../core/principal.ts';
import type { RegisteredTool } from '../../tools/tool-registry.ts';

/**
 * The identity a sandbox carries for its whole life. Its traffic and records
 * are attributed to it; the egress layer learns it from the channel traffic
 * arrives on, never from anything the sandbox says.
 */
export interface SandboxIdentity {
  readonly id: string;
  /** `spiffe://<trust-domain>/sandbox/<profile>/<id>` */
  readonly uri: string;
  readonly profile: string;
  readonly backend: 'isolate';
  /** Name of the egress policy; null means no egress at all. */
  readonly egressPolicy: string | null;
  readonly agent: string;
  readonly user: string | null;
  readonly createdAt: number;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
}

export interface SandboxSettings {
  readonly trustDomain: string;
  /** Egress policy for this principal and tool: the agent's override, else the tool's, else none. */
  egressPolicyFor(agent: string, tool: string): string | null;
}

/**
 * Stage 3: a new sandbox for this call. The isolate itself is created only when
 * the call is allowed to execute; this stage fixes its identity.
 */
export function createSandbox(principal: Principal, tool: RegisteredTool, timeoutMs: number, settings: SandboxSettings): SandboxIdentity {
  const now = Date.now();
  const backend = tool.definition.backends[0] ?? 'isolate';
  const profile = `${backend}-default`;
  const id = newId('sbx');
  return Object.freeze({
    id,
    uri: `spiffe://${settings.trustDomain}/sandbox/${profile}/${id}`,
    profile,
    backend: 'isolate' as const,
    egressPolicy: settings.egressPolicyFor(principal.agent, tool.definition.name),
    agent: principal.agent,
    user: principal.user,
    createdAt: now,
    // A little past the tool's own limit: the sandbox's credentials die with it.
    expiresAt: Math.ceil((now + timeoutMs) / 1000) + 5,
  });
}

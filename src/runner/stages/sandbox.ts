import { newId } from '../../core/ids.ts';
import type { Principal } from '../../core/principal.ts';
import type { RegisteredTool } from '../../tools/tool-registry.ts';

/** The identity a sandbox carries for its whole life; its traffic and records are attributed to it. */
export interface SandboxIdentity {
  readonly id: string;
  readonly profile: string;
  readonly backend: 'isolate';
  readonly agent: string;
  readonly user: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/**
 * Stage 3: a new sandbox for this call. The isolate itself is created only when
 * the call is allowed to execute; this stage fixes its identity.
 */
export function createSandbox(principal: Principal, tool: RegisteredTool, timeoutMs: number): SandboxIdentity {
  const now = Date.now();
  const backend = tool.definition.backends[0] ?? 'isolate';
  return Object.freeze({
    id: newId('sbx'),
    profile: `${backend}-default`,
    backend: 'isolate' as const,
    agent: principal.agent,
    user: principal.user,
    createdAt: now,
    expiresAt: now + timeoutMs,
  });
}

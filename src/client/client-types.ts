/** What a tool call ended with, when it ran (`status` is the tool's own: its code may have failed). */
export type ToolStatus = 'ok' | 'error' | 'timeout' | 'oom';

export interface ToolResult<O = unknown> {
  readonly id: string;
  readonly tool: string;
  readonly status: ToolStatus;
  readonly output: O;
  readonly durationMs: number;
}

/** Why a call is held and until when (the 202, and each poll while it waits). */
export interface PendingApproval {
  readonly id: string;
  readonly reason: string;
  readonly policyId: string | null;
  readonly expiresAt: string;
}

/**
 * A call policy held for a human: it has not run (`pending_approval`), or it was approved and is
 * running now (`running`, seen only while waiting). Pass it to waitForApproval().
 */
export interface HeldCall {
  readonly id: string;
  readonly status: 'pending_approval' | 'running';
  readonly approval: PendingApproval;
}

/** Every answer of run(): switch on `status`. */
export type RunResult<O = unknown> = ToolResult<O> | HeldCall;

export function isHeld(result: RunResult<unknown>): result is HeldCall {
  return result.status === 'pending_approval' || result.status === 'running';
}

export interface ToolDescriptor {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Record<string, unknown>;
  readonly outputSchema: Record<string, unknown>;
  readonly annotations: Readonly<Record<string, unknown>>;
}

export interface SandboxInfo {
  readonly id: string;
  readonly profile: string;
  readonly identity: {
    readonly uri: string;
    readonly backend: string;
    readonly egressPolicy: string | null;
    readonly agent: string;
    readonly user: string | null;
  };
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** Where a call runs: a session sandbox, a session key, or a one-off sandbox of a profile. */
export interface RunOptions {
  /** A sandbox id from sandboxes.create(). */
  readonly sandbox?: string;
  /** A session key: calls with the same key share facts (and the chain rules that read them). */
  readonly session?: string;
  /** The sandbox profile for a one-off call. */
  readonly profile?: string;
  readonly signal?: AbortSignal;
  /** Overrides the client's timeoutMs for this call. */
  readonly timeoutMs?: number;
}

export interface WaitOptions {
  /** How long to wait in all; when it passes the call is returned still held. Default 15 minutes. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

import type { Readable } from 'node:stream';
import type { SandboxChannel } from '../egress/index.ts';
import type { HostFetch } from './sandbox-fetch.ts';
import type { BackendKind, SandboxIdentity } from './sandbox-identity.ts';
import type { SandboxWorkspace } from './workspace/index.ts';

/** The sandbox's way out, opened with it and closed with it (sandbox-manager.ts). */
export interface SandboxEgress {
  /** The fetch a backend may hand its code (isolates); bound to the sandbox's identity. */
  readonly fetch: HostFetch;
  /**
   * The sandbox's own proxy channel (a unix socket, and loopback credentials), for backends
   * whose code makes its own connections (containers, browsers). Opened on first use, with the
   * same checks as `fetch`; closed with the egress.
   */
  channel(placement?: ChannelPlacement): Promise<SandboxChannel>;
  close(): void;
}

/** Where a container's egress socket goes: its own run directory, reachable by its unprivileged user. */
export interface ChannelPlacement {
  readonly socketPath: string;
}

export interface SandboxSpec {
  readonly identity: SandboxIdentity;
  /** Lives across calls (a session sandbox) instead of serving one call. */
  readonly persistent: boolean;
  /** The heap a persistent sandbox is created with. */
  readonly memoryMb: number;
  readonly egress: SandboxEgress | null;
}

export interface CodeRunRequest {
  readonly language: string;
  readonly source: string;
  readonly memoryMb: number;
  /** Wall-clock limit for the whole run, including awaited promises. */
  readonly timeoutMs: number;
  /** CPU time the run may use; at most timeoutMs. */
  readonly cpuTimeMs: number;
  readonly outputBytes: number;
  readonly resultBytes: number;
  /**
   * Aborted when the caller went away: a waiting call leaves the queue, a running one is
   * stopped as an overrun would be, and the run rejects with CALL_CANCELLED.
   */
  readonly signal?: AbortSignal;
}

export type RunStatus = 'ok' | 'error' | 'timeout' | 'oom';

export interface CodeRunResult {
  readonly status: RunStatus;
  readonly value?: unknown;
  readonly error?: { readonly name: string; readonly message: string; readonly line?: number; readonly column?: number };
  readonly stdout: string;
  readonly stderr: string;
  readonly truncated: boolean;
  readonly durationMs: number;
  /** A shell's exit status (container sandboxes); absent where there is no process. */
  readonly exitCode?: number;
}

/** How much one move of files into or out of a sandbox's workspace may carry. */
export interface FileTransferCaps {
  /** File contents, summed. */
  readonly maxBytes: number;
  /** Entries, files and directories alike. */
  readonly maxFiles: number;
}

/** Files read out of a workspace: a tar stream, and what it leaves out. */
export interface WorkspaceArchive extends Readable {
  /** Regular files in it, and their bytes. */
  readonly files: number;
  readonly bytes: number;
  /** A cap left something out (more entries than maxFiles, or a file that did not fit: never cut, left out whole). */
  readonly truncated: boolean;
  /** What was not read and why (symlink, too_large, not_a_file, …); the first 100. */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

export interface Sandbox {
  readonly identity: SandboxIdentity;
  readonly persistent: boolean;
  /** Its way out, opened with it and closed with it; null: no network at all. */
  readonly egress: SandboxEgress | null;
  /** False once disposed, or once what ran it died (a persistent sandbox's state is gone). */
  alive(): boolean;
  /** Runs code; calls to one persistent sandbox run one at a time, in order. */
  run(request: CodeRunRequest): Promise<CodeRunResult>;
  /** Its workspace root, for the file tools (a host folder for isolates, /workspace in a container). */
  readonly workspace: SandboxWorkspace;
  /**
   * Writes a tar archive's files and directories into the workspace, in the sandbox's turn
   * like a call. The whole archive is checked first: a bad one (a link, `..`, over a cap) is
   * refused with INPUT_INVALID and changes nothing. Session sandboxes only.
   */
  writeFiles?(archive: Readable, caps: FileTransferCaps): Promise<{ files: number; bytes: number }>;
  /** Reads a file or a directory tree of the workspace as a tar archive; links are not followed. Session sandboxes only. */
  readFiles?(path: string, caps: FileTransferCaps): Promise<WorkspaceArchive>;
  dispose(): Promise<void>;
  /** Called once when the sandbox ends for any reason (disposed, its host died). */
  onEnd(listener: (reason: string) => void): void;
}

export interface SandboxBackend {
  readonly kind: BackendKind;
  create(spec: SandboxSpec): Promise<Sandbox>;
  stats(): Readonly<Record<string, number>>;
  close(): Promise<void>;
}

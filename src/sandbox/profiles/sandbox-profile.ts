import { CordonError } from '../../core/errors.ts';

/**
 * A sandbox profile: what `sandboxes/<name>.yaml` says, validated and
 * deep-frozen once at load. Nothing here is re-read per call.
 */
export type ProfileBackend = 'isolate' | 'container';

export interface SandboxProfile {
  /** Equals the file's basename without `.yaml` / `.yml`. */
  readonly name: string;
  /** Absolute path the profile was loaded from. */
  readonly file: string;
  readonly backend: ProfileBackend;
  readonly description: string;
  /** Non-empty; a subset of what the backend can run. */
  readonly languages: readonly string[];
  /** Tool names allowed in this profile's sandboxes; non-empty. */
  readonly tools: readonly string[];
  /** Name of an egress policy, or null: no network at all. */
  readonly egressPolicy: string | null;
  /**
   * Workspace paths whose reading sets the session fact `sensitive_read` (globs: `*`, `**`, `?`;
   * a pattern without a slash matches a name at any depth, like `.env`). Empty: none.
   */
  readonly sensitivePaths: readonly string[];
  readonly limits: SandboxLimits;
  readonly session: SandboxSessionLimits;
  /** The container backend's settings; null for other backends. */
  readonly container: ContainerSettings | null;
}

/** What a container profile adds: its image, how code runs in it, and its own limits. */
export interface ContainerSettings {
  /** An image recipe's name (sandboxes/images/<name>.yaml); the image is cordon/<name>:<recipe hash>. */
  readonly image: string;
  /** runc (Docker's default) or runsc (gVisor). */
  readonly runtime: 'runc' | 'runsc';
  /** The unprivileged uid code runs as; >= 1000. */
  readonly user: number;
  /** Non-secret environment for code in the sandbox. */
  readonly env: Readonly<Record<string, string>>;
  /** CPU as a share of cores (0.5 = half a core). */
  readonly cpus: number;
  /** Processes and threads at once. */
  readonly pids: number;
  /** Size of the writable /workspace (tmpfs). */
  readonly workspaceMb: number;
  /** Size of /tmp (tmpfs, noexec). */
  readonly tmpMb: number;
  /** Started containers kept ready for this profile (0: none). */
  readonly warmPool: number;
}

export interface SandboxLimits {
  /** Default heap per call (a container's memory limit). */
  readonly memoryMb: number;
  /** Most a call may ask for; >= memoryMb. */
  readonly maxMemoryMb: number;
  /** Default wall-clock limit per call. */
  readonly timeoutMs: number;
  /** Most a call may ask for; >= timeoutMs. */
  readonly maxTimeoutMs: number;
  /** stdout + stderr cap per call. */
  readonly outputBytes: number;
  /** Result value cap per call. */
  readonly resultBytes: number;
}

export interface SandboxSessionLimits {
  /** A session sandbox unused this long is disposed. */
  readonly idleTtlMs: number;
  /** Hard lifetime of a session sandbox; >= idleTtlMs. */
  readonly maxTtlMs: number;
  /** Live session sandboxes one (agent, user) may hold of this profile. */
  readonly maxPerPrincipal: number;
}

/**
 * One thing wrong with a profile: file, 1-based line (0 when the problem is not
 * inside the file, e.g. it cannot be read), the field (`limits.memoryMb`,
 * `tools[1]`; `(file)` / `(yaml)` / `(dir)` for the file, its syntax or the
 * directory), and what to fix.
 */
export interface SandboxProfileProblem {
  readonly file: string;
  readonly line: number;
  readonly field: string;
  readonly reason: string;
}

export function formatProfileProblem(p: SandboxProfileProblem): string {
  return `${p.file}:${p.line}: ${p.field}: ${p.reason}`;
}

/** CONFIG_INVALID for one or more problems; the message's first line and details name the first. */
export function profileError(problems: readonly SandboxProfileProblem[]): CordonError {
  const first = problems[0] ?? { file: '(unknown)', line: 0, field: '(file)', reason: 'invalid sandbox profile' };
  const shown = problems.slice(0, 20).map(formatProfileProblem);
  const more = problems.length > shown.length ? `\n… and ${problems.length - shown.length} more` : '';
  return new CordonError('CONFIG_INVALID', `${shown.join('\n') || formatProfileProblem(first)}${more}`, {
    details: { file: first.file, line: first.line, field: first.field, reason: first.reason, problems },
  });
}

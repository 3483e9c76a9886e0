import { CordonError } from '../../core/errors.ts';
import { MAX_PATH_BYTES, parseWorkspacePath, workspaceResourcePath, type SandboxProfile, type WorkspacePath } from '../../sandbox/index.ts';
import type { BackendKind, CallLimits, JsonSchema, ToolResource } from '../tool.ts';

/** What one file.write or file.edit may write, and one file.edit may read, whatever the profile. */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** A path an agent names: checked again, hostile, by parseWorkspacePath before anything runs. */
export const PATH_SCHEMA: JsonSchema = {
  type: 'string',
  minLength: 1,
  // Characters, not bytes: the byte limit is checked when the path is parsed.
  maxLength: MAX_PATH_BYTES,
  description: 'A path inside the workspace: relative ("src/app.ts") or under /workspace ("/workspace/src/app.ts"). No "..", no symlinks on the way.',
};

/** The workspace path in `input[field]`; FS_INVALID_PATH / FS_OUTSIDE_WORKSPACE name the field. */
export function inputPath(input: Readonly<Record<string, unknown>>, field: string): WorkspacePath {
  try {
    return parseWorkspacePath(input[field]);
  } catch (err) {
    if (err instanceof CordonError) throw new CordonError(err.code, `input/${field}: ${err.message}`, { cause: err, details: { ...err.details, field: `/${field}` } });
    throw err;
  }
}

/** The resource policy sees: the canonical path under /workspace (no `..`, no `.`, no trailing slash). */
export function fileResource(path: WorkspacePath): ToolResource {
  return { type: 'file', id: workspaceResourcePath(path) };
}

/**
 * File tools run on the host (isolate profiles) or through the executor (containers);
 * neither runs agent code, so a call gets the profile's default limits, and the
 * profile's result cap bounds what a read returns.
 */
export function fileCallLimits(profile: SandboxProfile): CallLimits {
  const l = profile.limits;
  return { timeoutMs: l.timeoutMs, memoryMb: l.memoryMb, outputBytes: l.outputBytes, resultBytes: l.resultBytes };
}

/** The path as tools answer it: relative to the workspace root ('' is the root itself). */
export function shownPath(path: WorkspacePath): string {
  return path.relative;
}

/** `input.path` (or another field) as a parsed workspace path. */
export function pathOf(input: object, field = 'path'): WorkspacePath {
  return inputPath(input as Readonly<Record<string, unknown>>, field);
}

/** What every file tool shares: both backends, no network, the profile's default limits. */
export const FILE_TOOL = {
  backends: ['isolate', 'container'] as readonly BackendKind[],
  offline: true,
  limits: (_input: unknown, profile: SandboxProfile): CallLimits => fileCallLimits(profile),
} as const;

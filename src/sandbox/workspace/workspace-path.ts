import { CordonError } from '../../core/errors.ts';

/** Where the workspace appears inside a sandbox; agents may name paths under it. */
export const SANDBOX_WORKSPACE = '/workspace';

export const MAX_PATH_BYTES = 1024;
export const MAX_COMPONENT_BYTES = 255;
export const MAX_DEPTH = 64;

/** A path an agent named, checked and split into components below the workspace root. */
export interface WorkspacePath {
  /** Normalised components; empty for the workspace root itself. */
  readonly components: readonly string[];
  /** `a/b/c`, or '' for the root. */
  readonly relative: string;
}

// C0 controls and DEL, plus C1 controls, plus the bidirectional formatting characters
// (the "Trojan Source" set): no legitimate file name needs them, and they let a name
// render differently in logs, approvals and terminals than on disk ("txt.exe" shown as
// "exe.txt" to the operator who approves a write).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

function invalid(reason: string, message: string): CordonError {
  return new CordonError('FS_INVALID_PATH', message, { details: { reason } });
}

/**
 * Parses a hostile path string into components, deciding everything before any byte
 * on disk is touched. Only syntax is checked here; symlinks are refused by the walk.
 *
 * - Relative paths are inside the workspace; absolute paths must be under /workspace
 *   (the sandbox's view) and are mapped to relative ones. Any other absolute path is
 *   refused rather than guessed at.
 * - `.` and repeated slashes are dropped; `..` is refused, never resolved: resolving it
 *   lexically would disagree with the kernel as soon as a component is a symlink, and
 *   no agent needs it to name a path inside its own workspace.
 * - Backslashes are refused: Linux would take them as part of a name, while an agent
 *   that writes `a\b` almost always means a separator, so either reading is a surprise.
 * - Percent escapes and Unicode lookalikes (`%2e%2e`, U+2025, fullwidth dots) are not
 *   decoded: they stay literal names, which the kernel also treats as plain names.
 */
export function parseWorkspacePath(input: unknown): WorkspacePath {
  if (typeof input !== 'string') throw invalid('not_a_string', 'a workspace path must be a string');
  if (input.includes('\0')) throw invalid('nul_byte', 'a workspace path must not contain NUL bytes');
  if (CONTROL.test(input)) throw invalid('control_character', 'a workspace path must not contain control characters');
  if (input.includes('\\')) {
    throw invalid('backslash', `a workspace path must use "/" as its separator, not "\\" (got ${JSON.stringify(input)})`);
  }
  if (Buffer.byteLength(input, 'utf8') > MAX_PATH_BYTES) {
    throw invalid('path_too_long', `a workspace path must be at most ${MAX_PATH_BYTES} bytes`);
  }
  let rest = input;
  if (rest.startsWith('/')) {
    if (rest !== SANDBOX_WORKSPACE && !rest.startsWith(`${SANDBOX_WORKSPACE}/`)) {
      throw new CordonError(
        'FS_OUTSIDE_WORKSPACE',
        `${JSON.stringify(input)} is outside the workspace: use a relative path or one under ${SANDBOX_WORKSPACE}/`,
        { details: { reason: 'absolute_path' } },
      );
    }
    rest = rest.slice(SANDBOX_WORKSPACE.length);
  }
  const components: string[] = [];
  for (const part of rest.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new CordonError('FS_OUTSIDE_WORKSPACE', `${JSON.stringify(input)} contains "..": name the path from the workspace root instead`, {
        details: { reason: 'dot_dot' },
      });
    }
    if (Buffer.byteLength(part, 'utf8') > MAX_COMPONENT_BYTES) {
      throw invalid('component_too_long', `each part of a workspace path must be at most ${MAX_COMPONENT_BYTES} bytes`);
    }
    components.push(part);
  }
  if (components.length > MAX_DEPTH) throw invalid('too_deep', `a workspace path may be at most ${MAX_DEPTH} levels deep`);
  return { components, relative: components.join('/') };
}

/** The canonical resource path policy sees for a workspace path: `/workspace/<normalised>`. */
export function workspaceResourcePath(path: WorkspacePath): string {
  return path.relative === '' ? SANDBOX_WORKSPACE : `${SANDBOX_WORKSPACE}/${path.relative}`;
}

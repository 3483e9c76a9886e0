/**
 * A path inside a sandbox's workspace, as files move in and out (container-files.ts): one
 * normal form ('a/b/c', '' for the workspace itself) and the same limits both ways, so what
 * comes out can go back in.
 */
export const MAX_PATH_BYTES = 1024;
export const MAX_COMPONENT_BYTES = 255;
export const MAX_PATH_DEPTH = 64;

export type PathProblem = 'absolute' | 'parent_reference' | 'nul' | 'not_utf8' | 'path_too_long' | 'component_too_long' | 'too_deep';

export type WorkspacePath =
  | { readonly ok: true; readonly path: string; readonly parts: readonly string[] }
  | { readonly ok: false; readonly reason: PathProblem; readonly message: string };

/**
 * Normalises a relative path: `./` prefixes, empty and `.` components and a trailing `/` go;
 * an absolute path, any `..` and NUL are refused rather than resolved, so no spelling of a
 * path reaches outside the workspace and nothing depends on what is on the disk.
 */
export function normaliseWorkspacePath(raw: string): WorkspacePath {
  const shown = JSON.stringify(raw.length > 200 ? `${raw.slice(0, 200)}…` : raw);
  if (raw.includes('\0')) return { ok: false, reason: 'nul', message: `${shown} holds a NUL byte` };
  if (raw.startsWith('/')) return { ok: false, reason: 'absolute', message: `${shown} is absolute; paths are relative to the workspace` };
  if (!raw.isWellFormed()) return { ok: false, reason: 'not_utf8', message: `${shown} is not valid Unicode` };
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { ok: false, reason: 'parent_reference', message: `${shown} has a ".." component; paths stay inside the workspace` };
  if (parts.length > MAX_PATH_DEPTH) return { ok: false, reason: 'too_deep', message: `${shown} is ${parts.length} directories deep; at most ${MAX_PATH_DEPTH}` };
  const long = parts.find((p) => Buffer.byteLength(p) > MAX_COMPONENT_BYTES);
  if (long !== undefined) return { ok: false, reason: 'component_too_long', message: `${shown} has a name longer than ${MAX_COMPONENT_BYTES} bytes` };
  const path = parts.join('/');
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return { ok: false, reason: 'path_too_long', message: `${shown} is longer than ${MAX_PATH_BYTES} bytes` };
  return { ok: true, path, parts };
}

/** The directories above `path`, outermost first ('a/b/c' → 'a', 'a/b'). */
export function parentsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Whether `path` is `root` or inside it ('' is the whole workspace). */
export function isInside(path: string, root: string): boolean {
  return root === '' || path === root || path.startsWith(`${root}/`);
}

import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { CordonError } from '../../core/errors.ts';
import type { WorkspacePath } from './workspace-path.ts';

/*
 * Node has no openat(2). We get the same guarantee through procfs: opening
 * `/proc/self/fd/<dirfd>/<name>` resolves the magic link to the directory the
 * descriptor holds (wherever it now is, whatever replaced its old path) and then
 * looks up only `<name>` in it. With O_NOFOLLOW that lookup refuses a symlink, so a
 * walk component by component never leaves a directory we already opened and
 * verified, even if someone swaps a directory for a symlink while we walk.
 *
 * Symlinks are refused at every parent component, whether their target is inside the
 * workspace or not: the target is interpreted differently on the host and in the
 * sandbox (`/workspace/x` means nothing on the host), a link checked now may be
 * retargeted later, and one rule ("no symlinks on the way") is easy to audit.
 */

export const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

export function fdPath(dir: FileHandle, name?: string): string {
  return name === undefined ? `/proc/self/fd/${dir.fd}` : `/proc/self/fd/${dir.fd}/${name}`;
}

export function outside(path: string, why: string): CordonError {
  return new CordonError('FS_OUTSIDE_WORKSPACE', `${JSON.stringify(path)} ${why}; file tools do not follow symlinks`, {
    details: { reason: 'symlink' },
  });
}

/** Maps an errno from an operation on `path` to the CordonError a caller sees. */
export function fsError(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const shown = JSON.stringify(path === '' ? '/workspace' : path);
  switch (code) {
    case 'ENOENT':
      return new CordonError('FS_NOT_FOUND', `${shown} does not exist in the workspace; list its directory to see what is there`, { cause: err });
    case 'ELOOP':
      return outside(path, 'is or goes through a symlink');
    case 'ENOTDIR':
      return new CordonError('FS_NOT_A_DIRECTORY', `${shown} is not a directory, or one of its parents is a file`, { cause: err });
    case 'EISDIR':
      return new CordonError('FS_NOT_A_FILE', `${shown} is a directory; name a file`, { cause: err });
    case 'EEXIST':
    case 'ENOTEMPTY':
      return new CordonError('FS_EXISTS', `${shown} already exists`, { cause: err });
    case 'ENAMETOOLONG':
      return new CordonError('FS_INVALID_PATH', `${shown} is too long`, { cause: err, details: { reason: 'path_too_long' } });
    default:
      return err;
  }
}

/** The root's real path and a descriptor for it, opened once per operation. */
export interface WorkspaceRoot {
  readonly real: string;
  readonly handle: FileHandle;
}

export async function openRoot(root: string): Promise<WorkspaceRoot> {
  // The host configures the root, so following links in it is fine; everything below it is hostile.
  const real = await realpath(root);
  const handle = await open(real, DIR_FLAGS);
  return { real, handle };
}

/**
 * A second descriptor for the root, which the caller may close. Reopened by its real
 * path (host-configured, not hostile): `/proc/self/fd/<n>` itself is a symlink, so
 * O_NOFOLLOW would refuse it.
 */
export async function reopenRoot(root: WorkspaceRoot): Promise<FileHandle> {
  const handle = await open(root.real, DIR_FLAGS);
  try {
    await verifyHandle(root.real, handle, '', root.real);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Checks that an open descriptor is `expected` (the root's real path plus the components walked). */
export async function verifyHandle(rootReal: string, handle: FileHandle, path: string, expected: string): Promise<void> {
  const actual = await readlink(fdPath(handle));
  if (actual !== expected || (actual !== rootReal && !actual.startsWith(`${rootReal}/`))) {
    throw new CordonError('FS_OUTSIDE_WORKSPACE', `${JSON.stringify(path)} moved while it was being opened; retry the call`, {
      details: { reason: 'moved' },
    });
  }
}

/** Opens `name` in `dir` as a directory, refusing a symlink. Throws mapped errors. */
export async function openChildDir(dir: FileHandle, name: string, shownPath: string): Promise<FileHandle> {
  try {
    return await open(fdPath(dir, name), DIR_FLAGS);
  } catch (err) {
    // O_DIRECTORY|O_NOFOLLOW on a symlink reports ENOTDIR on Linux; tell the two apart.
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR' || (err as NodeJS.ErrnoException).code === 'ELOOP') {
      const st = await lstat(fdPath(dir, name)).catch(() => undefined);
      if (st?.isSymbolicLink()) throw outside(shownPath, 'is or goes through a symlink');
    }
    throw fsError(err, shownPath);
  }
}

/**
 * Opens the directory at `components` below the root, one component at a time, and
 * verifies where it ended up. The caller owns the returned handle (close it).
 */
export async function openDirAt(root: WorkspaceRoot, components: readonly string[], shownPath: string): Promise<FileHandle> {
  let current = root.handle;
  let expected = root.real;
  try {
    for (const name of components) {
      const next = await openChildDir(current, name, shownPath);
      if (current !== root.handle) await current.close();
      current = next;
      expected = `${expected}/${name}`;
    }
    await verifyHandle(root.real, current, shownPath, expected);
    return current === root.handle ? await reopenRoot(root) : current;
  } catch (err) {
    if (current !== root.handle) await current.close();
    throw err;
  }
}

/** The open parent directory of a path, and the final component's name (undefined for the root). */
export interface ParentDir {
  readonly root: WorkspaceRoot;
  readonly dir: FileHandle;
  readonly name: string | undefined;
  readonly shown: string;
}

export async function openParent(rootDir: string, path: WorkspacePath): Promise<ParentDir> {
  const root = await openRoot(rootDir);
  try {
    const parents = path.components.slice(0, -1);
    const dir = await openDirAt(root, parents, path.relative);
    return { root, dir, name: path.components.at(-1), shown: path.relative };
  } catch (err) {
    await root.handle.close();
    throw err;
  }
}

export async function closeParent(parent: ParentDir): Promise<void> {
  await parent.dir.close();
  await parent.root.handle.close();
}

/**
 * Runs `fn` with the open parent of `path`, then re-verifies that the parent is still
 * inside the root, closing descriptors afterwards.
 *
 * Every operation `fn` does goes through `/proc/self/fd/<dir>/<name>` (open, lstat,
 * rename, link, unlink, mkdir, rmdir), so no path is resolved again after the walk.
 * What remains, stated honestly:
 * - The held directory itself could be moved out of the root between the walk and
 *   the operation by someone who can see both sides. The sandbox cannot (it sees only
 *   the workspace), so only a host process could; the re-verification after `fn`
 *   then reports it, but after the fact.
 * - A hard link planted by the host inside the workspace to a file outside is read
 *   like any file (its /proc path is inside). Writes never modify such a file in
 *   place: they replace the name by rename. The sandbox cannot create one.
 */
export async function withParent<T>(rootDir: string, path: WorkspacePath, fn: (parent: ParentDir) => Promise<T>): Promise<T> {
  const parent = await openParent(rootDir, path);
  try {
    const result = await fn(parent);
    const now = await readlink(fdPath(parent.dir));
    if (now !== parent.root.real && !now.startsWith(`${parent.root.real}/`)) {
      throw new CordonError('FS_OUTSIDE_WORKSPACE', `${JSON.stringify(path.relative)} was moved out of the workspace during the call`, {
        details: { reason: 'moved' },
      });
    }
    return result;
  } finally {
    await closeParent(parent);
  }
}

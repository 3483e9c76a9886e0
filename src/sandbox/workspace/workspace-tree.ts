import { lstat, opendir, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { CordonError } from '../../core/errors.ts';
import { fdPath, fsError, openChildDir, openDirAt, openRoot, withParent, type ParentDir } from './workspace-dir.ts';
import type { ListEntry, ListOptions, ListResult } from './sandbox-workspace.ts';
import { entryType } from './workspace-fs.ts';
import { parseWorkspacePath } from './workspace-path.ts';

/** Lists a directory inside the workspace. Symlinks are reported as 'symlink' and never descended into. */
export async function list(root: string, pathInput: string, options: ListOptions): Promise<ListResult> {
  const path = parseWorkspacePath(pathInput);
  const ws = await openRoot(root);
  const entries: ListEntry[] = [];
  let truncated = false;
  const walk = async (dir: FileHandle, prefix: string, level: number): Promise<void> => {
    const names: string[] = [];
    for await (const dirent of await opendir(fdPath(dir))) names.push(dirent.name);
    names.sort();
    for (const name of names) {
      if (truncated) return;
      const relative = prefix === '' ? name : `${prefix}/${name}`;
      const st = await lstat(fdPath(dir, name)).catch(() => undefined);
      if (st === undefined) continue; // removed while listing
      const type = entryType(st);
      if (entries.length >= options.maxEntries) {
        truncated = true;
        return;
      }
      entries.push({ path: relative, type, sizeBytes: st.size });
      if (type === 'directory' && level < options.depth) {
        const child = await openChildDir(dir, name, relative).catch(() => undefined);
        if (child === undefined) continue; // swapped for a symlink or removed meanwhile: skip it
        try {
          await walk(child, relative, level + 1);
        } finally {
          await child.close();
        }
      }
    }
  };
  try {
    const dir = await openDirAt(ws, path.components, path.relative);
    try {
      await walk(dir, path.relative, 1);
    } finally {
      await dir.close();
    }
  } finally {
    await ws.handle.close();
  }
  return { entries, truncated };
}

function refuseRoot(parent: ParentDir, verb: string): string {
  if (parent.name === undefined) {
    throw new CordonError('FS_INVALID_PATH', `cannot ${verb} the workspace root; name something inside it`, { details: { reason: 'workspace_root' } });
  }
  return parent.name;
}

/**
 * Moves an entry inside the workspace. Both parents are opened and verified as
 * descriptors and the rename goes through them (`/proc/self/fd/<dir>/<name>`), so
 * neither side can be redirected by a symlink swapped into a parent.
 *
 * Remaining race, stated honestly: without RENAME_NOREPLACE (Node has no renameat2),
 * "no overwrite" is a check followed by the rename; an entry created at the target in
 * between is replaced. That entry can only be inside the workspace, so it is a lost
 * update, not an escape. A symlink moved is moved as a link; its target is not touched.
 */
export async function move(root: string, fromInput: string, toInput: string, options: { overwrite?: boolean } = {}): Promise<void> {
  const from = parseWorkspacePath(fromInput);
  const to = parseWorkspacePath(toInput);
  await withParent(root, from, async (src) => {
    const srcName = refuseRoot(src, 'move');
    await withParent(root, to, async (dst) => {
      const dstName = refuseRoot(dst, 'move onto');
      await lstat(fdPath(src.dir, srcName)).catch((err: unknown) => {
        throw fsError(err, src.shown);
      });
      const existing = await lstat(fdPath(dst.dir, dstName)).catch(() => undefined);
      if (existing !== undefined && options.overwrite !== true) {
        throw new CordonError('FS_EXISTS', `${JSON.stringify(dst.shown)} already exists; pass overwrite to replace it`);
      }
      try {
        await rename(fdPath(src.dir, srcName), fdPath(dst.dir, dstName));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EINVAL') {
          throw new CordonError('FS_INVALID_PATH', `cannot move ${JSON.stringify(src.shown)} into itself`, { details: { reason: 'into_itself' } });
        }
        throw fsError(err, dst.shown);
      }
    });
  });
}

/** Removes everything inside an open directory, descriptor by descriptor; symlinks are unlinked, never followed. */
async function emptyDir(dir: FileHandle, shown: string): Promise<void> {
  const names: string[] = [];
  for await (const dirent of await opendir(fdPath(dir))) names.push(dirent.name);
  for (const name of names) {
    const st = await lstat(fdPath(dir, name)).catch(() => undefined);
    if (st === undefined) continue;
    if (st.isDirectory()) {
      const child = await openChildDir(dir, name, `${shown}/${name}`);
      try {
        await emptyDir(child, `${shown}/${name}`);
      } finally {
        await child.close();
      }
      await rmdir(fdPath(dir, name));
    } else {
      await unlink(fdPath(dir, name));
    }
  }
}

/**
 * Removes a file, a symlink (the link, not its target) or, with `recursive`, a directory.
 * Recursion opens each subdirectory with O_NOFOLLOW through its parent's descriptor,
 * so a directory swapped for a symlink mid-removal makes the removal fail instead of
 * deleting outside (unlike a path-based rm -r).
 */
export async function remove(root: string, pathInput: string, options: { recursive?: boolean } = {}): Promise<void> {
  const path = parseWorkspacePath(pathInput);
  await withParent(root, path, async (parent) => {
    const name = refuseRoot(parent, 'remove');
    try {
      const st = await lstat(fdPath(parent.dir, name));
      if (!st.isDirectory()) {
        await unlink(fdPath(parent.dir, name));
        return;
      }
      if (options.recursive !== true) {
        throw new CordonError('FS_NOT_A_FILE', `${JSON.stringify(parent.shown)} is a directory; pass recursive to remove it and its contents`);
      }
      const dir = await openChildDir(parent.dir, name, parent.shown);
      try {
        await emptyDir(dir, parent.shown);
      } finally {
        await dir.close();
      }
      await rmdir(fdPath(parent.dir, name));
    } catch (err) {
      throw err instanceof CordonError ? err : fsError(err, parent.shown);
    }
  });
}

import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { link, lstat, mkdir as mkdirAt, open, readlink, rename, unlink, type FileHandle } from 'node:fs/promises';
import { CordonError } from '../../core/errors.ts';
import { fdPath, fsError, openChildDir, openRoot, outside, reopenRoot, withParent, type ParentDir } from './workspace-dir.ts';
import type { EntryType, ReadOptions, ReadResult, WorkspaceStat, WriteOptions } from './sandbox-workspace.ts';
import { parseWorkspacePath } from './workspace-path.ts';

export function entryType(st: Stats): EntryType {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  return 'other';
}

function notAFile(path: string): CordonError {
  return new CordonError('FS_NOT_A_FILE', `${JSON.stringify(path === '' ? '/workspace' : path)} is not a regular file; name a file`);
}

function tooLarge(path: string, limitBytes: number): CordonError {
  return new CordonError('FS_TOO_LARGE', `${JSON.stringify(path)} is larger than ${limitBytes} bytes; read it in parts with offset and limit`, {
    details: { limitBytes },
  });
}

/** Opens the final component of a path as a regular file for reading, refusing symlinks and special files. */
async function openFile(parent: ParentDir): Promise<FileHandle> {
  if (parent.name === undefined) throw notAFile('');
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted in the workspace must not hang the host on open.
    handle = await open(fdPath(parent.dir, parent.name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw fsError(err, parent.shown);
  }
  try {
    const actual = await readlink(fdPath(handle));
    if (!actual.startsWith(`${parent.root.real}/`)) throw outside(parent.shown, 'resolves outside the workspace');
    if (!(await handle.stat()).isFile()) throw notAFile(parent.shown);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Reads up to min(limit, maxBytes) bytes from `offset` of a regular file inside the workspace. */
export async function readFile(root: string, pathInput: string, options: ReadOptions): Promise<ReadResult> {
  const path = parseWorkspacePath(pathInput);
  return withParent(root, path, async (parent) => {
    const handle = await openFile(parent);
    try {
      const sizeBytes = (await handle.stat()).size;
      const offset = Math.max(0, Math.min(options.offset ?? 0, sizeBytes));
      const want = Math.min(options.limit ?? Number.POSITIVE_INFINITY, options.maxBytes, sizeBytes - offset);
      const content = Buffer.alloc(want);
      let filled = 0;
      while (filled < want) {
        const { bytesRead } = await handle.read(content, filled, want - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return { content: content.subarray(0, filled), sizeBytes, truncated: offset + filled < sizeBytes };
    } finally {
      await handle.close();
    }
  });
}

/**
 * Replaces a file atomically: a temp file is created next to it (O_EXCL|O_NOFOLLOW, so
 * it can be neither an existing file nor a planted link), written, fsynced and renamed
 * over the name. A reader sees the old bytes or the new bytes, never a mix. rename(2)
 * does not follow a symlink at the final name: it replaces the link itself.
 */
export async function writeFile(root: string, pathInput: string, content: Buffer | string, options: WriteOptions): Promise<void> {
  const path = parseWorkspacePath(pathInput);
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  if (bytes.length > options.maxBytes) throw tooLarge(path.relative, options.maxBytes);
  await withParent(root, path, async (parent) => {
    const name = parent.name;
    if (name === undefined) throw notAFile('');
    const existing = await lstat(fdPath(parent.dir, name)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(err, parent.shown);
    });
    if (existing?.isDirectory()) throw notAFile(parent.shown);
    if (existing !== undefined && options.createOnly === true) throw fsError(Object.assign(new Error('exists'), { code: 'EEXIST' }), parent.shown);
    const mode = existing?.isFile() === true ? existing.mode & 0o777 : 0o644;
    await writeAtomically(parent, name, bytes, mode, options.createOnly === true);
  });
}

async function writeAtomically(parent: ParentDir, name: string, bytes: Buffer, mode: number, createOnly: boolean): Promise<void> {
  // A fixed-length temp name: the final name may already be 255 bytes long.
  const temp = `.cordon-${randomBytes(12).toString('hex')}.tmp`;
  const tempPath = fdPath(parent.dir, temp);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let tempExists = false;
  try {
    const handle = await open(tempPath, flags, mode);
    tempExists = true;
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (createOnly) {
      // link(2) fails with EEXIST instead of replacing: create-only without a check-then-use gap.
      await link(tempPath, fdPath(parent.dir, name));
      await unlink(tempPath);
    } else {
      await rename(tempPath, fdPath(parent.dir, name));
    }
    tempExists = false;
    await parent.dir.sync().catch(() => undefined);
  } catch (err) {
    if (tempExists) await unlink(tempPath).catch(() => undefined);
    throw fsError(err, parent.shown);
  }
}

/** Describes the entry at a path without following a symlink there (a symlink reports type 'symlink'). */
export async function stat(root: string, pathInput: string): Promise<WorkspaceStat> {
  const path = parseWorkspacePath(pathInput);
  return withParent(root, path, async (parent) => {
    let st: Stats;
    try {
      st = parent.name === undefined ? await parent.dir.stat() : await lstat(fdPath(parent.dir, parent.name));
    } catch (err) {
      throw fsError(err, parent.shown);
    }
    return { path: path.relative, type: entryType(st), sizeBytes: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 };
  });
}

/** Creates a directory and any missing parents inside the workspace; existing directories are fine. */
export async function mkdir(root: string, pathInput: string): Promise<void> {
  const path = parseWorkspacePath(pathInput);
  const ws = await openRoot(root);
  let current = await reopenRoot(ws).catch(async (err: unknown) => {
    await ws.handle.close();
    throw err;
  });
  try {
    for (const name of path.components) {
      try {
        await mkdirAt(fdPath(current, name), { mode: 0o755 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, path.relative);
      }
      // Whatever is there now (ours, or a racing symlink) is opened without following it.
      const next = await openChildDir(current, name, path.relative);
      await current.close();
      current = next;
    }
    const actual = await readlink(fdPath(current));
    if (actual !== ws.real && !actual.startsWith(`${ws.real}/`)) throw outside(path.relative, 'resolves outside the workspace');
  } finally {
    await current.close();
    await ws.handle.close();
  }
}

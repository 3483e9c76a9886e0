import { mkdir as mkdirHost, rm } from 'node:fs/promises';
import { CordonError } from '../../core/errors.ts';
import { join } from 'node:path';
import type { SandboxWorkspace, WorkspaceLease } from './sandbox-workspace.ts';
import { mkdir, readFile, stat, writeFile } from './workspace-fs.ts';
import { MAX_DEPTH } from './workspace-path.ts';
import { list, move, remove } from './workspace-tree.ts';

export interface HostWorkspace extends SandboxWorkspace {
  readonly root: string;
  /** Removes the folder and everything in it (a sandbox's own workspace, at its end). */
  destroy(): Promise<void>;
}

/** How much a sandbox's own host workspace may hold; a folder the user names (--workspace) has none. */
export interface HostWorkspaceQuota {
  readonly maxBytes: number;
  readonly maxEntries: number;
}

function full(message: string, reason: string): CordonError {
  return new CordonError('FS_TOO_LARGE', message, { details: { reason } });
}

/**
 * A workspace in a host folder (isolate profiles, and `cordon run --workspace DIR`).
 * The folder is made on first use, owner-only, so a sandbox that never touches a file
 * costs nothing. The root itself is host-configured; everything below it is hostile.
 *
 * The quota is checked by walking the workspace before each write or mkdir: exact for
 * one call at a time, and calls that race can overshoot by at most one write each.
 */
export function createHostWorkspace(root: string, quota: HostWorkspaceQuota | null = null): HostWorkspace {
  let made: Promise<void> | null = null;
  let destroyed = false;
  const ready = async (): Promise<void> => {
    // A call that arrives after its sandbox ended must not make the folder again (it would leak).
    if (destroyed) throw new CordonError('SANDBOX_FAILED', 'this sandbox has ended; its workspace is gone', { details: { reason: 'ended' } });
    await (made ??= mkdirHost(root, { recursive: true, mode: 0o700 }).then(() => undefined));
  };

  // What the workspace holds, counted by a walk when first needed and then kept up to date by
  // the calls themselves: nothing else writes here (isolate code has no file system), so a
  // write costs one stat, not a walk. Calls whose effect is not known exactly (mkdir of parents,
  // a recursive remove) drop the count, and the next write walks again.
  let held: { bytes: number; entries: number } | null = null;
  const usage = async (): Promise<{ bytes: number; entries: number }> => {
    if (held !== null) return held;
    const walk = await list(root, '', { depth: MAX_DEPTH, maxEntries: (quota?.maxEntries ?? 0) + 1 });
    held = { bytes: walk.entries.reduce((sum, e) => sum + (e.type === 'file' ? e.sizeBytes : 0), 0), entries: walk.entries.length };
    return held;
  };
  /** The size of the file at `relative` (0 for another kind of entry), or null when nothing is there. */
  const existing = (relative: string) => stat(root, relative).then((s) => (s.type === 'file' ? s.sizeBytes : 0), () => null);
  const checkRoom = async (now: { bytes: number; entries: number }, replaced: number | null, addBytes: number): Promise<void> => {
    if (quota === null) return;
    if (replaced === null && now.entries >= quota.maxEntries) throw full(`the workspace already holds ${quota.maxEntries} entries, its most; remove some first`, 'too_many_entries');
    if (now.bytes - (replaced ?? 0) + addBytes > quota.maxBytes) throw full(`the workspace would hold more than ${quota.maxBytes} bytes, its size; remove files first`, 'workspace_full');
  };

  return {
    root,
    read: async (path, options) => (await ready(), readFile(root, path.relative, options)),
    async write(path, content, options) {
      await ready();
      if (quota === null) return writeFile(root, path.relative, content, options);
      const now = await usage();
      const replaced = await existing(path.relative);
      await checkRoom(now, replaced, content.length);
      await writeFile(root, path.relative, content, options);
      if (held !== null) held = { bytes: held.bytes - (replaced ?? 0) + content.length, entries: held.entries + (replaced === null ? 1 : 0) };
    },
    stat: async (path) => (await ready(), stat(root, path.relative)),
    list: async (path, options) => (await ready(), list(root, path.relative, options)),
    async mkdir(path) {
      await ready();
      if (quota !== null && (await existing(path.relative)) === null) await checkRoom(await usage(), null, 0);
      held = null;
      return mkdir(root, path.relative);
    },
    move: async (from, to, options) => (await ready(), move(root, from.relative, to.relative, options)),
    async remove(path, options) {
      await ready();
      held = null;
      return remove(root, path.relative, options);
    },
    destroy: () => {
      destroyed = true;
      return rm(root, { recursive: true, force: true });
    },
  };
}

/** Each sandbox its own folder `<dir>/<sandbox id>`, removed with the sandbox. */
export function hostWorkspaceLeases(dir: string, quota: HostWorkspaceQuota | null): (sandboxId: string) => WorkspaceLease {
  return (sandboxId) => {
    const workspace = createHostWorkspace(join(dir, sandboxId), quota);
    return { workspace, release: () => workspace.destroy() };
  };
}

/** Every sandbox the one folder the user named (`cordon run --workspace DIR`); it is theirs, so it stays. */
export function sharedWorkspaceLease(root: string): (sandboxId: string) => WorkspaceLease {
  const workspace = createHostWorkspace(root);
  return () => ({ workspace, release: async () => {} });
}

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
 * The quota: what the workspace holds is counted by one walk, then kept by the calls
 * themselves (see `usage`); each write claims its bytes before it runs. A mkdir or remove
 * racing writes may let them overshoot by what is in flight when it recounts.
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
  let held: Promise<{ bytes: number; entries: number }> | null = null;
  const usage = (): Promise<{ bytes: number; entries: number }> =>
    (held ??= list(root, '', { depth: MAX_DEPTH, maxEntries: (quota?.maxEntries ?? 0) + 1 }).then((walk) => ({
      bytes: walk.entries.reduce((sum, e) => sum + (e.type === 'file' ? e.sizeBytes : 0), 0),
      entries: walk.entries.length,
    })));
  /** The size of the file at `relative` (0 for another kind of entry), or null when nothing is there. */
  const existing = (relative: string) => stat(root, relative).then((s) => (s.type === 'file' ? s.sizeBytes : 0), () => null);

  return {
    root,
    read: async (path, options) => (await ready(), readFile(root, path.relative, options)),
    async write(path, content, options) {
      await ready();
      if (quota === null) return writeFile(root, path.relative, content, options);
      const replaced = await existing(path.relative);
      const now = await usage();
      // What this write adds is claimed before it runs, so writes racing each other are counted
      // against one another (an overshoot would otherwise be one write per racing call); a
      // shrinking replacement gives its bytes back only once it is done.
      const claim = { bytes: Math.max(0, content.length - (replaced ?? 0)), entries: replaced === null ? 1 : 0 };
      if (claim.entries > 0 && now.entries + claim.entries > quota.maxEntries) throw full(`the workspace already holds ${quota.maxEntries} entries, its most; remove some first`, 'too_many_entries');
      if (now.bytes + claim.bytes > quota.maxBytes) throw full(`the workspace would hold more than ${quota.maxBytes} bytes, its size; remove files first`, 'workspace_full');
      now.bytes += claim.bytes;
      now.entries += claim.entries;
      try {
        await writeFile(root, path.relative, content, options);
      } catch (err) {
        now.bytes -= claim.bytes;
        now.entries -= claim.entries;
        throw err;
      }
      now.bytes -= Math.max(0, (replaced ?? 0) - content.length);
    },
    stat: async (path) => (await ready(), stat(root, path.relative)),
    list: async (path, options) => (await ready(), list(root, path.relative, options)),
    async mkdir(path) {
      await ready();
      if (quota !== null && (await existing(path.relative)) === null && (await usage()).entries >= quota.maxEntries) {
        throw full(`the workspace already holds ${quota.maxEntries} entries, its most; remove some first`, 'too_many_entries');
      }
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

import type { WorkspacePath } from './workspace-path.ts';

/**
 * A sandbox's workspace as the file tools see it. Two implementations give the same
 * answers to the same calls (one contract suite runs against both): a host folder
 * (isolate profiles, host-workspace.ts) and the container's own /workspace, reached
 * through its executor (container profiles).
 *
 * Every path has been parsed already (parseWorkspacePath); each implementation still
 * walks it component by component without following a symlink, so a link the
 * sandbox's code made, or swapped in meanwhile, never leads a call outside.
 * Failures are CordonErrors with FS_* codes; nothing is half-done after one.
 */
export interface SandboxWorkspace {
  /** Up to min(limit, maxBytes) bytes of a regular file from `offset`. */
  read(path: WorkspacePath, options: ReadOptions): Promise<ReadResult>;
  /** Replaces (or, createOnly, creates) a regular file atomically; parents must exist. */
  write(path: WorkspacePath, content: Buffer, options: WriteOptions): Promise<void>;
  /** The entry itself: a symlink is reported as one, never followed. */
  stat(path: WorkspacePath): Promise<WorkspaceStat>;
  /** A directory's entries, walked in sorted order to `depth`, at most `maxEntries`. */
  list(path: WorkspacePath, options: ListOptions): Promise<ListResult>;
  /** Creates a directory and missing parents; an existing directory is fine. */
  mkdir(path: WorkspacePath): Promise<void>;
  move(from: WorkspacePath, to: WorkspacePath, options: { readonly overwrite?: boolean }): Promise<void>;
  /** A file or a link (never its target); a directory only with `recursive`. */
  remove(path: WorkspacePath, options: { readonly recursive?: boolean }): Promise<void>;
}

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface WorkspaceStat {
  /** Workspace-relative ('' for the root). */
  readonly path: string;
  readonly type: EntryType;
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  /** Permission bits (& 0o7777). */
  readonly mode: number;
}

export interface ReadOptions {
  readonly offset?: number;
  readonly limit?: number;
  readonly maxBytes: number;
}

export interface ReadResult {
  readonly content: Buffer;
  readonly sizeBytes: number;
  /** Bytes remain after what was returned (limit or maxBytes cut it short). */
  readonly truncated: boolean;
}

export interface WriteOptions {
  /** Refuse with FS_EXISTS (and write nothing) when something is already at the path. */
  readonly createOnly?: boolean;
  readonly maxBytes: number;
}

export interface ListOptions {
  /** 1 lists the directory itself; each level more descends once. */
  readonly depth: number;
  readonly maxEntries: number;
}

export interface ListEntry {
  /** Workspace-relative. */
  readonly path: string;
  readonly type: EntryType;
  readonly sizeBytes: number;
}

export interface ListResult {
  readonly entries: ListEntry[];
  /** maxEntries cut the walk short. */
  readonly truncated: boolean;
}

/** A sandbox's workspace and what to do with it when the sandbox ends. */
export interface WorkspaceLease {
  readonly workspace: SandboxWorkspace;
  release(): Promise<void>;
}

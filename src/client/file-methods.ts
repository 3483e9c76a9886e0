import type { RunOptions, RunResult } from './client-types.ts';

/** The file tools' inputs and outputs (src/tools/files/): one method each, run in a sandbox. */
export interface FileReadInput { path: string; offset?: number; limit?: number; encoding?: 'utf8' | 'base64' }
export interface FileReadOutput { path: string; encoding: 'utf8' | 'base64'; content: string; sizeBytes: number; offset: number; bytes: number; truncated: boolean; nextOffset?: number }
export interface FileWriteInput { path: string; content: string; encoding?: 'utf8' | 'base64'; createOnly?: boolean }
/** Exact search/replace, or a unified diff. */
export type FileEditInput = { path: string; search: string; replace: string; replaceAll?: boolean } | { path: string; diff: string };
export interface FileListInput { path?: string; glob?: string; depth?: number; maxEntries?: number }
export interface FileListEntry { path: string; type: 'file' | 'directory' | 'symlink' | 'other'; sizeBytes: number }
export interface FileListOutput { path: string; entries: FileListEntry[]; truncated: boolean }
export interface FileStatOutput { path: string; type: 'file' | 'directory' | 'symlink' | 'other'; sizeBytes: number; mtimeMs: number; mode: number }
export interface FileMoveInput { from: string; to: string; overwrite?: boolean }
export interface FileDeleteInput { path: string; recursive?: boolean }

/** A sandbox id, or the object sandboxes.create() returned. */
export type SandboxRef = string | { readonly id: string };
export type FileCallOptions = Omit<RunOptions, 'sandbox' | 'profile' | 'session'>;

export interface FileMethods {
  read(sandbox: SandboxRef, input: FileReadInput, options?: FileCallOptions): Promise<RunResult<FileReadOutput>>;
  write(sandbox: SandboxRef, input: FileWriteInput, options?: FileCallOptions): Promise<RunResult<{ path: string; sizeBytes: number }>>;
  edit(sandbox: SandboxRef, input: FileEditInput, options?: FileCallOptions): Promise<RunResult<{ path: string; sizeBytes: number }>>;
  list(sandbox: SandboxRef, input?: FileListInput, options?: FileCallOptions): Promise<RunResult<FileListOutput>>;
  stat(sandbox: SandboxRef, input: { path: string }, options?: FileCallOptions): Promise<RunResult<FileStatOutput>>;
  mkdir(sandbox: SandboxRef, input: { path: string }, options?: FileCallOptions): Promise<RunResult<{ path: string }>>;
  move(sandbox: SandboxRef, input: FileMoveInput, options?: FileCallOptions): Promise<RunResult<{ from: string; to: string }>>;
  /** Deleting may be held for an approval (the shipped policies hold it): check for pending_approval. */
  delete(sandbox: SandboxRef, input: FileDeleteInput, options?: FileCallOptions): Promise<RunResult<{ path: string }>>;
}

type Run = <O>(tool: string, input: unknown, options: RunOptions) => Promise<RunResult<O>>;

export function createFileMethods(run: Run): FileMethods {
  const inSandbox = <O>(tool: string) => (sandbox: SandboxRef, input: unknown, options: FileCallOptions = {}) =>
    run<O>(tool, input, { ...options, sandbox: typeof sandbox === 'string' ? sandbox : sandbox.id });
  return {
    read: inSandbox<FileReadOutput>('file.read'),
    write: inSandbox<{ path: string; sizeBytes: number }>('file.write'),
    edit: inSandbox<{ path: string; sizeBytes: number }>('file.edit'),
    list: (sandbox, input = {}, options) => inSandbox<FileListOutput>('file.list')(sandbox, input, options),
    stat: inSandbox<FileStatOutput>('file.stat'),
    mkdir: inSandbox<{ path: string }>('file.mkdir'),
    move: inSandbox<{ from: string; to: string }>('file.move'),
    delete: inSandbox<{ path: string }>('file.delete'),
  };
}

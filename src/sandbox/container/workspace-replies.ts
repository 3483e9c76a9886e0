import { CordonError } from '../../core/errors.ts';
import type { EntryType, ListEntry, WorkspaceStat } from '../workspace/index.ts';
import { isBase64 } from './container-run.ts';
import { isInside, MAX_PATH_BYTES, normaliseWorkspacePath } from './workspace-path.ts';

/*
 * The executor's replies to the file tools' fs.* ops, checked here: the executor runs as the
 * sandbox's user, so any reply may be forged by the sandbox's code. Every field's type is
 * checked, every size capped before it is trusted, and the executor's error is a code from an
 * allowlist with a reason from one too: its words never reach a caller, since the runner writes
 * every message itself (in the host workspace's wording, workspace-dir.ts and friends).
 * A reply that breaks this is a ReplyBreach; the caller ends the container for it.
 */

/** The sandbox said something the runner will not take. */
export class ReplyBreach extends Error {}

export type WorkspaceAction = 'read' | 'write' | 'stat' | 'list' | 'mkdir' | 'move' | 'remove';

const TYPES: ReadonlySet<string> = new Set<EntryType>(['file', 'directory', 'symlink', 'other']);

/** Each code the executor may answer with, and the reasons it may give for it (none: no reason). */
const REASONS: Readonly<Record<string, ReadonlySet<string>>> = {
  FS_NOT_FOUND: new Set(),
  FS_NOT_A_DIRECTORY: new Set(),
  FS_NOT_A_FILE: new Set(),
  FS_EXISTS: new Set(),
  FS_OUTSIDE_WORKSPACE: new Set(['symlink', 'dot_dot', 'absolute_path']),
  FS_INVALID_PATH: new Set(['workspace_root', 'into_itself', 'path_too_long', 'component_too_long', 'too_deep', 'nul_byte', 'not_a_string', 'not_utf8', 'not_normal']),
  FS_TOO_LARGE: new Set(['workspace_full']),
};
/** An errno the executor names for what has no FS_* code (EACCES after a chmod 000, EIO). */
const ERRNO_NAME = /^E[A-Z0-9]{1,15}$/u;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a failed op concerns, for the message: its path (or, for a move, both). */
export interface OpContext {
  readonly action: WorkspaceAction;
  readonly path: string;
  /** A move's target; `path` is then its source. */
  readonly to?: string;
  readonly overwrite?: boolean;
  readonly sandbox: string;
}

/** The reply's status: 'ok', or the CordonError its error stands for. Anything else is a breach. */
export function replyOutcome(reply: Record<string, unknown>, context: OpContext): 'ok' | CordonError {
  if (reply.status === 'ok') return 'ok';
  if (reply.status !== 'error' || !isObject(reply.error)) throw new ReplyBreach('a workspace reply is ok, or an error object');
  const { code, reason, which } = reply.error;
  if (which !== undefined && (context.action !== 'move' || (which !== 'from' && which !== 'to'))) throw new ReplyBreach('an error concerns "from" or "to", and only on a move');
  const path = which === 'to' ? (context.to ?? context.path) : context.path;
  if (code === 'FS_ERRNO') {
    if (typeof reason !== 'string' || !ERRNO_NAME.test(reason)) throw new ReplyBreach('an errno error names its errno');
    return new CordonError('SANDBOX_FAILED', `could not ${context.action} ${shown(path)} in the sandbox's workspace (${reason})`, {
      details: { reason: 'errno', errno: reason, sandbox: context.sandbox },
    });
  }
  if (typeof code !== 'string' || !Object.hasOwn(REASONS, code)) throw new ReplyBreach('a workspace error has a known FS_* code');
  const reasons = REASONS[code] as ReadonlySet<string>;
  if (reason !== undefined && (typeof reason !== 'string' || !reasons.has(reason))) throw new ReplyBreach(`${code} has no such reason`);
  return errorFor(code, reason, path, context);
}

/** The path as the host's messages show it ('' is the workspace). */
function shown(path: string): string {
  return JSON.stringify(path === '' ? '/workspace' : path);
}

/** The error the host workspace gives for the same code and reason, in its words. */
function errorFor(code: string, reason: string | undefined, path: string, context: OpContext): CordonError {
  const where = shown(path);
  switch (code) {
    case 'FS_NOT_FOUND':
      return new CordonError('FS_NOT_FOUND', `${where} does not exist in the workspace; list its directory to see what is there`);
    case 'FS_NOT_A_DIRECTORY':
      return new CordonError('FS_NOT_A_DIRECTORY', `${where} is not a directory, or one of its parents is a file`);
    case 'FS_NOT_A_FILE':
      if (context.action === 'remove') return new CordonError('FS_NOT_A_FILE', `${where} is a directory; pass recursive to remove it and its contents`);
      return new CordonError('FS_NOT_A_FILE', `${where} is not a regular file; name a file`);
    case 'FS_EXISTS':
      if (context.action === 'move' && context.overwrite !== true) return new CordonError('FS_EXISTS', `${where} already exists; pass overwrite to replace it`);
      return new CordonError('FS_EXISTS', `${where} already exists`);
    case 'FS_OUTSIDE_WORKSPACE': {
      const why = reason === 'symlink' || reason === undefined ? 'is or goes through a symlink; file tools do not follow symlinks' : 'is outside the workspace';
      return new CordonError('FS_OUTSIDE_WORKSPACE', `${JSON.stringify(path)} ${why}`, { details: { reason: reason ?? 'symlink' } });
    }
    case 'FS_TOO_LARGE':
      return new CordonError('FS_TOO_LARGE', 'the sandbox\'s workspace is full; remove files first', { details: { reason: 'workspace_full' } });
    default:
      return invalidPath(reason, path, context);
  }
}

function invalidPath(reason: string | undefined, path: string, context: OpContext): CordonError {
  const details = { details: { reason: reason ?? 'invalid' } };
  if (reason === 'workspace_root') {
    const verb = context.action === 'move' ? (path === context.path ? 'move' : 'move onto') : context.action;
    return new CordonError('FS_INVALID_PATH', `cannot ${verb} the workspace root; name something inside it`, details);
  }
  if (reason === 'into_itself') return new CordonError('FS_INVALID_PATH', `cannot move ${shown(context.path)} into itself`, details);
  if (reason === 'path_too_long') return new CordonError('FS_INVALID_PATH', `${shown(path)} is too long`, details);
  return new CordonError('FS_INVALID_PATH', `${shown(path)} is not a valid workspace path`, details);
}

/** A read's content, checked: base64 whose encoded length is bounded before it is decoded. */
export function readReply(reply: Record<string, unknown>, offset: number, want: number): { content: Buffer; sizeBytes: number; truncated: boolean } {
  const { sizeBytes, content } = reply;
  if (!isCount(sizeBytes)) throw new ReplyBreach('a read says the file\'s size');
  if (!isBase64(content) || content.length > Math.ceil(want / 3) * 4) throw new ReplyBreach(`a read's content is base64 of at most ${want} bytes`);
  const bytes = Buffer.from(content, 'base64');
  const start = Math.min(offset, sizeBytes);
  if (bytes.length > want || bytes.length > sizeBytes - start) throw new ReplyBreach(`a read's content is at most ${want} bytes, and within the file`);
  // Whether bytes remain is the runner's own sum, not a flag the sandbox sets.
  return { content: bytes, sizeBytes, truncated: start + bytes.length < sizeBytes };
}

export function statReply(reply: Record<string, unknown>, path: string): WorkspaceStat {
  const { type, sizeBytes, mtimeMs, mode } = reply;
  if (typeof type !== 'string' || !TYPES.has(type)) throw new ReplyBreach('a stat has a known type');
  if (!isCount(sizeBytes)) throw new ReplyBreach('a stat has a size');
  if (typeof mtimeMs !== 'number' || !Number.isFinite(mtimeMs) || mtimeMs < 0) throw new ReplyBreach('a stat has a modification time');
  if (!isCount(mode) || mode > 0o7777) throw new ReplyBreach('a stat has permission bits');
  return { path, type: type as EntryType, sizeBytes, mtimeMs, mode };
}

/** A list's entries: at most maxEntries, each a normal path below `root`, well-formed and within MAX_PATH_BYTES, none twice. */
export function listReply(reply: Record<string, unknown>, root: string, maxEntries: number): { entries: ListEntry[]; truncated: boolean } {
  const { entries: items, truncated } = reply;
  if (!Array.isArray(items) || items.length > maxEntries) throw new ReplyBreach(`a list holds at most ${maxEntries} entries`);
  if (typeof truncated !== 'boolean') throw new ReplyBreach('a list says whether it is truncated');
  const seen = new Set<string>();
  const entries: ListEntry[] = [];
  for (const item of items as unknown[]) {
    if (!isObject(item)) throw new ReplyBreach('a list entry is an object');
    const { path, type, sizeBytes } = item;
    if (typeof path !== 'string' || path.length > MAX_PATH_BYTES || !path.isWellFormed() || Buffer.byteLength(path) > MAX_PATH_BYTES) {
      throw new ReplyBreach(`a list entry's path is well-formed text of at most ${MAX_PATH_BYTES} bytes`);
    }
    const normal = normaliseWorkspacePath(path);
    if (!normal.ok || normal.path !== path || path === root || !isInside(path, root) || seen.has(path)) throw new ReplyBreach('a list entry is a normal path inside the listed directory, once');
    if (typeof type !== 'string' || !TYPES.has(type)) throw new ReplyBreach('a list entry has a known type');
    if (!isCount(sizeBytes)) throw new ReplyBreach('a list entry has a size');
    seen.add(path);
    entries.push({ path, type: type as EntryType, sizeBytes });
  }
  return { entries, truncated };
}

import { PassThrough, type Readable } from 'node:stream';
import { extract as tarExtract, pack as tarPack, type Headers } from 'tar-stream';
import { CordonError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { FileTransferCaps, WorkspaceArchive } from '../sandbox-backend.ts';
import { isBase64 } from './container-run.ts';
import { askExecutor, protocolBreach } from './executor-ask.ts';
import type { ExecutorLink } from './executor-link.ts';
import { isInside, MAX_PATH_BYTES, normaliseWorkspacePath, parentsOf } from './workspace-path.ts';

// Files move in and out of a container's /workspace through its executor, not the Engine
// API's archive endpoints: the root file system is read-only and /workspace is a tmpfs the
// daemon cannot see. Callers speak tar; the executor speaks JSON frames (`put`, `get`).

/** Caps' ceilings: a read comes back as one frame, which the runner holds and parses whole. */
export const MAX_TRANSFER_BYTES = 256 * 1024 * 1024;
export const MAX_TRANSFER_FILES = 10_000;
/** File data in one put frame; with base64 and paths, a frame stays under the executor's 8 MiB. */
export const FRAME_DATA_BYTES = 4 * 1024 * 1024;
const FRAME_META_BYTES = 1024 * 1024;
/** A tar's bytes besides file data: per entry (header, padding, pax or GNU long-name records), and at its end. */
const TAR_ENTRY_OVERHEAD = 8 * 1024;
const TAR_END_OVERHEAD = 20 * 1024;
/** Permission bits that cross, either way: no setuid, setgid or sticky bit, no group or world write. */
const PERMISSIONS = 0o755;
const MAX_SKIPPED = 100;
/** UTF-16 units of a skipped path (the executor cuts them at 256 characters). */
const MAX_SKIPPED_PATH = 512;
const SKIP_REASONS: ReadonlySet<string> = new Set(['symlink', 'too_large', 'not_a_file', 'unreadable', 'path_too_long', 'too_deep', 'name_not_utf8']);
const PUT_REPLY_BYTES = 64 * 1024;
const FRAME_TIMEOUT_MS = 60_000;
/** pax records that only describe an entry; any other (linkpath, GNU.sparse.*, …) changes what it is. */
const PAX_METADATA: ReadonlySet<string> = new Set(['path', 'size', 'mtime', 'atime', 'ctime', 'uid', 'gid', 'uname', 'gname', 'comment', 'charset', 'hdrcharset']);
const PAX_METADATA_PREFIXES = ['SCHILY.', 'LIBARCHIVE.'];

export type WorkspaceEntry =
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly data: Buffer }
  | { readonly type: 'directory'; readonly path: string; readonly mode: number };

/** An archive that passed every check, held whole (at most maxBytes of file data) until it is sent. */
export interface CheckedArchive {
  readonly entries: readonly WorkspaceEntry[];
  readonly files: number;
  readonly bytes: number;
}

export interface TransferOptions {
  /** How long the executor has to answer one frame before its container is ended. */
  readonly frameTimeoutMs?: number;
}

/** Checks a whole tar archive, then writes it into the workspace. */
export async function writeWorkspaceArchive(link: ExecutorLink, tar: Readable, caps: FileTransferCaps, options: TransferOptions = {}): Promise<{ files: number; bytes: number }> {
  return sendWorkspaceFiles(link, await checkWorkspaceArchive(tar, caps), options);
}

const show = (path: string) => JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);

function refused(reason: string, message: string, path?: string): CordonError {
  return new CordonError('INPUT_INVALID', message, { details: { field: 'archive', reason, ...(path === undefined ? {} : { path: path.slice(0, 1024) }) } });
}

function checkCaps(caps: FileTransferCaps): void {
  const within = (n: number, max: number) => Number.isSafeInteger(n) && n >= 0 && n <= max;
  if (!within(caps.maxBytes, MAX_TRANSFER_BYTES) || !within(caps.maxFiles, MAX_TRANSFER_FILES)) {
    throw new CordonError('INPUT_INVALID', `a file transfer moves at most ${MAX_TRANSFER_BYTES} bytes and ${MAX_TRANSFER_FILES} entries; asked for ${caps.maxBytes} bytes and ${caps.maxFiles} entries`, { details: { field: 'caps', reason: 'out_of_range' } });
  }
}

function foreignPaxKey(pax: Readonly<Record<string, string>> | null | undefined): string | undefined {
  if (pax === null || pax === undefined) return undefined;
  return Object.keys(pax).find((k) => !PAX_METADATA.has(k) && !PAX_METADATA_PREFIXES.some((p) => k.startsWith(p)));
}

/**
 * Reads a tar stream to its end and checks all of it before anything reaches the sandbox,
 * so a refused archive changes nothing: files and directories only (no links, devices or
 * fifos), every name normalised inside the workspace, at most `maxFiles` entries and
 * `maxBytes` of file data. A size over the cap is refused from its header, before its body
 * is read; the raw stream is capped too, since tar-stream buffers pax and long-name records
 * whole. A path named twice is refused (a directory may be named again), as is a path inside
 * a file. On a refusal the stream is no longer read (nor destroyed: it is the caller's).
 */
export function checkWorkspaceArchive(tar: Readable, caps: FileTransferCaps): Promise<CheckedArchive> {
  checkCaps(caps);
  const rawCap = caps.maxBytes + (caps.maxFiles + 1) * TAR_ENTRY_OVERHEAD + TAR_END_OVERHEAD;
  return new Promise((resolve, reject) => {
    const ex = tarExtract();
    // tar-stream 2.2.0 keeps a pax global header here and merges it only into entries with a
    // pax header of their own; other readers apply it to every entry, so it is checked as such.
    const globalPax = () => (ex as unknown as { _paxGlobal?: Record<string, string> | null })._paxGlobal;
    const entries: WorkspaceEntry[] = [];
    const kinds = new Map<string, 'file' | 'directory'>();
    let files = 0;
    let bytes = 0;
    let raw = 0;
    let reading = false;
    let finished = false;
    let settled = false;

    // The error listener stays: a caller's stream that fails later must not throw for want of one.
    const stop = () => {
      tar.off('data', onData);
      tar.off('end', onEnd);
      tar.pause();
      ex.destroy();
    };
    const fail = (err: CordonError) => {
      if (settled) return;
      settled = true;
      stop();
      reject(err);
    };
    const done = () => {
      if (settled || !finished || reading) return;
      const foreign = foreignPaxKey(globalPax());
      if (foreign !== undefined) return fail(refused('pax_header', `the archive's pax global header carries ${JSON.stringify(foreign)}; only metadata is taken`));
      settled = true;
      stop();
      resolve({ entries, files, bytes });
    };
    function onData(chunk: Buffer | string) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      raw += buf.length;
      if (raw > rawCap) return fail(refused('too_large', `the archive runs past ${rawCap} bytes, more than ${caps.maxFiles} entries with ${caps.maxBytes} bytes of files take as a tar`));
      if (!ex.write(buf)) {
        tar.pause();
        ex.once('drain', () => settled || tar.resume());
      }
    }
    function onEnd() {
      ex.end();
    }
    function onError(err: unknown) {
      fail(new CordonError('INPUT_INVALID', `the archive could not be read: ${err instanceof Error ? err.message.slice(0, 300) : String(err)}`, { cause: err, details: { field: 'archive', reason: 'unreadable' } }));
    }

    /** The entry as it will be written, null for the workspace itself, or why it is refused. */
    const admit = (header: Headers): WorkspaceEntry | null | CordonError => {
      const name = header.name;
      if (header.type !== 'file' && header.type !== 'directory') {
        return refused('entry_type', `${show(name)} is a ${header.type ?? 'kind of entry tar does not define'}; an archive may hold files and directories only`, name);
      }
      const foreign = foreignPaxKey(header.pax) ?? foreignPaxKey(globalPax());
      if (foreign !== undefined) return refused('pax_header', `${show(name)} carries the pax record ${JSON.stringify(foreign)}; only metadata (path, size, times, owners) is taken`, name);
      const normal = normaliseWorkspacePath(name);
      if (!normal.ok) return refused(normal.reason, normal.message, name);
      const size = header.size ?? 0;
      const path = normal.path;
      if (header.type === 'directory' && size !== 0) return refused('malformed', `the directory ${show(name)} claims ${size} bytes of data`, name);
      if (path === '') return header.type === 'directory' ? null : refused('malformed', `${show(name)} names the workspace itself as a file`, name);
      if (entries.length >= caps.maxFiles) return refused('too_many_files', `the archive holds more than ${caps.maxFiles} entries`, path);
      if (size > caps.maxBytes - bytes) return refused('too_large', `${show(path)} is ${size} bytes; the archive's files may hold ${caps.maxBytes} bytes in all`, path);
      const was = kinds.get(path);
      if (was === 'file') return refused('duplicate', `${show(path)} is in the archive twice`, path);
      if (was === 'directory' && header.type === 'file') return refused('conflict', `${show(path)} is a directory in the archive and also a file`, path);
      const fileAbove = parentsOf(path).find((p) => kinds.get(p) === 'file');
      if (fileAbove !== undefined) return refused('conflict', `${show(path)} is inside ${show(fileAbove)}, which the archive makes a file`, path);
      for (const p of parentsOf(path)) if (!kinds.has(p)) kinds.set(p, 'directory');
      kinds.set(path, header.type);
      const mode = typeof header.mode === 'number' ? header.mode : header.type === 'directory' ? 0o755 : 0o644;
      bytes += size;
      // A directory stays the user's to enter and fill, so later transfers into it work.
      if (header.type === 'directory') return { type: 'directory', path, mode: (mode & PERMISSIONS) | 0o700 };
      return { type: 'file', path, mode: mode & PERMISSIONS, data: Buffer.alloc(0) };
    };

    ex.on('entry', (header: Headers, body: Readable, next: () => void) => {
      if (settled) return;
      const entry = admit(header);
      if (entry instanceof CordonError) return fail(entry);
      reading = true;
      const chunks: Buffer[] = [];
      body.on('data', (c: Buffer) => chunks.push(c));
      body.once('end', () => {
        reading = false;
        if (settled) return;
        if (entry !== null) {
          if (entry.type === 'file') {
            entries.push({ ...entry, data: Buffer.concat(chunks) });
            files += 1;
          } else {
            entries.push(entry);
          }
        }
        next();
        done();
      });
    });
    ex.on('error', (err: unknown) => fail(refused('malformed', `the archive is not a valid tar (${err instanceof Error ? err.message.slice(0, 200) : 'unreadable'}); send an uncompressed tar`)));
    ex.on('finish', () => {
      finished = true;
      done();
    });
    tar.on('data', onData);
    tar.once('end', onEnd);
    tar.on('error', onError);
    // A stream its owner paused flows only when told to.
    tar.resume();
  });
}

/**
 * Sends a checked archive to the executor in frames of at most FRAME_DATA_BYTES of data (a
 * large file spans frames); the executor stages every file under a temporary name and renames
 * them into place with the last frame, or removes them all when one fails.
 */
export async function sendWorkspaceFiles(link: ExecutorLink, archive: CheckedArchive, options: TransferOptions = {}): Promise<{ files: number; bytes: number }> {
  if (archive.entries.length === 0) return { files: 0, bytes: 0 };
  const batch = newId('put');
  const sent = new Set(archive.entries.map((e) => e.path));
  let frame: Record<string, unknown>[] = [];
  let data = 0;
  let meta = 0;
  let n = 0;
  const flush = async (commit: boolean) => {
    const reply = await ask(link, { op: 'put', id: `put-${n++}`, batch, files: frame, commit }, PUT_REPLY_BYTES, options);
    frame = [];
    data = 0;
    meta = 0;
    if (reply.status === 'error') throw failureOf(link, reply.error, (p) => sent.has(p), 'write');
    if (reply.status !== 'ok' || !Number.isSafeInteger(reply.written) || (reply.written as number) < 0) throw breach(link, 'a put reply is ok with a count, or an error');
  };
  for (const entry of archive.entries) {
    // A path's JSON escapes take at most 6 bytes for each of its bytes.
    const itemMeta = 6 * Buffer.byteLength(entry.path) + 96;
    if (entry.type === 'directory') {
      if (meta + itemMeta > FRAME_META_BYTES) await flush(false);
      meta += itemMeta;
      frame.push({ type: 'directory', path: entry.path, mode: entry.mode });
      continue;
    }
    let offset = 0;
    do {
      if (frame.length > 0 && (data >= FRAME_DATA_BYTES || meta + itemMeta > FRAME_META_BYTES)) await flush(false);
      const piece = entry.data.subarray(offset, offset + FRAME_DATA_BYTES - data);
      offset += piece.length;
      data += piece.length;
      meta += itemMeta;
      const more = offset < entry.data.length;
      frame.push({ type: 'file', path: entry.path, mode: entry.mode, data: piece.toString('base64'), ...(more ? { more: true } : {}) });
    } while (offset < entry.data.length);
  }
  await flush(true);
  return { files: archive.files, bytes: archive.bytes };
}

/** The largest get reply for these caps: data in base64, every path JSON-escaped at worst, the skipped list. */
function getReplyBytes(caps: FileTransferCaps): number {
  return Math.ceil(caps.maxBytes / 3) * 4 + caps.maxFiles * (6 * MAX_PATH_BYTES + 128) + MAX_SKIPPED * (6 * MAX_SKIPPED_PATH + 64) + 64 * 1024;
}

/**
 * Reads a file or a directory tree of the workspace as a tar stream. The executor walks it
 * without following links and within the caps; its reply is checked here all the same (it
 * runs as the sandbox's user): every path normal and inside `path`, sizes and counts within
 * the caps, modes masked. A reply that breaks these ends the container.
 */
export async function readWorkspaceArchive(link: ExecutorLink, path: string, caps: FileTransferCaps, options: TransferOptions = {}): Promise<WorkspaceArchive> {
  checkCaps(caps);
  const normal = normaliseWorkspacePath(path);
  if (!normal.ok) throw new CordonError('INPUT_INVALID', normal.message, { details: { field: 'path', reason: normal.reason } });
  const root = normal.path;
  const reply = await ask(link, { op: 'get', id: 'get', path: root === '' ? '.' : root, maxBytes: caps.maxBytes, maxFiles: caps.maxFiles }, getReplyBytes(caps), options);
  if (reply.status === 'error') throw failureOf(link, reply.error, (p) => isInside(p, root), 'read');
  if (reply.status !== 'ok') throw breach(link, 'a get reply is ok or an error');
  const checked = checkGetReply(reply, root, caps);
  if (typeof checked === 'string') throw breach(link, checked);
  const tar = tarPack();
  for (const e of checked.entries) {
    if (e.type === 'directory') tar.entry({ name: e.path, type: 'directory', mode: e.mode });
    else tar.entry({ name: e.path, type: 'file', mode: e.mode, size: e.data.length }, e.data);
  }
  tar.finalize();
  // tar-stream's streams are readable-stream's; callers get a Node stream.
  const out = new PassThrough();
  tar.pipe(out);
  return Object.assign(out, { files: checked.files, bytes: checked.bytes, truncated: checked.truncated, skipped: checked.skipped });
}

interface CheckedReply extends CheckedArchive {
  readonly truncated: boolean;
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

/** The get reply's entries, checked, or what is wrong with it. */
function checkGetReply(reply: Record<string, unknown>, root: string, caps: FileTransferCaps): CheckedReply | string {
  const { files: items, truncated, skipped } = reply;
  if (!Array.isArray(items) || items.length > caps.maxFiles) return `a get reply holds a list of at most ${caps.maxFiles} entries`;
  if (typeof truncated !== 'boolean') return 'a get reply says whether it is truncated';
  if (!Array.isArray(skipped) || skipped.length > MAX_SKIPPED) return `a get reply lists at most ${MAX_SKIPPED} skipped paths`;
  const entries: WorkspaceEntry[] = [];
  const kinds = new Map<string, 'file' | 'directory'>();
  let bytes = 0;
  let files = 0;
  for (const item of items as unknown[]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return 'an entry is an object';
    const { type, path, mode, data } = item as Record<string, unknown>;
    if (typeof path !== 'string') return 'an entry has a path';
    const normal = normaliseWorkspacePath(path);
    if (!normal.ok || normal.path !== path || path === '') return `${show(path)} is not a normal relative path`;
    if (!isInside(path, root)) return `${show(path)} is outside ${show(root)}`;
    if (kinds.has(path)) return `${show(path)} comes twice`;
    if (typeof mode !== 'number' || !Number.isSafeInteger(mode) || mode < 0 || mode > 0o7777) return `${show(path)} has no permission bits`;
    if (type === 'directory' && data === undefined) {
      entries.push({ type, path, mode: mode & PERMISSIONS });
    } else if (type === 'file' && isBase64(data)) {
      // The encoded length bounds the decoded one: refuse before decoding.
      if (data.length > Math.ceil((caps.maxBytes - bytes) / 3) * 4) return `the files hold more than ${caps.maxBytes} bytes`;
      const buf = Buffer.from(data, 'base64');
      bytes += buf.length;
      if (bytes > caps.maxBytes) return `the files hold more than ${caps.maxBytes} bytes`;
      entries.push({ type, path, mode: mode & PERMISSIONS, data: buf });
      files += 1;
    } else {
      return `${show(path)} is neither a file with base64 data nor a directory`;
    }
    kinds.set(path, type);
  }
  for (const path of kinds.keys()) {
    const fileAbove = parentsOf(path).find((p) => kinds.get(p) === 'file');
    if (fileAbove !== undefined) return `${show(path)} is inside the file ${show(fileAbove)}`;
  }
  const left: { path: string; reason: string }[] = [];
  for (const s of skipped as unknown[]) {
    const { path, reason } = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
    if (typeof path !== 'string' || path.length > MAX_SKIPPED_PATH || !path.isWellFormed() || typeof reason !== 'string' || !SKIP_REASONS.has(reason)) return 'a skipped path has a path and a known reason';
    left.push({ path, reason });
  }
  return { entries, files, bytes, truncated, skipped: left };
}

/** What the executor's error codes mean for a read. */
const READ_REASONS: Readonly<Record<string, string>> = { ENOENT: 'not_found', ENOTDIR: 'not_found', ELOOP: 'symlink', NotAFile: 'not_a_file', TooLarge: 'too_large', EACCES: 'unreadable' };

/**
 * The executor could not do it (the workspace is full, a link is in the way, no such path):
 * a typed error for this call, and the sandbox goes on. Its text is the sandbox's, so it is
 * cut, and a path it names is kept only if it is one the call concerns.
 */
function failureOf(link: ExecutorLink, error: unknown, concerns: (path: string) => boolean, direction: 'write' | 'read'): CordonError {
  if (typeof error !== 'object' || error === null || Array.isArray(error)) return breach(link, 'an error is an object');
  const { name, message, path } = error as Record<string, unknown>;
  if (typeof name !== 'string' || typeof message !== 'string') return breach(link, 'an error has a name and a message');
  const where = typeof path === 'string' && concerns(path) ? { path } : {};
  const text = message.slice(0, 1000);
  const code = name.slice(0, 64);
  if (direction === 'write') {
    const full = name === 'ENOSPC' || name === 'EDQUOT';
    const what = full ? `the sandbox's workspace is full (${text})` : `the archive could not be written into the sandbox's workspace (${text})`;
    return new CordonError('INPUT_INVALID', `${what}; none of it was written`, { details: { field: 'archive', reason: full ? 'workspace_full' : 'write_failed', error: code, ...where } });
  }
  return new CordonError('INPUT_INVALID', `could not read from the sandbox's workspace: ${text}`, { details: { field: 'path', reason: READ_REASONS[name] ?? 'read_failed', error: code, ...where } });
}

const ask = (link: ExecutorLink, message: Record<string, unknown>, maxReplyBytes: number, options: TransferOptions) =>
  askExecutor(link, message, maxReplyBytes, { what: 'a file transfer', timeoutMs: options.frameTimeoutMs ?? FRAME_TIMEOUT_MS });
const breach = (link: ExecutorLink, why: string) => protocolBreach(link, why);

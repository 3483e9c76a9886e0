import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { currentRunnerId, isRunnerAlive } from '../core/runner-id.ts';
import type { CordonError } from '../core/errors.ts';
import type { AuditRecord, AuditSink } from './audit-sink.ts';
import { listChainFiles } from './chain-files.ts';
import { createGroupCommitLog, nodeAuditFs, type AuditDurability, type AuditFs } from './group-commit.ts';
import { GENESIS, type ChainedRecord, type ChainHead } from './hash-chain.ts';

/** How far from the end the last record is looked for: far more than one record ever takes. */
const TAIL_BYTES = 4 * 1024 * 1024;

/** The default size at which the live file is rotated: 64 MiB. */
export const DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024;

export interface JsonlAuditLogOptions {
  /** Said once at open, when the file needed mending (a torn last line) or moving aside (no chain). */
  readonly onRepair?: (what: string) => void;
  /** Default `durable`: an append resolves once its record is on disk. */
  readonly durability?: AuditDurability;
  /** Default 64 MiB. */
  readonly rotateBytes?: number;
  /** Said once when the log fails (every later append is refused): the runner logs it. */
  readonly onFailure?: (err: CordonError) => void;
  /** Called after each durable batch with its records in chain order (signed checkpoints hook in here). */
  readonly onCommit?: (records: readonly ChainedRecord[]) => void;
  /** The write and sync calls (tests inject failures and count calls here). */
  readonly fs?: AuditFs;
}

/**
 * Appends one JSON line per record, each chained to the one before (`seq`, `prev`, `hash`:
 * hash-chain.ts), so `cordon audit verify` finds a record edited, removed, inserted or
 * reordered. Records are written in group commits (group-commit.ts): an append resolves when
 * its record is on disk, and rejects, fail closed, once the log cannot be written. The chain
 * goes on across restarts from the last record, and across rotated files (chain-files.ts).
 */
export function createJsonlAuditLog(wanted: string, options: JsonlAuditLogOptions = {}): AuditSink & { readonly path: string } {
  mkdirSync(dirname(wanted), { recursive: true, mode: 0o700 });
  const onRepair = options.onRepair ?? (() => undefined);
  const { path, release } = claim(wanted, onRepair);
  const head = readHead(path, onRepair);
  const fd = openSync(path, 'a', 0o600);
  const log = createGroupCommitLog(path, fd, fstatSync(fd).size, head, {
    durability: options.durability ?? 'durable',
    rotateBytes: options.rotateBytes ?? DEFAULT_ROTATE_BYTES,
    fs: options.fs ?? nodeAuditFs,
    onFailure: options.onFailure ?? (() => undefined),
    ...(options.onCommit === undefined ? {} : { onCommit: options.onCommit }),
  });
  return {
    path,
    append: (record: AuditRecord) => log.append(record),
    close: () => log.close().finally(release),
  };
}

/**
 * One chain has one writer. Two processes appending to one file would both go on from the
 * same head, and the log would no longer verify. The first runner to open the log holds it
 * (`<log>.lock` names its runner id); another process — `cordon run` while `cordon serve`
 * runs on the same data directory — writes its own chain beside it (`audit.<pid>.jsonl`), and
 * says so. A lock whose runner is gone (a crash) is taken over.
 */
function claim(path: string, onRepair: (what: string) => void): { path: string; release: () => void } {
  const lock = `${path}.lock`;
  const me = currentRunnerId();
  const take = (): boolean => {
    try {
      writeFileSync(lock, me, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return false;
    }
  };
  let mine = take();
  if (!mine) {
    const holder = readFileSync(lock, 'utf8').trim();
    if (!isRunnerAlive(holder)) {
      unlinkSync(lock);
      mine = take();
    }
  }
  if (mine) {
    return {
      path,
      release: () => {
        // Only our own lock is removed: a takeover after a crash leaves another runner's.
        try {
          if (readFileSync(lock, 'utf8').trim() === me) unlinkSync(lock);
        } catch {
          // already gone
        }
      },
    };
  }
  const own = join(dirname(path), `${basename(path, '.jsonl')}.${process.pid}.jsonl`);
  onRepair(`${path} is written by another runner; this process keeps its own chain in ${own}`);
  return { path: own, release: () => undefined };
}

/**
 * The chain's head: the live file's last record, or — when the live file is empty or missing
 * because it was just rotated — the newest rotated file's. A last line without its newline is
 * what a crash mid-write leaves: it is no record (it was never reported written, and cannot
 * hash right), so it is cut off, and said. A live file whose last record has no chain (written
 * before the chain existed) is moved aside.
 */
function readHead(path: string, onRepair: (what: string) => void): ChainHead {
  const live = lastLine(path, onRepair);
  if (live !== null) {
    const head = headOf(live);
    if (head !== null) return head;
    const aside = `${path}.${new Date().toISOString().replaceAll(':', '-')}.unchained`;
    renameSync(path, aside);
    onRepair(`${path}: its last record has no hash chain (an older log); moved aside to ${aside}, a new chain starts`);
  }
  const rotated = listChainFiles(path).slice(0, -1).at(-1);
  if (rotated === undefined) return { seq: 0, hash: GENESIS };
  const last = lastLine(rotated, onRepair);
  const head = last === null ? null : headOf(last);
  if (head === null) {
    // Not what Cordon writes: the chain starts over, and verify reports the break.
    onRepair(`${rotated}: the newest rotated file ends in no chained record; a new chain starts (audit verify will report the break)`);
    return { seq: 0, hash: GENESIS };
  }
  return head;
}

/** The last complete line of a file (a torn one cut off first); null for a missing or empty file. */
function lastLine(path: string, onRepair: (what: string) => void): string | null {
  if (!existsSync(path)) return null;
  const fd = openSync(path, 'r+');
  let text: string;
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return null;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    text = buf.toString('utf8');
    if (!text.endsWith('\n')) {
      const keep = text.lastIndexOf('\n') + 1;
      const cut = Buffer.byteLength(text.slice(keep));
      ftruncateSync(fd, size - cut);
      onRepair(`${path}: cut a torn last line of ${cut} bytes (a write a crash interrupted)`);
      text = text.slice(0, keep);
    }
  } finally {
    closeSync(fd);
  }
  const last = text.trimEnd().split('\n').at(-1) ?? '';
  return last === '' ? null : last;
}

function headOf(line: string): ChainHead | null {
  let parsed: { seq?: unknown; hash?: unknown };
  try {
    parsed = JSON.parse(line) as { seq?: unknown; hash?: unknown };
  } catch {
    return null;
  }
  if (typeof parsed.seq === 'number' && Number.isSafeInteger(parsed.seq) && typeof parsed.hash === 'string' && /^[0-9a-f]{64}$/.test(parsed.hash)) {
    return { seq: parsed.seq, hash: parsed.hash };
  }
  return null;
}

/** Keeps records in memory; for tests and `policy explain`-style dry runs. */
export function createMemoryAuditSink(): AuditSink & { readonly records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return {
    records,
    append: (r) => {
      records.push(r);
      return Promise.resolve();
    },
    close: async () => {},
  };
}

import { closeSync, createWriteStream, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { currentRunnerId, isRunnerAlive } from '../core/runner-id.ts';
import type { AuditRecord, AuditSink } from './audit-sink.ts';
import { chain, GENESIS, type ChainHead } from './hash-chain.ts';

/** How far from the end the last record is looked for: far more than one record ever takes. */
const TAIL_BYTES = 4 * 1024 * 1024;

export interface JsonlAuditLogOptions {
  /** Said once at open, when the file needed mending (a torn last line) or moving aside (no chain). */
  readonly onRepair?: (what: string) => void;
}

/**
 * Appends one JSON line per record, each chained to the one before (`seq`, `prev`, `hash`:
 * hash-chain.ts), so `cordon audit verify` finds a record edited, removed, inserted or
 * reordered. Writes are buffered by the stream and flushed in order; close() waits for
 * everything to reach the file. The chain goes on across restarts from the file's last record.
 * (Durable group commit and signed checkpoints are the next steps of the audit issue.)
 */
export function createJsonlAuditLog(wanted: string, options: JsonlAuditLogOptions = {}): AuditSink & { readonly path: string } {
  mkdirSync(dirname(wanted), { recursive: true, mode: 0o700 });
  const onRepair = options.onRepair ?? (() => undefined);
  const { path, release } = claim(wanted, onRepair);
  let head = readHead(path, onRepair);
  const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
  let failure: Error | null = null;
  stream.on('error', (err) => {
    failure = err;
  });
  return {
    path,
    append(record: AuditRecord) {
      if (failure !== null) throw failure;
      const linked = chain(record, head);
      stream.write(JSON.stringify(linked) + '\n');
      head = { seq: linked.seq, hash: linked.hash };
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
      }).finally(release);
    },
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
 * The chain's head from the file's last record. A last line without its newline is what a
 * crash mid-write leaves: it is no record (it cannot hash right), so it is cut off, and said.
 * A file whose last record has no chain (written before the chain existed) is moved aside.
 */
function readHead(path: string, onRepair: (what: string) => void): ChainHead {
  if (!existsSync(path)) return { seq: 0, hash: GENESIS };
  const fd = openSync(path, 'r+');
  let text: string;
  let size: number;
  try {
    size = fstatSync(fd).size;
    if (size === 0) return { seq: 0, hash: GENESIS };
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
  if (last === '') return { seq: 0, hash: GENESIS };
  let parsed: { seq?: unknown; hash?: unknown };
  try {
    parsed = JSON.parse(last) as { seq?: unknown; hash?: unknown };
  } catch {
    parsed = {};
  }
  if (typeof parsed.seq === 'number' && Number.isSafeInteger(parsed.seq) && typeof parsed.hash === 'string' && /^[0-9a-f]{64}$/.test(parsed.hash)) {
    return { seq: parsed.seq, hash: parsed.hash };
  }
  const aside = `${path}.${new Date().toISOString().replaceAll(':', '-')}.unchained`;
  renameSync(path, aside);
  onRepair(`${path}: its last record has no hash chain (an older log); moved aside to ${aside}, a new chain starts`);
  return { seq: 0, hash: GENESIS };
}

/** Keeps records in memory; for tests and `policy explain`-style dry runs. */
export function createMemoryAuditSink(): AuditSink & { readonly records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return { records, append: (r) => void records.push(r), close: async () => {} };
}

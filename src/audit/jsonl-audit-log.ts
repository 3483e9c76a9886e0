import { closeSync, createWriteStream, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
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
export function createJsonlAuditLog(path: string, options: JsonlAuditLogOptions = {}): AuditSink {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let head = readHead(path, options.onRepair ?? (() => undefined));
  const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
  let failure: Error | null = null;
  stream.on('error', (err) => {
    failure = err;
  });
  return {
    append(record: AuditRecord) {
      if (failure !== null) throw failure;
      const linked = chain(record, head);
      stream.write(JSON.stringify(linked) + '\n');
      head = { seq: linked.seq, hash: linked.hash };
    },
    close() {
      return new Promise((resolve, reject) => {
        stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
      });
    },
  };
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

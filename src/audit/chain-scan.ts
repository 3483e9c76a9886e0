import { closeSync, readSync } from 'node:fs';
import { listChainFiles, openChainFile } from './chain-files.ts';

export interface ScannedRecord {
  readonly seq: number;
  /** The record's `hash`, hex. */
  readonly hash: string;
  /** For an invocation record: the `inv_…` id it carries. */
  readonly invocation: string | null;
}

const CHUNK_BYTES = 8 * 1024 * 1024;
const HASH_KEY = Buffer.from('"hash":"');
const PREV_KEY = Buffer.from('"prev":"');
const INVOCATION_KEY = Buffer.from('"invocation":"');
const INVOCATION_KIND = Buffer.from('"kind":"invocation"');
const SEQ_KEY = Buffer.from('"seq":');
const HEX = /^[0-9a-f]{64}$/;
const INVOCATION_ID = /^inv_[A-Za-z0-9_-]{1,64}$/;
// The log writes `{...record, seq, prev, hash}`, so a line ends `,"seq":N,"prev":"<64>","hash":"<64>"}`.
const TAIL = 74; // `"hash":"` + 64 + `"}`
const PREV_TAIL = TAIL + 1 + 74; // `,` + `"prev":"` + 64 + `",`

function fromJson(line: string): ScannedRecord | null {
  try {
    const r = JSON.parse(line) as { seq?: unknown; hash?: unknown; kind?: unknown; invocation?: unknown };
    if (r === null || typeof r !== 'object' || !Number.isSafeInteger(r.seq) || typeof r.hash !== 'string' || !HEX.test(r.hash)) return null;
    const invocation = r.kind === 'invocation' && typeof r.invocation === 'string' && INVOCATION_ID.test(r.invocation) ? r.invocation : null;
    return { seq: r.seq as number, hash: r.hash, invocation };
  } catch {
    return null;
  }
}

/**
 * Every record of a chain (rotated files, then the live one) as seq, hash and invocation id,
 * without a JSON.parse per line: the writer's fixed tail (`"seq":N,"prev":…,"hash":…}`) is read
 * at known offsets, and JSON.parse is the fallback only for a line of another shape. Lines that
 * are no record at all are skipped: judging them is `cordon audit verify`'s job, not this scan's.
 * Synchronous: it runs once at start-up, before anything is appended.
 */
export function scanChain(path: string, onRecord: (r: ScannedRecord) => void): void {
  for (const file of listChainFiles(path)) {
    const fd = openChainFile(file);
    if (fd === null) continue;
    try {
      scanFile(fd, onRecord);
    } finally {
      closeSync(fd);
    }
  }
}

function scanFile(fd: number, onRecord: (r: ScannedRecord) => void): void {
  let carry = Buffer.alloc(0);
  let position = 0;
  const chunk = Buffer.alloc(CHUNK_BYTES);
  for (;;) {
    const n = readSync(fd, chunk, 0, CHUNK_BYTES, position);
    if (n === 0) break;
    position += n;
    const buf = carry.length === 0 ? chunk.subarray(0, n) : Buffer.concat([carry, chunk.subarray(0, n)]);
    let start = 0;
    let nextInvocation = -2;
    for (let end = buf.indexOf(0x0a, start); end >= 0; start = end + 1, end = buf.indexOf(0x0a, start)) {
      if (nextInvocation !== -1 && nextInvocation < start) nextInvocation = buf.indexOf(INVOCATION_KEY, start);
      onLine(buf, start, end, nextInvocation >= 0 && nextInvocation < end ? nextInvocation : -1, onRecord);
    }
    carry = Buffer.from(buf.subarray(start));
  }
  // A last line without its newline is a torn write: the log cuts it at open, and so it is no record.
}

function onLine(buf: Buffer, start: number, end: number, invocationAt: number, onRecord: (r: ScannedRecord) => void): void {
  if (end === start) return;
  // Buffer#compare against the constant keys: no slice object per line.
  const fast = end - start > PREV_TAIL + 8 && buf[end - 1] === 0x7d && buf[end - 2] === 0x22 && HASH_KEY.compare(buf, end - TAIL, end - TAIL + 8) === 0 && PREV_KEY.compare(buf, end - PREV_TAIL + 1, end - PREV_TAIL + 9) === 0;
  if (!fast) {
    const r = fromJson(buf.toString('utf8', start, end));
    if (r !== null) onRecord(r);
    return;
  }
  const hash = buf.toString('latin1', end - 66, end - 2);
  // `…"seq":123,"prev":…`: digits end just before the comma that precedes "prev".
  let i = end - PREV_TAIL;
  let seq = 0;
  let scale = 1;
  while (i > start && buf[i - 1] !== undefined && (buf[i - 1] as number) >= 0x30 && (buf[i - 1] as number) <= 0x39 && scale < 1e16) {
    seq += ((buf[i - 1] as number) - 0x30) * scale;
    scale *= 10;
    i -= 1;
  }
  if (scale === 1 || i - 6 < start || SEQ_KEY.compare(buf, i - 6, i) !== 0 || !HEX.test(hash)) {
    const r = fromJson(buf.toString('utf8', start, end));
    if (r !== null) onRecord(r);
    return;
  }
  let invocation: string | null = null;
  if (invocationAt >= 0 && buf.subarray(start, Math.min(end, start + 64)).includes(INVOCATION_KIND)) {
    const from = invocationAt + INVOCATION_KEY.length;
    const to = buf.indexOf(0x22, from);
    const id = to > from && to < end ? buf.toString('latin1', from, to) : '';
    invocation = INVOCATION_ID.test(id) ? id : null;
  }
  onRecord({ seq, hash, invocation });
}

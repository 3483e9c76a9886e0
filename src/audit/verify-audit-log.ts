import { closeSync, createReadStream, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { listChainFiles } from './chain-files.ts';
import { GENESIS, recordHash } from './hash-chain.ts';

/**
 * What `cordon audit verify` finds in a log:
 * - `malformed`: a line that is no record (not JSON, no seq/prev/hash);
 * - `edited`: a record whose content no longer matches its own hash;
 * - `missing`: seq jumps (records were removed — or a whole rotated file);
 * - `out_of_order`: seq does not go up (records were inserted, repeated or reordered);
 * - `broken_link`: a record's prev is not the hash of the record before it;
 * - `cut_rotated`: a rotated file does not end at the seq its name says (records cut from its end).
 * Without signed checkpoints (the next step), records cut from the end of the live file are not found.
 */
export type AuditProblemKind = 'malformed' | 'edited' | 'missing' | 'out_of_order' | 'broken_link' | 'cut_rotated';

export interface AuditProblem {
  /** The file of the chain the problem is in (its base name: the files sit side by side). */
  readonly file: string;
  readonly line: number;
  readonly seq: number | null;
  readonly kind: AuditProblemKind;
  readonly detail: string;
}

export interface AuditVerifyReport {
  readonly ok: boolean;
  readonly records: number;
  /** The files read, oldest first: rotated files, then the live one. */
  readonly files: readonly string[];
  /** The last record's seq and hash, when the log has one. */
  readonly head: { readonly seq: number; readonly hash: string } | null;
  /** The first 100 problems, in chain order. */
  readonly problems: AuditProblem[];
  /**
   * The live file's last line has no newline: a write a crash interrupted. It was never
   * reported written (an append resolves only after its whole line is on disk), so it is no
   * record and no problem; the runner cuts it off when it next opens the log.
   */
  readonly tornTail: { readonly file: string; readonly line: number; readonly bytes: number } | null;
}

const MAX_PROBLEMS = 100;
const HASH = /^[0-9a-f]{64}$/;
const ROTATED_SEQ = /-(\d{12})\.jsonl$/;

/** Bytes after the file's last newline (0: it ends in one, or is empty). */
function tornBytes(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const tail = Buffer.alloc(Math.min(size, 64 * 1024));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    const nl = tail.lastIndexOf(0x0a);
    if (nl === tail.length - 1 || size === 0) return 0;
    return nl === -1 && size > tail.length ? size : tail.length - nl - 1;
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks the whole chain of the log at `path`: its rotated files in order (chain-files.ts),
 * then the live file, as one sequence of records. Throws ENOENT when no file of it exists.
 */
export async function verifyAuditLog(path: string): Promise<AuditVerifyReport> {
  const files = listChainFiles(path).filter((f, i, all) => i < all.length - 1 || existsSync(f));
  if (files.length === 0) throw Object.assign(new Error(`no audit log at ${path}`), { code: 'ENOENT' });
  const problems: AuditProblem[] = [];
  let file = '';
  const note = (p: Omit<AuditProblem, 'file'>) => {
    if (problems.length < MAX_PROBLEMS) problems.push({ file, ...p });
  };
  let records = 0;
  let expectSeq = 1;
  let prevHash = GENESIS;
  let head: AuditVerifyReport['head'] = null;
  let tornTail: AuditVerifyReport['tornTail'] = null;

  for (const [index, filePath] of files.entries()) {
    file = basename(filePath);
    const live = index === files.length - 1 && ROTATED_SEQ.exec(file) === null;
    // Only the live file can end torn: a rotated file was complete and synced before its rename.
    const torn = live ? tornBytes(filePath) : 0;
    let line = 0;
    let lastSeqHere: number | null = null;
    const lines = createInterface({ input: createReadStream(filePath, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
    const check = (text: string) => {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(text) as Record<string, unknown>;
      } catch {
        note({ line, seq: null, kind: 'malformed', detail: 'not JSON' });
        return;
      }
      if (record === null || typeof record !== 'object') {
        note({ line, seq: null, kind: 'malformed', detail: 'no seq, prev and hash' });
        return;
      }
      const { seq, prev, hash } = record;
      if (!Number.isSafeInteger(seq) || typeof prev !== 'string' || typeof hash !== 'string' || !HASH.test(hash)) {
        note({ line, seq: null, kind: 'malformed', detail: 'no seq, prev and hash' });
        return;
      }
      records += 1;
      const n = seq as number;
      if (recordHash(record) !== hash) note({ line, seq: n, kind: 'edited', detail: 'its content does not match its hash' });
      const first = lastSeqHere === null && index > 0;
      if (n > expectSeq) note({ line, seq: n, kind: 'missing', detail: `seq ${expectSeq}${n - 1 > expectSeq ? `–${n - 1}` : ''} missing before it${first ? ' (at the start of this file: a rotated file removed?)' : ''}` });
      else if (n < expectSeq) note({ line, seq: n, kind: 'out_of_order', detail: `seq ${n} after seq ${expectSeq - 1}` });
      // A gap already explains a broken link; a link is checked where the numbering holds.
      if (n === expectSeq && prev !== prevHash) note({ line, seq: n, kind: 'broken_link', detail: 'its prev is not the hash of the record before it' });
      // A record out of order does not move the count back: what follows is judged after the highest seen.
      expectSeq = Math.max(expectSeq, n + 1);
      prevHash = hash;
      head = { seq: n, hash };
      lastSeqHere = n;
    };
    // One line behind, so the last one is known when it comes: a torn last line is no record.
    let held: string | null = null;
    for await (const text of lines) {
      if (held !== null) check(held);
      line += 1;
      held = text;
    }
    if (held !== null) {
      if (torn > 0) tornTail = { file, line, bytes: torn };
      else check(held);
    }
    const named = ROTATED_SEQ.exec(file)?.[1];
    if (named !== undefined && Number(named) !== lastSeqHere) {
      note({ line, seq: lastSeqHere, kind: 'cut_rotated', detail: `the file is named for seq ${Number(named)} but ends at ${lastSeqHere === null ? 'no record' : `seq ${lastSeqHere}`}` });
    }
  }
  return { ok: problems.length === 0, records, files: files.map((f) => basename(f)), head, problems, tornTail };
}

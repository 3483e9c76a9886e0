import { closeSync, createReadStream, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { CordonError } from '../core/errors.ts';
import { listChainFiles } from './chain-files.ts';
import { openCheckpoint, type Checkpoint } from './checkpoint.ts';
import { GENESIS, recordHash } from './hash-chain.ts';
import { createMerkleTree, leafHash } from './merkle-tree.ts';
import { MAX_NOTE_BYTES, type NoteVerifier } from './signed-note.ts';

/**
 * What `cordon audit verify` finds in a log:
 * - `malformed`: a line that is no record (not JSON, no seq/prev/hash);
 * - `edited`: a record whose content no longer matches its own hash;
 * - `missing`: seq jumps (records were removed — or a whole rotated file);
 * - `out_of_order`: seq does not go up (records were inserted, repeated or reordered);
 * - `broken_link`: a record's prev is not the hash of the record before it;
 * - `cut_rotated`: a rotated file does not end at the seq its name says (records cut from its end);
 * - `truncated`: the log ends before a signed checkpoint's size (its tail was cut);
 * - `checkpoint_mismatch`: the log's first `size` records do not hash to the checkpoint's root —
 *   what an edit looks like once its author re-hashed the chain after it to hide it;
 * - `checkpoint_invalid`: a checkpoint file that does not verify against Cordon's audit key
 *   (forged, signed by another key, malformed), or a configured mirror that is missing.
 * Without a checkpoint, records cut from the end are not found: the report lists the checkpoints read.
 */
export type AuditProblemKind = 'malformed' | 'edited' | 'missing' | 'out_of_order' | 'broken_link' | 'cut_rotated' | 'truncated' | 'checkpoint_mismatch' | 'checkpoint_invalid';

export interface AuditProblem {
  /** Line in `file` (0 for a problem of a checkpoint, not of a line). */
  readonly line: number;
  readonly seq: number | null;
  readonly kind: AuditProblemKind;
  readonly detail: string;
  /** The log file the line is in, or the checkpoint file the problem is about. */
  readonly file?: string;
  /** For `truncated`: the seqs the checkpoint covers that the log no longer has. */
  readonly missing?: { readonly from: number; readonly to: number };
}

export interface AuditVerifyReport {
  readonly ok: boolean;
  readonly records: number;
  /** The files read, oldest first: rotated files, then the live one. */
  readonly files: readonly string[];
  /** The last record's seq and hash, when the log has one. */
  readonly head: { readonly seq: number; readonly hash: string } | null;
  /** The checkpoints that verified and were checked against the log. */
  readonly checkpoints: readonly { readonly file: string; readonly size: number; readonly time: string }[];
  /** The first 100 problems: the log's in file order, then the checkpoints'. */
  readonly problems: AuditProblem[];
  /**
   * The live file's last line has no newline: a write a crash interrupted. It was never
   * reported written (an append resolves only after its whole line is on disk), so it is no
   * record and no problem; the runner cuts it off when it next opens the log.
   */
  readonly tornTail: { readonly file: string; readonly line: number; readonly bytes: number } | null;
}

export interface AuditVerifyOptions {
  /** Check records from this seq on; the ones before are trusted as they are, and so is the link into it. */
  readonly from?: number;
  /** Signed checkpoint files to check the log against (the latest, kept ones, a mirror). */
  readonly checkpointFiles?: readonly string[];
  /** Files that must exist (a configured mirror): missing is a problem. */
  readonly requiredCheckpointFiles?: readonly string[];
  /** The keys that sign checkpoints: Cordon's audit key. */
  readonly verifiers?: readonly NoteVerifier[];
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
 * Checks the whole chain of the log at `path` — its rotated files in order (chain-files.ts),
 * then the live file, as one sequence of records — and the log against its signed checkpoints.
 * Throws ENOENT when no file of it exists.
 */
export async function verifyAuditLog(path: string, options: AuditVerifyOptions = {}): Promise<AuditVerifyReport> {
  const files = listChainFiles(path).filter((f, i, all) => i < all.length - 1 || existsSync(f));
  if (files.length === 0) throw Object.assign(new Error(`no audit log at ${path}`), { code: 'ENOENT' });
  const from = options.from ?? 1;
  if (!Number.isSafeInteger(from) || from < 1) throw new CordonError('USAGE', `--from takes a record's seq, a whole number from 1 (got ${String(from)})`);
  const problems: AuditProblem[] = [];
  const note = (p: AuditProblem) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };

  // Checkpoints first: the tree's root is taken as the scan passes each one's size.
  const checkpoints: { file: string; checkpoint: Checkpoint }[] = [];
  for (const file of options.checkpointFiles ?? []) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !(options.requiredCheckpointFiles ?? []).includes(file)) continue;
      note({ line: 0, seq: null, kind: 'checkpoint_invalid', file, detail: `the checkpoint cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      continue;
    }
    try {
      if (bytes.length > MAX_NOTE_BYTES) throw new CordonError('NOTE_INVALID', `larger than ${MAX_NOTE_BYTES} bytes`);
      checkpoints.push({ file, checkpoint: openCheckpoint(bytes, options.verifiers ?? []) });
    } catch (err) {
      note({ line: 0, seq: null, kind: 'checkpoint_invalid', file, detail: `the checkpoint does not verify against Cordon's audit key: ${(err as Error).message}` });
    }
  }
  const roots = new Map<number, Buffer>();
  const wanted = new Set(checkpoints.map((c) => c.checkpoint.size));
  const tree = createMerkleTree({ keepLeaves: false });
  if (wanted.has(0)) roots.set(0, tree.root());

  let records = 0;
  let expectSeq = 1;
  let prevHash = GENESIS;
  // Set inside check(): typed wide so the compiler does not take it for null after the loop.
  let head = null as AuditVerifyReport['head'];
  let tornTail: AuditVerifyReport['tornTail'] = null;
  for (const [index, file] of files.entries()) {
    const live = index === files.length - 1 && ROTATED_SEQ.exec(basename(file)) === null;
    // Only the live file can end torn: a rotated file was complete and synced before its rename.
    const torn = live ? tornBytes(file) : 0;
    let line = 0;
    let lastSeqHere: number | null = null;
    const check = (text: string): void => {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(text) as Record<string, unknown>;
      } catch {
        note({ line, seq: null, kind: 'malformed', file, detail: 'not JSON' });
        return;
      }
      if (record === null || typeof record !== 'object' || !Number.isSafeInteger(record.seq) || typeof record.prev !== 'string' || typeof record.hash !== 'string' || !HASH.test(record.hash)) {
        note({ line, seq: null, kind: 'malformed', file, detail: 'no seq, prev and hash' });
        return;
      }
      const { prev, hash } = record as { prev: string; hash: string };
      records += 1;
      const n = record.seq as number;
      tree.append(leafHash(hash));
      if (wanted.has(tree.size)) roots.set(tree.size, tree.root());
      // Before --from: trusted as written (their hashes still build the tree the checkpoints sign).
      if (n >= from) {
        if (recordHash(record) !== hash) note({ line, seq: n, kind: 'edited', file, detail: 'its content does not match its hash' });
        const firstHere = lastSeqHere === null && index > 0;
        if (n > expectSeq) note({ line, seq: n, kind: 'missing', file, detail: `seq ${expectSeq}${n - 1 > expectSeq ? `–${n - 1}` : ''} missing before it${firstHere ? ' (at the start of this file: a rotated file removed?)' : ''}` });
        else if (n < expectSeq) note({ line, seq: n, kind: 'out_of_order', file, detail: `seq ${n} after seq ${expectSeq - 1}` });
        // A gap already explains a broken link; a link is checked where the numbering holds,
        // and not into the --from record, whose link is trusted.
        if (n === expectSeq && n !== from && prev !== prevHash) note({ line, seq: n, kind: 'broken_link', file, detail: 'its prev is not the hash of the record before it' });
      }
      // A record out of order does not move the count back: what follows is judged after the highest seen.
      expectSeq = Math.max(expectSeq, n + 1);
      prevHash = hash;
      head = { seq: n, hash };
      lastSeqHere = n;
    };
    // One line behind, so the last one is known when it comes: a torn last line is no record.
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
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
    const named = ROTATED_SEQ.exec(basename(file))?.[1];
    if (named !== undefined && Number(named) !== lastSeqHere) {
      note({ line, seq: lastSeqHere, kind: 'cut_rotated', file, detail: `the file is named for seq ${Number(named)} but ends at ${lastSeqHere === null ? 'no record' : `seq ${lastSeqHere}`}` });
    }
  }
  if (from > 1 && (head === null || from > head.seq)) {
    throw new CordonError('USAGE', `--from ${from} is past the end of the log (its last record is seq ${head?.seq ?? 0})`, { details: { last: head?.seq ?? 0 } });
  }

  for (const { file, checkpoint } of checkpoints) {
    const root = roots.get(checkpoint.size);
    if (root === undefined) {
      const last = head?.seq ?? 0;
      note({
        line: 0,
        seq: null,
        kind: 'truncated',
        file,
        missing: { from: records + 1, to: checkpoint.size },
        detail: `the log holds ${records} records (last seq ${last}) and the checkpoint signed at ${checkpoint.time} covers ${checkpoint.size}: seq ${records + 1}${checkpoint.size > records + 1 ? `–${checkpoint.size}` : ''} cut from the end`,
      });
    } else if (!root.equals(checkpoint.rootHash)) {
      note({ line: 0, seq: null, kind: 'checkpoint_mismatch', file, detail: `the log's first ${checkpoint.size} records do not hash to the root the checkpoint signed at ${checkpoint.time}: a record in them was changed, added or removed` });
    }
  }
  return {
    ok: problems.length === 0,
    records,
    files,
    head,
    checkpoints: checkpoints.map(({ file, checkpoint }) => ({ file, size: checkpoint.size, time: checkpoint.time })),
    problems,
    tornTail,
  };
}

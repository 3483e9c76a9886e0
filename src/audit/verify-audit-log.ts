import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { GENESIS, recordHash } from './hash-chain.ts';

/**
 * What `cordon audit verify` finds in a log:
 * - `malformed`: a line that is no record (not JSON, no seq/prev/hash);
 * - `edited`: a record whose content no longer matches its own hash;
 * - `missing`: seq jumps (records were removed);
 * - `out_of_order`: seq does not go up (records were inserted, repeated or reordered);
 * - `broken_link`: a record's prev is not the hash of the record before it.
 * Without signed checkpoints (the next step), records cut from the end are not found.
 */
export type AuditProblemKind = 'malformed' | 'edited' | 'missing' | 'out_of_order' | 'broken_link';

export interface AuditProblem {
  readonly line: number;
  readonly seq: number | null;
  readonly kind: AuditProblemKind;
  readonly detail: string;
}

export interface AuditVerifyReport {
  readonly ok: boolean;
  readonly records: number;
  /** The last record's seq and hash, when the log has one. */
  readonly head: { readonly seq: number; readonly hash: string } | null;
  /** The first 100 problems, in file order. */
  readonly problems: AuditProblem[];
}

const MAX_PROBLEMS = 100;
const HASH = /^[0-9a-f]{64}$/;

export async function verifyAuditLog(path: string): Promise<AuditVerifyReport> {
  const problems: AuditProblem[] = [];
  const note = (p: AuditProblem) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  let records = 0;
  let line = 0;
  let expectSeq = 1;
  let prevHash = GENESIS;
  let head: AuditVerifyReport['head'] = null;
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const text of lines) {
    line += 1;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(text) as Record<string, unknown>;
    } catch {
      note({ line, seq: null, kind: 'malformed', detail: 'not JSON' });
      continue;
    }
    const { seq, prev, hash } = record;
    if (record === null || typeof record !== 'object' || !Number.isSafeInteger(seq) || typeof prev !== 'string' || typeof hash !== 'string' || !HASH.test(hash)) {
      note({ line, seq: null, kind: 'malformed', detail: 'no seq, prev and hash' });
      continue;
    }
    records += 1;
    const n = seq as number;
    if (recordHash(record) !== hash) note({ line, seq: n, kind: 'edited', detail: 'its content does not match its hash' });
    if (n > expectSeq) note({ line, seq: n, kind: 'missing', detail: `seq ${expectSeq}${n - 1 > expectSeq ? `–${n - 1}` : ''} missing before it` });
    else if (n < expectSeq) note({ line, seq: n, kind: 'out_of_order', detail: `seq ${n} after seq ${expectSeq - 1}` });
    // A gap already explains a broken link; a link is checked where the numbering holds.
    if (n === expectSeq && prev !== prevHash) note({ line, seq: n, kind: 'broken_link', detail: 'its prev is not the hash of the record before it' });
    // A record out of order does not move the count back: what follows is judged after the highest seen.
    expectSeq = Math.max(expectSeq, n + 1);
    prevHash = hash;
    head = { seq: n, hash };
  }
  return { ok: problems.length === 0, records, head, problems };
}

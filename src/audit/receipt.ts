import { openCheckpoint, type Checkpoint } from './checkpoint.ts';
import { recordHash, type ChainedRecord } from './hash-chain.ts';
import { leafHash, rootFromInclusionProof } from './merkle-tree.ts';
import { parseVerifierKey } from './signed-note.ts';

/**
 * A receipt: portable proof of what Cordon decided about one invocation, checkable without
 * Cordon — the invocation's final audit record, a signed checkpoint, and the RFC 6962 inclusion
 * proof that the record is leaf `seq - 1` of the tree whose root the checkpoint signs.
 */
export interface Receipt {
  readonly record: ChainedRecord;
  /** The signed checkpoint note (C2SP signed-note + tlog-checkpoint). */
  readonly checkpoint: string;
  readonly proof: { readonly leafIndex: number; readonly treeSize: number; readonly path: readonly string[] };
  /** Cordon's verifier key, for convenience: a verifier checks against the key it trusts, not this one. */
  readonly verifierKey: string;
}

export type ReceiptVerification = { readonly ok: true; readonly checkpoint: Checkpoint } | { readonly ok: false; readonly reason: string };

/** A tree of 2^64 leaves has a 64-hash path; anything longer is not a proof. */
const MAX_PATH = 64;
const HEX = /^[0-9a-f]{64}$/;

/**
 * Checks a receipt against the verifier key the caller trusts (`cordon audit key` prints it):
 * the record hashes to its own `hash`, the checkpoint is signed by that key, and the proof leads
 * from the record's leaf to the checkpoint's root at the checkpoint's size.
 */
export function verifyReceipt(receipt: unknown, verifierKey: string): ReceiptVerification {
  const fail = (reason: string): ReceiptVerification => ({ ok: false, reason });
  if (receipt === null || typeof receipt !== 'object') return fail('a receipt is an object');
  const { record, checkpoint: note, proof } = receipt as Partial<Record<keyof Receipt, unknown>>;
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return fail('the receipt has no record');
  const r = record as Record<string, unknown>;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1 || typeof r.hash !== 'string' || !HEX.test(r.hash)) return fail('the record has no seq and hash');
  if (recordHash(r) !== r.hash) return fail('the record does not match its hash (it was altered)');
  if (typeof note !== 'string') return fail('the receipt has no checkpoint');
  if (proof === null || typeof proof !== 'object') return fail('the receipt has no proof');
  const { leafIndex, treeSize, path } = proof as Record<string, unknown>;
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize) || !Array.isArray(path) || path.length > MAX_PATH) return fail('the proof is malformed');
  const hashes: Buffer[] = [];
  for (const p of path) {
    const b = typeof p === 'string' ? Buffer.from(p, 'base64') : null;
    if (b === null || b.length !== 32 || b.toString('base64') !== p) return fail('a proof hash is not base64 of 32 bytes');
    hashes.push(b);
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = openCheckpoint(note, [parseVerifierKey(verifierKey)]);
  } catch (err) {
    return fail(`the checkpoint does not verify: ${(err as Error).message}`);
  }
  if (leafIndex !== (r.seq as number) - 1) return fail(`the proof is for leaf ${String(leafIndex)}, and record seq ${String(r.seq)} is leaf ${(r.seq as number) - 1}`);
  if (treeSize !== checkpoint.size) return fail(`the proof is for a tree of ${String(treeSize)} records, the checkpoint signs ${checkpoint.size}`);
  const root = rootFromInclusionProof(leafHash(r.hash), { leafIndex: leafIndex as number, treeSize: treeSize as number, path: hashes });
  if (root === null || !root.equals(checkpoint.rootHash)) return fail('the proof does not lead from the record to the checkpoint\'s root');
  return { ok: true, checkpoint };
}

import { createHash } from 'node:crypto';
import type { AuditRecord } from './audit-sink.ts';
import { canonicalJson } from './canonical-json.ts';

/** The first record's `prev`: 64 zeros, no record before it. */
export const GENESIS = '0'.repeat(64);

/** A record as the log holds it: numbered from 1, bound to the one before it. */
export type ChainedRecord = AuditRecord & {
  readonly seq: number;
  /** `hash` of the record before (GENESIS for the first). */
  readonly prev: string;
  /** SHA-256, hex, over the canonical JSON (RFC 8785) of the record with `seq` and `prev`, without `hash`. */
  readonly hash: string;
};

export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export function recordHash(record: Readonly<Record<string, unknown>>): string {
  const { hash: _hash, ...rest } = record;
  return sha256OfCanonical(rest);
}

const sha256OfCanonical = (content: unknown): string => createHash('sha256').update(canonicalJson(content)).digest('hex');

/** The next link: `record` numbered after `head` and bound to it. */
export function chain(record: AuditRecord, head: ChainHead): ChainedRecord {
  const linked = { ...record, seq: head.seq + 1, prev: head.hash };
  // `linked` has no hash yet: hashed as it is, without recordHash's copy (this runs per append).
  return { ...linked, hash: sha256OfCanonical(linked) };
}

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { CordonError } from '../core/errors.ts';
import { listChainFiles } from './chain-files.ts';
import type { Checkpointer } from './checkpointer.ts';
import type { ChainedRecord } from './hash-chain.ts';
import { leafHash, rootFromInclusionProof } from './merkle-tree.ts';
import type { Receipt } from './receipt.ts';

export interface InvocationIndex {
  /** Called for each record of the chain (the checkpointer's onRecord, from its start-up scan on). */
  add(seq: number, invocation: string | null): void;
  seqOf(invocation: string): number | undefined;
}

/** Invocation id → seq of its last record, the newest `max` invocations (see createReceiptStore). */
export function createInvocationIndex(max = 100_000): InvocationIndex {
  const bySeq = new Map<string, number>();
  return {
    add(seq, invocation) {
      if (invocation === null) return;
      // The last record of an invocation is its final one: re-inserting moves it to the newest end.
      bySeq.delete(invocation);
      bySeq.set(invocation, seq);
      if (bySeq.size > max) bySeq.delete(bySeq.keys().next().value as string);
    },
    seqOf: (invocation) => bySeq.get(invocation),
  };
}

export interface ReceiptStore {
  /** Committed records (the log's onCommit): the recent ones are kept whole. */
  observe(records: readonly ChainedRecord[]): void;
  /**
   * The receipt of an invocation, if its record is known and `mayRead(record)` says the caller
   * may see it; null otherwise — the same null whether it does not exist or is someone else's.
   */
  receipt(invocation: string, mayRead: (record: ChainedRecord) => boolean): Promise<Receipt | null>;
}

export interface ReceiptStoreOptions {
  readonly checkpointer: Checkpointer;
  readonly logPath: string;
  readonly verifierKey: string;
  readonly index: InvocationIndex;
  /** Records kept whole in memory, newest first to be asked for. */
  readonly recentRecords?: number;
}

/**
 * Finding the record: an in-memory index, invocation id → seq, bounded (100,000 by default: a few
 * MB), filled from the start-up scan and then from each committed record. An index rather than a
 * scan per request, because a scan reads the whole log and any agent may ask: with the index, an
 * unknown id costs a map lookup, and only a real receipt reads the disk. An invocation older than
 * the index has no receipt (404), which bounds the work an agent can cause.
 * The record itself: the last 4096 come from memory (they may not have reached the file yet);
 * older ones from one streaming pass over the log up to that seq — about the cost of reading
 * the file that far, so such reads go one at a time.
 * Proofs come from the checkpointer's tree (merkle-tree.ts): no disk, at most two blocks of
 * 1024 leaves hashed plus one hash per block.
 */
export function createReceiptStore(options: ReceiptStoreOptions): ReceiptStore {
  const recentMax = options.recentRecords ?? 4096;
  const recent = new Map<number, ChainedRecord>();
  let diskReads: Promise<unknown> = Promise.resolve();

  async function fromDisk(seq: number): Promise<ChainedRecord | null> {
    const needle = `"seq":${seq},"prev":"`;
    for (const file of listChainFiles(options.logPath)) {
      const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
      try {
        for await (const line of lines) {
          if (!line.includes(needle)) continue;
          const r = JSON.parse(line) as ChainedRecord;
          if (r.seq === seq) return r;
        }
      } catch {
        // A file gone (rotated away between listing and reading) or unreadable: the iterator
        // rejects with the stream's error, and the next file is looked in.
      } finally {
        lines.close();
      }
    }
    return null;
  }

  return {
    observe(records) {
      for (const r of records) {
        recent.set(r.seq, r);
        recent.delete(r.seq - recentMax);
      }
    },
    async receipt(invocation, mayRead) {
      const seq = options.index.seqOf(invocation);
      if (seq === undefined) return null;
      let record = recent.get(seq) ?? null;
      if (record === null) {
        const read = diskReads.then(() => fromDisk(seq));
        diskReads = read.catch(() => undefined);
        record = await read;
      }
      if (record === null || record.invocation !== invocation || !mayRead(record)) return null;
      const { checkpointer } = options;
      // A checkpoint that covers the record: the latest, or one signed now.
      const latest = checkpointer.latest();
      const signed = latest !== null && latest.checkpoint.size >= seq ? latest : checkpointer.checkpoint();
      const proof = checkpointer.tree.inclusionProof(seq - 1, signed.checkpoint.size);
      // The record read must be the one the tree holds: a log edited under a running runner
      // would otherwise yield a receipt that does not verify.
      const root = rootFromInclusionProof(leafHash(record.hash), proof);
      if (root === null || !root.equals(signed.checkpoint.rootHash)) {
        throw new CordonError('INTERNAL', 'the audit record on disk does not match the signed tree', { details: { seq } });
      }
      return {
        record,
        checkpoint: signed.note,
        proof: { leafIndex: proof.leafIndex, treeSize: proof.treeSize, path: proof.path.map((p) => p.toString('base64')) },
        verifierKey: options.verifierKey,
      };
    },
  };
}

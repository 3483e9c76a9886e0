import { closeSync, existsSync, openSync, readSync, renameSync } from 'node:fs';
import { openCheckpoint, signCheckpoint, type Checkpoint } from './checkpoint.ts';
import { checkpointPath, rejectedCheckpointPath, writeFileAtomic } from './checkpoint-file.ts';
import { scanChain } from './chain-scan.ts';
import { GENESIS, type ChainedRecord, type ChainHead } from './hash-chain.ts';
import { createMerkleTree, leafHash, type MerkleTree } from './merkle-tree.ts';
import { MAX_NOTE_BYTES, type NoteSigner } from './signed-note.ts';

export interface SignedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The signed note, as written to `<log>.checkpoint`. */
  readonly note: string;
}

export interface CheckpointerOptions {
  /** The live log file of the chain (rotated files beside it are found by chain-files.ts). */
  readonly logPath: string;
  /** The checkpoint origin, also the signing key's name. */
  readonly origin: string;
  readonly signer: NoteSigner;
  /** Sign after this many records (audit.checkpointEvery). */
  readonly every: number;
  /** Or this long after the last checkpoint, when records came since (audit.checkpointIntervalMs). */
  readonly intervalMs: number;
  /** A second file the latest checkpoint is copied to (audit.checkpointMirror). */
  readonly mirror: string | null;
  /** Said when something needs an operator's eye: a rejected checkpoint, a write that failed. */
  readonly onWarning?: (what: string) => void;
  /** Each record of the chain, from the start-up scan and then as observed (the receipt index). */
  readonly onRecord?: (seq: number, invocation: string | null) => void;
  readonly now?: () => Date;
}

export interface Checkpointer {
  /** Records that are committed to the log, in chain order (the log's onCommit). */
  observe(records: readonly ChainedRecord[]): void;
  /** A signed checkpoint of every record observed so far: the latest if it already covers them all, else a new one. */
  checkpoint(): SignedCheckpoint;
  latest(): SignedCheckpoint | null;
  /** The Merkle tree over the records observed so far (leaf i is record seq i + 1). */
  readonly tree: Pick<MerkleTree, 'size' | 'rootAt' | 'inclusionProof'>;
  readonly head: ChainHead;
  /** Waits for the checkpoint files queued so far to be written. */
  flush(): Promise<void>;
  /** Signs a last checkpoint and writes it. */
  close(): Promise<void>;
}

/**
 * Signs the log's state now and then, so a tail cut off the log is found: a cut leaves a valid
 * hash chain, but not one as long as the signed checkpoint says, nor with its root.
 * State is a Merkle tree kept incrementally (merkle-tree.ts), rebuilt at start-up from the log's
 * record hashes by a scan that reads each line's tail, not its JSON (chain-scan.ts).
 */
export function createCheckpointer(options: CheckpointerOptions): Checkpointer {
  const warn = options.onWarning ?? (() => undefined);
  const now = options.now ?? (() => new Date());
  const path = checkpointPath(options.logPath);
  const tree = createMerkleTree();
  let head: ChainHead = { seq: 0, hash: GENESIS };
  let misnumbered = false;
  scanChain(options.logPath, (r) => {
    if (r.seq !== tree.size + 1 && !misnumbered) misnumbered = true;
    tree.append(leafHash(r.hash));
    head = { seq: r.seq, hash: r.hash };
    options.onRecord?.(r.seq, r.invocation);
  });
  if (misnumbered) warn(`${options.logPath}: records are not numbered 1..${tree.size} in file order; checkpoints cover them in file order (run cordon audit verify)`);

  let latest = adoptExisting();
  let lastAt = latest === null ? now().getTime() : Date.parse(latest.checkpoint.time);
  let timer: NodeJS.Timeout | null = null;
  let writes: Promise<void> = Promise.resolve();
  let closed = false;

  /**
   * The checkpoint already beside the log, if it still describes it. One that does not — the
   * log is shorter than it says, or hashes to another root — is the evidence of tampering while
   * the runner was down: it is kept under another name (verify reports it), never overwritten.
   */
  function adoptExisting(): SignedCheckpoint | null {
    if (!existsSync(path)) return null;
    let why: string;
    try {
      const bytes = readBounded(path);
      const checkpoint = openCheckpoint(bytes, [options.signer]);
      const note = bytes.toString('utf8');
      if (checkpoint.origin !== options.origin) why = `it is for origin ${checkpoint.origin}`;
      else if (checkpoint.size > tree.size) why = `it covers ${checkpoint.size} records and the log has ${tree.size}`;
      else if (!tree.rootAt(checkpoint.size).equals(checkpoint.rootHash)) why = `the log's first ${checkpoint.size} records do not hash to its root`;
      else return { checkpoint, note };
    } catch (err) {
      why = `it does not open: ${(err as Error).message}`;
    }
    const aside = rejectedCheckpointPath(options.logPath, now());
    renameSync(path, aside);
    warn(`${path} does not match the log (${why}); kept as ${aside} — the log may have been cut or edited while the runner was down; cordon audit verify reports it until it is removed`);
    return null;
  }

  function write(note: string): void {
    const targets = options.mirror === null ? [path] : [path, options.mirror];
    writes = writes.then(async () => {
      for (const target of targets) {
        try {
          await writeFileAtomic(target, note);
        } catch (err) {
          warn(`could not write the audit checkpoint to ${target}: ${(err as Error).message}`);
        }
      }
    });
  }

  function checkpoint(): SignedCheckpoint {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (latest !== null && latest.checkpoint.size === tree.size) return latest;
    const at = now();
    const body: Checkpoint = { origin: options.origin, size: tree.size, rootHash: tree.rootAt(tree.size), chainHead: head.hash, time: at.toISOString() };
    latest = { checkpoint: body, note: signCheckpoint(body, options.signer) };
    lastAt = at.getTime();
    write(latest.note);
    return latest;
  }

  return {
    observe(records) {
      for (const r of records) {
        // The committer hands over one chain in order; anything else is a wiring bug, and a
        // checkpoint over it would sign a tree the log does not hold.
        if (r.seq !== head.seq + 1 || r.prev !== head.hash) {
          warn(`audit checkpointer: record seq ${r.seq} does not follow seq ${head.seq}; not covered by checkpoints`);
          continue;
        }
        tree.append(leafHash(r.hash));
        head = { seq: r.seq, hash: r.hash };
        options.onRecord?.(r.seq, r.kind === 'invocation' && typeof r.invocation === 'string' ? r.invocation : null);
      }
      if (closed) return;
      const pending = tree.size - (latest?.checkpoint.size ?? 0);
      if (pending >= options.every) checkpoint();
      else if (pending > 0 && timer === null) {
        timer = setTimeout(checkpoint, Math.max(0, lastAt + options.intervalMs - now().getTime()));
        timer.unref();
      }
    },
    checkpoint,
    latest: () => latest,
    tree,
    get head() {
      return head;
    },
    flush: () => writes,
    async close() {
      closed = true;
      checkpoint();
      await writes;
    },
  };
}

function readBounded(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_NOTE_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

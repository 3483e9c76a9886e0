import { hash } from 'node:crypto';

/**
 * The RFC 6962 Merkle tree over the audit log's records (the tree Certificate Transparency, Go's
 * checksum database and Sigstore's Rekor use), so standard transparency-log tooling computes the
 * same root and checks our inclusion proofs:
 *   leaf   = SHA-256(0x00 || the record's 32 raw `hash` bytes)
 *   node   = SHA-256(0x01 || left || right)
 *   MTH(n) = H(MTH(first k) || MTH(rest)), k the largest power of two below n; MTH(0) = SHA-256("").
 */

const HASH_BYTES = 32;
/** Leaves per cached block: proofs hash ≤ 2 blocks of leaves plus one hash per block, not the whole log. */
const BLOCK_LEAVES = 1024;
const BLOCK_HEIGHT = 10;

export const EMPTY_ROOT = hash('sha256', Buffer.alloc(0), 'buffer');

// One-shot crypto.hash over a reused input buffer: a streaming Hash object per node costs
// several times more, and start-up hashes two per record of the whole log.
const leafInput = Buffer.alloc(1 + HASH_BYTES);
const nodeInput = Buffer.alloc(1 + 2 * HASH_BYTES);
nodeInput[0] = 0x01;

export function leafHash(recordHashHex: string): Buffer {
  if (leafInput.write(recordHashHex, 1, 'hex') !== HASH_BYTES) throw new RangeError('a record hash is 64 hex digits');
  return hash('sha256', leafInput, 'buffer');
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) throw new RangeError('a node hash is over two 32-byte hashes');
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_BYTES);
  return hash('sha256', nodeInput, 'buffer');
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export interface InclusionProof {
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly path: readonly Buffer[];
}

export interface MerkleTree {
  readonly size: number;
  append(leaf: Buffer): void;
  /** The root of the whole tree, from the compact range: O(log n). */
  root(): Buffer;
  /** The root of the tree's first `size` leaves. */
  rootAt(size: number): Buffer;
  /** The RFC 6962 audit path from leaf `index` to the root of the first `size` leaves. */
  inclusionProof(index: number, size: number): InclusionProof;
}

/**
 * Incremental: a compact range (the roots of the perfect subtrees the size decomposes into,
 * O(log n) hashes) gives the root at O(1) amortized hashing per record. Proofs need leaves, so
 * the leaf hashes are kept too — 32 bytes a record, 32 MB per million — plus the hash of every
 * complete block of 1024 leaves, which the compact range produces for free; with those, a proof
 * hashes at most two blocks of leaves and one hash per block instead of the whole log.
 */
export function createMerkleTree(options: { keepLeaves?: boolean } = {}): MerkleTree {
  // Without leaves (a verifier that only needs roots as it goes): O(log n) memory, no proofs.
  const keepLeaves = options.keepLeaves ?? true;
  let leaves: Buffer = Buffer.alloc(keepLeaves ? HASH_BYTES * 1024 : 0);
  let size = 0;
  const blocks: Buffer[] = [];
  const range: { hash: Buffer; height: number }[] = [];

  const leafAt = (i: number) => leaves.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);

  function subtree(lo: number, hi: number): Buffer {
    const n = hi - lo;
    if (n === 1) return leafAt(lo);
    if (n === BLOCK_LEAVES && lo % BLOCK_LEAVES === 0 && blocks[lo / BLOCK_LEAVES] !== undefined) return blocks[lo / BLOCK_LEAVES] as Buffer;
    const k = largestPowerOfTwoBelow(n);
    return nodeHash(subtree(lo, lo + k), subtree(lo + k, hi));
  }

  function path(m: number, lo: number, hi: number, out: Buffer[]): void {
    const n = hi - lo;
    if (n === 1) return;
    const k = largestPowerOfTwoBelow(n);
    if (m < k) {
      path(m, lo, lo + k, out);
      out.push(subtree(lo + k, hi));
    } else {
      path(m - k, lo + k, hi, out);
      out.push(subtree(lo, lo + k));
    }
  }

  const checkSize = (n: number) => {
    if (!Number.isSafeInteger(n) || n < 0 || n > size) throw new RangeError(`tree size ${n} is not within 0..${size}`);
    if (!keepLeaves && n !== size) throw new RangeError('this tree keeps no leaves: only its current root');
  };

  return {
    get size() {
      return size;
    },
    append(leaf) {
      if (leaf.length !== HASH_BYTES) throw new RangeError('a leaf hash is 32 bytes');
      if (keepLeaves) {
        if ((size + 1) * HASH_BYTES > leaves.length) {
          const grown = Buffer.alloc(leaves.length * 2);
          leaves.copy(grown);
          leaves = grown;
        }
        leaf.copy(leaves, size * HASH_BYTES);
      }
      size += 1;
      let top: { hash: Buffer; height: number } = { hash: Buffer.from(leaf), height: 0 };
      for (let last = range.at(-1); last !== undefined && last.height === top.height; last = range.at(-1)) {
        range.pop();
        top = { hash: nodeHash(last.hash, top.hash), height: top.height + 1 };
        if (top.height === BLOCK_HEIGHT) blocks.push(top.hash);
      }
      range.push(top);
    },
    root() {
      if (range.length === 0) return EMPTY_ROOT;
      let acc = (range.at(-1) as { hash: Buffer }).hash;
      for (let i = range.length - 2; i >= 0; i--) acc = nodeHash((range[i] as { hash: Buffer }).hash, acc);
      return acc;
    },
    rootAt(n) {
      checkSize(n);
      if (n === size) return this.root();
      return n === 0 ? EMPTY_ROOT : subtree(0, n);
    },
    inclusionProof(index, n) {
      if (!keepLeaves) throw new RangeError('this tree keeps no leaves: no proofs');
      checkSize(n);
      if (!Number.isSafeInteger(index) || index < 0 || index >= n) throw new RangeError(`leaf ${index} is not in a tree of ${n}`);
      const out: Buffer[] = [];
      path(index, 0, n, out);
      return { leafIndex: index, treeSize: n, path: out };
    },
  };
}

/**
 * RFC 9162's verification of an inclusion proof: the root it leads to from `leaf`, or null when the
 * proof cannot belong to a tree of that size (too long, too short, index out of range).
 * Arithmetic, not 32-bit shifts: sizes past 2^32 stay right.
 */
export function rootFromInclusionProof(leaf: Buffer, proof: InclusionProof): Buffer | null {
  const { leafIndex, treeSize, path } = proof;
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize) || leafIndex < 0 || leafIndex >= treeSize) return null;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r: Buffer = leaf;
  for (const p of path) {
    if (p.length !== HASH_BYTES || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

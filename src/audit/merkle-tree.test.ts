import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createMerkleTree, EMPTY_ROOT, leafHash, nodeHash, rootFromInclusionProof, type InclusionProof } from './merkle-tree.ts';

const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const recordHash = (i: number) => createHash('sha256').update(`record ${i}`).digest('hex');

/** RFC 6962 section 2.1, written out literally: the reference the incremental tree must match. */
function referenceRoot(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0] as Buffer;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.from([1]), referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

function build(n: number) {
  const tree = createMerkleTree();
  const leaves: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const leaf = leafHash(recordHash(i));
    leaves.push(leaf);
    tree.append(leaf);
  }
  return { tree, leaves };
}

describe('the RFC 6962 Merkle tree over audit records', () => {
  it('hashes leaves and nodes with the RFC\'s domain-separation prefixes', () => {
    const h = recordHash(0);
    expect(leafHash(h)).toEqual(sha(Buffer.from([0]), Buffer.from(h, 'hex')));
    expect(nodeHash(leafHash(h), leafHash(h))).toEqual(sha(Buffer.from([1]), leafHash(h), leafHash(h)));
    expect(createMerkleTree().root()).toEqual(EMPTY_ROOT);
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('keeps the same root as the RFC definition at every size, across the cached blocks', () => {
    const { tree, leaves } = build(3100);
    const fresh = createMerkleTree();
    for (let n = 0; n <= 3100; n++) {
      if (n <= 70 || [1023, 1024, 1025, 2047, 2048, 2049, 3072, 3073, 3100].includes(n)) {
        const want = referenceRoot(leaves.slice(0, n));
        expect(fresh.root(), `root at ${n}`).toEqual(want);
        expect(tree.rootAt(n), `rootAt ${n}`).toEqual(want);
      }
      if (n < 3100) fresh.append(leaves[n] as Buffer);
    }
  });

  it('gives inclusion proofs that lead each leaf to the root of the tree it names', () => {
    const { tree, leaves } = build(2100);
    for (const n of [1, 2, 3, 7, 8, 9, 33, 1024, 1025, 2100]) {
      const root = tree.rootAt(n);
      for (const i of new Set([0, 1, Math.floor(n / 2), n - 2, n - 1].filter((x) => x >= 0 && x < n))) {
        const proof = tree.inclusionProof(i, n);
        expect(rootFromInclusionProof(leaves[i] as Buffer, proof), `leaf ${i} of ${n}`).toEqual(root);
      }
    }
  });

  it('refuses proofs that were altered, moved to another leaf, or stretched to another size', () => {
    const { tree, leaves } = build(128);
    const proof = tree.inclusionProof(37, 100);
    const root = tree.rootAt(100);
    const leaf = leaves[37] as Buffer;
    const flipped = proof.path.map((p, i) => (i === 2 ? Buffer.from(p.map((b, j) => (j === 0 ? b ^ 1 : b))) : p));
    const attempts: InclusionProof[] = [
      { ...proof, path: flipped },
      { ...proof, leafIndex: 36 },
      { ...proof, treeSize: 101 },
      { ...proof, treeSize: 64 },
      { ...proof, path: proof.path.slice(0, -1) },
      { ...proof, path: [...proof.path, root] },
      { ...proof, leafIndex: 100 },
      { ...proof, leafIndex: -1 },
      { ...proof, path: [Buffer.alloc(31), ...proof.path.slice(1)] },
    ];
    for (const bad of attempts) {
      // A proof is checked against the root of the size it claims (a checkpoint's size and root).
      const claimed = bad.treeSize <= 128 ? tree.rootAt(bad.treeSize) : root;
      const got = rootFromInclusionProof(leaf, bad);
      expect(got === null || !got.equals(claimed), JSON.stringify({ i: bad.leafIndex, n: bad.treeSize, len: bad.path.length })).toBe(true);
    }
    expect(rootFromInclusionProof(leaves[36] as Buffer, proof)?.equals(root)).toBe(false);
  });

  it('refuses sizes and indexes outside the tree', () => {
    const { tree } = build(5);
    expect(() => tree.rootAt(6)).toThrow(RangeError);
    expect(() => tree.inclusionProof(5, 5)).toThrow(RangeError);
    expect(() => tree.inclusionProof(0, 1.5)).toThrow(RangeError);
    expect(() => tree.append(Buffer.alloc(31))).toThrow(RangeError);
  });
});

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

// Certificate Transparency's published reference tree (the test data every RFC 6962
// implementation checks itself against): eight leaves of raw data, the root at each size, and
// two inclusion proofs in the tree of eight. Our leaves are record hashes, but the tree over the
// leaf hashes is the same function, so agreeing here is agreeing with other tooling.
const CT_DATA = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_PROOFS: [number, string[]][] = [
  [0, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
];

describe('the RFC 6962 Merkle tree over audit records', () => {
  it('agrees with Certificate Transparency\'s reference roots and inclusion proofs', () => {
    const tree = createMerkleTree();
    const leaves = CT_DATA.map((d) => sha(Buffer.from([0]), Buffer.from(d, 'hex')));
    leaves.forEach((leaf, i) => {
      tree.append(leaf);
      expect(tree.root().toString('hex'), `size ${i + 1}`).toBe(CT_ROOTS[i]);
    });
    for (const [index, path] of CT_PROOFS) {
      const proof = tree.inclusionProof(index, 8);
      expect(proof.path.map((p) => p.toString('hex'))).toEqual(path);
      expect(rootFromInclusionProof(leaves[index] as Buffer, proof)?.toString('hex')).toBe(CT_ROOTS[7]);
    }
  });

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

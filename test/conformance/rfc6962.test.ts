// RFC 6962 / RFC 9162 Merkle proofs against the transparency-dev/merkle test vectors (every file under
// rfc6962/inclusion/** and rfc6962/consistency/**, each its own test), and merkletreejs (LinkTree)
// against the RFC's recursive definition and the independent verifier in src/core/rfc6962.ts.
import { hash as nodeCryptoHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { concatBytes, toHex } from '../../src/core/bytes.js';
import { VerificationError, type VerificationCode } from '../../src/core/errors.js';
import { sha256 } from '../../src/core/hash.js';
import { LinkTree } from '../../src/core/merkle.js';
import {
  EMPTY_ROOT,
  leafHash,
  nodeHash,
  rootOfLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../src/core/rfc6962.js';
import { describeVectors, listVectorFiles, readVector } from '../helpers/vectors.js';

// --- vectors ---

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const proofOf = (p: string[] | null): Uint8Array[] => (p ?? []).map(b64);

function expectVerificationError(run: () => void, code: VerificationCode): void {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a VerificationError').toBeInstanceOf(VerificationError);
  expect((caught as VerificationError).code).toBe(code);
}

const inclusionFiles = listVectorFiles('rfc6962/inclusion', '.json');
const consistencyFiles = listVectorFiles('rfc6962/consistency', '.json');

describeVectors('conformance: RFC 6962 inclusion (transparency-dev/merkle vectors)', () => {
  test('the loader found the vectors (more than 150 in all, both kinds, additional/ included)', () => {
    expect(inclusionFiles.length + consistencyFiles.length).toBeGreaterThan(150);
    expect(inclusionFiles.length).toBeGreaterThan(50);
    expect(inclusionFiles.some((f) => f.includes('/additional/'))).toBe(true);
    expect(inclusionFiles.some((f) => f.includes('/single-entry/'))).toBe(true);
  });

  test.each(inclusionFiles)('%s', (file) => {
    const v = JSON.parse(readVector(file)) as InclusionVector;
    const run = () => verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), proofOf(v.proof), b64(v.root));
    if (v.wantErr) expectVerificationError(run, 'INCLUSION_INVALID');
    else expect(run).not.toThrow();
  });
});

describeVectors('conformance: RFC 6962 consistency (transparency-dev/merkle vectors)', () => {
  test('the loader found the consistency vectors, additional/ included', () => {
    expect(consistencyFiles.length).toBeGreaterThan(50);
    expect(consistencyFiles.some((f) => f.includes('/additional/'))).toBe(true);
  });

  test.each(consistencyFiles)('%s', (file) => {
    const v = JSON.parse(readVector(file)) as ConsistencyVector;
    const run = () => verifyConsistency(v.size1, v.size2, proofOf(v.proof), b64(v.root1), b64(v.root2));
    if (v.wantErr) expectVerificationError(run, 'CONSISTENCY_INVALID');
    else expect(run).not.toThrow();
  });
});

// --- merkletreejs (LinkTree) against the RFC's definitions ---

/** n distinct pseudo-random 32-byte link hashes derived from a seed. */
function linkHashes(n: number, seed: number): Uint8Array[] {
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setFloat64(0, seed);
  return Array.from({ length: n }, (_, i) => {
    const idx = new Uint8Array(4);
    new DataView(idx.buffer).setUint32(0, i);
    return sha256(concatBytes(prefix, idx));
  });
}

const mthMemo = new WeakMap<readonly Uint8Array[], Map<string, Uint8Array>>();

/** MTH over leaf hashes [lo, hi), RFC 6962 §2.1 (a second, test-local copy of the recursion; memoised). */
function mth(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi - lo === 0) return sha256(new Uint8Array(0));
  if (hi - lo === 1) return leaves[lo]!;
  let memo = mthMemo.get(leaves);
  if (!memo) mthMemo.set(leaves, (memo = new Map()));
  const key = `${lo}:${hi}`;
  let hash = memo.get(key);
  if (!hash) {
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    hash = nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
    memo.set(key, hash);
  }
  return hash;
}

/** RFC 6962 §2.1.1 PATH(m, D[lo:hi]), leaf first. */
function auditPath(leaves: readonly Uint8Array[], m: number, lo: number, hi: number): Uint8Array[] {
  if (hi - lo <= 1) return [];
  let k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return m < k
    ? [...auditPath(leaves, m, lo, lo + k), mth(leaves, lo + k, hi)]
    : [...auditPath(leaves, m - k, lo + k, hi), mth(leaves, lo, lo + k)];
}

/** RFC 6962 §2.1.2 SUBPROOF(m, D[lo:hi], b). */
function subproof(leaves: readonly Uint8Array[], m: number, lo: number, hi: number, whole: boolean): Uint8Array[] {
  if (m === hi - lo) return whole ? [] : [mth(leaves, lo, hi)];
  let k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return m <= k
    ? [...subproof(leaves, m, lo, lo + k, whole), mth(leaves, lo + k, hi)]
    : [...subproof(leaves, m - k, lo + k, hi, false), mth(leaves, lo, lo + k)];
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  const at = bit % (out.length * 8);
  out[at >> 3]! ^= 1 << (at & 7);
  return out;
}

/** Checks one tree of n leaves: root, and inclusion proofs of the given indices with mutations. */
function checkTree(n: number, seed: number, indices: readonly number[], bit: number): void {
  const hashes = linkHashes(n, seed);
  const leaves = hashes.map((h) => leafHash(h));
  const tree = new LinkTree(hashes);
  const root = rootOfLeafHashes(leaves);
  expect(tree.size).toBe(n);
  expect(toHex(tree.root)).toBe(toHex(root));
  // The sealer builds blocks' trees with node:crypto's SHA-256: the same tree, level by level.
  const viaNode = new LinkTree(hashes, (data) => nodeCryptoHash('sha256', data, 'buffer'));
  expect(viaNode.levels().map((l) => l.map(toHex))).toEqual(tree.levels().map((l) => l.map(toHex)));
  expect(toHex(root)).toBe(toHex(mth(leaves, 0, n)));

  // Every leaf's proof verifies and is exactly the RFC's PATH(m, D[n]) (n <= 64), or a sample of them.
  const all = n <= 64 ? Array.from({ length: n }, (_, i) => i) : indices.map((x) => x % n);
  for (const i of all) {
    const proof = tree.inclusionProof(i);
    expect(proof.map(toHex)).toEqual(auditPath(leaves, i, 0, n).map(toHex));
    expect(() => verifyInclusion(i, n, leaves[i]!, proof, tree.root)).not.toThrow();
  }

  for (const i of new Set(indices.map((x) => x % n))) {
    const leaf = leaves[i]!;
    const proof = tree.inclusionProof(i);

    const bad = (index: number, size: number, l: Uint8Array, p: Uint8Array[], what: string) => {
      expect(() => verifyInclusion(index, size, l, p, tree.root), `${what} (i=${i}, n=${n})`).toThrow(VerificationError);
    };
    // a changed index
    if (i + 1 < n) bad(i + 1, n, leaf, proof, 'index + 1');
    if (i > 0) bad(i - 1, n, leaf, proof, 'index - 1');
    if ((i ^ 2) < n) bad(i ^ 2, n, leaf, proof, 'index ^ 2');
    bad(n, n, leaf, proof, 'index = size');
    // a changed size
    bad(i, n * 2, leaf, proof, 'size * 2');
    bad(i, Math.floor(n / 2), leaf, proof, 'size / 2');
    bad(i, i, leaf, proof, 'size = index');
    // a changed leaf: another leaf, a flipped bit, the link hash without its 0x00 domain prefix
    if (n > 1) bad(i, n, leaves[(i + 1) % n]!, proof, 'another leaf');
    bad(i, n, flipBit(leaf, bit), proof, 'leaf bit flipped');
    bad(i, n, hashes[i]!, proof, 'leaf not domain-separated');
    // a changed proof: one bit of one element, an element dropped or added
    if (proof.length > 0) {
      const j = bit % proof.length;
      const flipped = proof.map((h, k) => (k === j ? flipBit(h, bit) : h));
      bad(i, n, leaf, flipped, 'proof bit flipped');
      bad(i, n, leaf, proof.slice(0, -1), 'proof truncated');
    }
    bad(i, n, leaf, [...proof, tree.root], 'trailing root');
    bad(i, n, leaf, [tree.root, ...proof], 'preceding root');
  }
}

describe('conformance: RFC 6962 inclusion - merkletreejs LinkTree against the RFC definition and the independent verifier', () => {
  test('the empty tree root is SHA-256("")', () => {
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    expect(toHex(new LinkTree([]).root)).toBe(empty);
    expect(toHex(rootOfLeafHashes([]))).toBe(empty);
    expect(toHex(EMPTY_ROOT)).toBe(empty);
    expect(() => new LinkTree([]).inclusionProof(0)).toThrow(RangeError);
  });

  test('RFC 6962 domain separation: leaf = SHA-256(0x00 || d), node = SHA-256(0x01 || l || r)', () => {
    const d = new Uint8Array([1, 2, 3]);
    expect(toHex(leafHash(d))).toBe(toHex(sha256(new Uint8Array([0, 1, 2, 3]))));
    const l = sha256(new Uint8Array([7]));
    const r = sha256(new Uint8Array([8]));
    expect(toHex(nodeHash(l, r))).toBe(toHex(sha256(concatBytes(new Uint8Array([1]), l, r))));
    // one leaf: the root is the leaf hash, the proof is empty
    const tree = new LinkTree([d]);
    expect(toHex(tree.root)).toBe(toHex(leafHash(d)));
    expect(tree.inclusionProof(0)).toEqual([]);
  });

  test('every size 1..64: every leaf index verifies; tampering fails at the first, last and two middle leaves', () => {
    for (let n = 1; n <= 64; n++) {
      checkTree(n, n, [0, n - 1, n >> 1, (n * 5) >> 3], n * 7 + 3);
    }
  });

  test('60 random sizes in 1..2000, a few leaf indices each', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (n, seed, picks, bit) => {
          // always the first and the last leaf, plus the random picks
          checkTree(n, seed, [0, n - 1, ...picks], bit);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('consistency proofs built from the RFC definition verify, and fail when tampered with', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 600 }),
        fc.nat(),
        fc.nat(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (n, pick, bit, seed) => {
          const m = 1 + (pick % n); // 1 <= m <= n
          const leaves = linkHashes(n, seed).map((h) => leafHash(h));
          const root1 = mth(leaves, 0, m);
          const root2 = mth(leaves, 0, n);
          const proof = subproof(leaves, m, 0, n, true);
          expect(() => verifyConsistency(m, n, proof, root1, root2)).not.toThrow();
          if (m === n) return;
          const bad = (s1: number, s2: number, p: Uint8Array[], r1: Uint8Array, r2: Uint8Array, what: string) => {
            expect(() => verifyConsistency(s1, s2, p, r1, r2), `${what} (m=${m}, n=${n})`).toThrow(VerificationError);
          };
          const j = bit % proof.length;
          bad(m, n, proof.map((h, k) => (k === j ? flipBit(h, bit) : h)), root1, root2, 'proof bit flipped');
          bad(m, n, proof.slice(0, -1), root1, root2, 'truncated');
          bad(m, n, [...proof, root2], root1, root2, 'trailing root2');
          bad(m, n, [], root1, root2, 'empty proof');
          bad(m, n, proof, root2, root1, 'swapped roots');
          bad(m, n, proof, flipBit(root1, bit), root2, 'root1 changed');
          bad(m, n, proof, root1, flipBit(root2, bit), 'root2 changed');
          bad(n, m, proof, root1, root2, 'sizes swapped');
          bad(m, n * 2, proof, root1, root2, 'size2 * 2');
        },
      ),
      { numRuns: 100 },
    );
  });
});

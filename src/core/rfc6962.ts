// RFC 6962 §2.1 Merkle tree hashing and an independent RFC 9162 §2.1.3 verifier for inclusion and
// consistency proofs. It does not use merkletreejs: it is the check on it. Ported from the algorithm
// of transparency-dev/merkle (proof/verify.go), keeping its names (decompInclProof, chainInner,
// chainInnerRight, chainBorderRight) so the two can be read side by side.
import { concatBytes, equalBytes } from './bytes.js';
import { type VerificationCode, fail } from './errors.js';
import { sha256 } from './hash.js';

export const HASH_BYTES = 32;
const LEAF_PREFIX = new Uint8Array([0]);
const NODE_PREFIX = new Uint8Array([1]);

/** MTH of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

export function leafHash(data: Uint8Array): Uint8Array {
  return sha256(concatBytes(LEAF_PREFIX, data));
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concatBytes(NODE_PREFIX, left, right));
}

/** Largest power of two strictly below n (n > 1): the left-balanced split point. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) straight from the RFC's recursive definition, over already-hashed leaves. */
export function rootOfLeafHashes(leafHashes: readonly Uint8Array[]): Uint8Array {
  const go = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) return leafHashes[lo]!;
    const k = splitPoint(hi - lo);
    return nodeHash(go(lo, lo + k), go(lo + k, hi));
  };
  return leafHashes.length === 0 ? EMPTY_ROOT : go(0, leafHashes.length);
}

// --- bit helpers on non-negative integers up to 2^53 (BigInt keeps them exact) ---

function bitLen(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}
function onesCount(x: bigint): number {
  let c = 0;
  for (; x > 0n; x >>= 1n) c += Number(x & 1n);
  return c;
}
function trailingZeros(x: bigint): number {
  let c = 0;
  for (; x > 0n && (x & 1n) === 0n; x >>= 1n) c++;
  return c;
}

function checkSize(value: number, what: string, code: VerificationCode): bigint {
  if (!Number.isSafeInteger(value) || value < 0) fail(code, `${what} must be a non-negative integer`);
  return BigInt(value);
}

function checkHashes(hashes: readonly Uint8Array[], code: VerificationCode): void {
  for (const h of hashes) if (h.length !== HASH_BYTES) fail(code, `proof element is ${h.length} bytes, not 32`);
}

/** Sizes of the inner part (below the tree's right border) and the border part of a proof. */
export function decompInclProof(index: bigint, size: bigint): [inner: number, border: number] {
  const inner = bitLen(index ^ (size - 1n));
  const border = onesCount(index >> BigInt(inner));
  return [inner, border];
}

function chainInner(seed: Uint8Array, proof: readonly Uint8Array[], index: bigint): Uint8Array {
  proof.forEach((h, i) => {
    seed = ((index >> BigInt(i)) & 1n) === 0n ? nodeHash(seed, h) : nodeHash(h, seed);
  });
  return seed;
}

function chainInnerRight(seed: Uint8Array, proof: readonly Uint8Array[], index: bigint): Uint8Array {
  proof.forEach((h, i) => {
    if (((index >> BigInt(i)) & 1n) === 1n) seed = nodeHash(h, seed);
  });
  return seed;
}

function chainBorderRight(seed: Uint8Array, proof: readonly Uint8Array[]): Uint8Array {
  for (const h of proof) seed = nodeHash(h, seed);
  return seed;
}

/** RFC 9162 §2.1.3.2: the root implied by an inclusion proof; throws INCLUSION_INVALID when malformed. */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  const i = checkSize(index, 'leaf index', 'INCLUSION_INVALID');
  const n = checkSize(size, 'tree size', 'INCLUSION_INVALID');
  if (i >= n) fail('INCLUSION_INVALID', `leaf index ${index} is beyond tree size ${size}`);
  if (leaf.length !== HASH_BYTES) fail('INCLUSION_INVALID', 'leaf hash is not 32 bytes');
  checkHashes(proof, 'INCLUSION_INVALID');
  const [inner, border] = decompInclProof(i, n);
  if (proof.length !== inner + border) {
    fail('INCLUSION_INVALID', `proof has ${proof.length} hashes, expected ${inner + border}`);
  }
  return chainBorderRight(chainInner(leaf, proof.slice(0, inner), i), proof.slice(inner));
}

export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  const calculated = rootFromInclusionProof(index, size, leaf, proof);
  if (!equalBytes(calculated, root)) fail('INCLUSION_INVALID', 'inclusion proof does not lead to the root');
}

/** RFC 9162 §2.1.4.2: verify that the tree of size2 extends the tree of size1. */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  const code = 'CONSISTENCY_INVALID';
  const m = checkSize(size1, 'size1', code);
  const n = checkSize(size2, 'size2', code);
  checkHashes(proof, code);
  const match = (a: Uint8Array, b: Uint8Array, which: string) => {
    if (!equalBytes(a, b)) fail(code, `consistency proof does not lead to ${which}`);
  };
  if (n < m) fail(code, `size2 (${size2}) < size1 (${size1})`);
  // As transparency-dev/merkle now does: a proof from the empty tree proves nothing, so it is refused
  // rather than accepted for any pair of roots.
  if (m === 0n) fail(code, 'a consistency proof from the empty tree is meaningless');
  if (m === n) {
    if (proof.length > 0) fail(code, 'size1 = size2, but the proof is not empty');
    return match(root1, root2, 'equal roots');
  }
  if (proof.length === 0) fail(code, 'empty proof');

  const [fullInner, border] = decompInclProof(m - 1n, n);
  const shift = trailingZeros(m);
  const inner = fullInner - shift; // shift < inner when size1 < size2
  // The proof starts with the root of the subtree of size 2^shift, unless size1 is that subtree.
  let seed = proof[0]!;
  let start = 1;
  if (m === 1n << BigInt(shift)) {
    seed = root1;
    start = 0;
  }
  if (proof.length !== start + inner + border) {
    fail(code, `proof has ${proof.length} hashes, expected ${start + inner + border}`);
  }
  const rest = proof.slice(start);
  const mask = (m - 1n) >> BigInt(shift);
  const hash1 = chainBorderRight(chainInnerRight(seed, rest.slice(0, inner), mask), rest.slice(inner));
  match(hash1, root1, 'root1');
  const hash2 = chainBorderRight(chainInner(seed, rest.slice(0, inner), mask), rest.slice(inner));
  match(hash2, root2, 'root2');
}

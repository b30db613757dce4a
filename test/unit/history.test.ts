import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  HistoryAccumulator,
  MemoryHistory,
  consistencyRanges,
  inclusionRanges,
  leafHash,
  rootOfLeafHashes,
  sha256,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from '../../src/core/index.js';

const blockHashes = (n: number) => Array.from({ length: n }, (_, i) => sha256(new Uint8Array([i & 255, i >> 8, 7])));

describe('history tree', () => {
  test('accumulator root equals the RFC 6962 root of every prefix, with O(log n) state', () => {
    const hashes = blockHashes(300);
    const acc = new HistoryAccumulator();
    expect(toHex(acc.root())).toBe(toHex(rootOfLeafHashes([])));
    hashes.forEach((h, i) => {
      acc.append(h);
      expect(toHex(acc.root())).toBe(toHex(rootOfLeafHashes(hashes.slice(0, i + 1).map(leafHash))));
      expect(acc.peaks.length).toBeLessThanOrEqual(Math.ceil(Math.log2(i + 2)));
    });
  });

  test('an accumulator restored from (size, peaks) continues identically', () => {
    const hashes = blockHashes(50);
    const a = new HistoryAccumulator();
    hashes.slice(0, 37).forEach((h) => a.append(h));
    const b = new HistoryAccumulator(a.size, a.peaks);
    hashes.slice(37).forEach((h) => (a.append(h), b.append(h)));
    expect(toHex(b.root())).toBe(toHex(a.root()));
    expect(() => new HistoryAccumulator(5, [])).toThrow(RangeError);
  });

  test('each append reports the nodes it completes: 2n-1 nodes per n leaves in all', () => {
    const acc = new HistoryAccumulator();
    let created = 0;
    for (const h of blockHashes(64)) created += acc.append(h).length;
    expect(created).toBe(127);
  });

  test('inclusion and consistency proofs from stored nodes verify with the independent verifier', () => {
    const history = new MemoryHistory();
    const hashes = blockHashes(130);
    hashes.forEach((h) => history.append(h));
    const roots = [rootOfLeafHashes([])];
    for (let n = 1; n <= 130; n++) roots.push(rootOfLeafHashes(hashes.slice(0, n).map(leafHash)));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 130 }), fc.integer({ min: 0, max: 129 }), (size, i) => {
        const index = i % size;
        const proof = history.inclusionProof(index, size);
        verifyInclusion(index, size, leafHash(hashes[index]!), proof, roots[size]!);
        const from = Math.max(1, index); // any 0 < size1 <= size (a proof from the empty tree is refused)
        verifyConsistency(from, size, history.consistencyProof(from, size), roots[from]!, roots[size]!);
        if (proof.length > 0) {
          const bad = proof.map((p) => p.slice());
          bad[0]![0]! ^= 1;
          expect(() => verifyInclusion(index, size, leafHash(hashes[index]!), bad, roots[size]!)).toThrow();
        }
      }),
      { numRuns: 300 },
    );
  });

  test('proof ranges match RFC 6962 proof lengths', () => {
    expect(inclusionRanges(5, 8)).toHaveLength(3);
    expect(consistencyRanges(3, 7)).toHaveLength(4);
    expect(consistencyRanges(4, 8)).toHaveLength(1);
    expect(consistencyRanges(0, 8)).toHaveLength(0);
    expect(() => inclusionRanges(8, 8)).toThrow(RangeError);
  });
});

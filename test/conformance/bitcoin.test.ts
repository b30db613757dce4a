// The SPV pieces of src/core/bitcoin.ts against real Bitcoin blocks and headers (bitcoinjs-lib's
// block fixtures, read in place from the shared vectors): our header parser, block ids, compact
// targets and proof-of-work, our transaction parser (legacy and segwit) against bitcoinjs-lib's
// txids, and Merkle branches folded up to each real header's merkle root — plus the mutations of
// a branch and a header that must fail.
import { Block } from 'bitcoinjs-lib';
import { describe, expect, test } from 'vitest';
import {
  BitcoinFormatError,
  POW_LIMIT_BITS,
  concatBytes,
  decodeCompact,
  displayHex,
  equalBytes,
  foldMerkleBranch,
  fromHex,
  hashToBigInt,
  parseBitcoinHeader,
  parseDisplayHash,
  parseTransaction,
  sha256d,
  targetFromBits,
  toHex,
} from '../../src/core/index.js';
import { describeVectors, readVector } from '../helpers/vectors.js';

interface HeaderFixture {
  description: string;
  hex: string;
  id: string;
  hash: string;
  merkleRoot: string;
  version: number;
  prevHash: string;
  timestamp: number;
  bits: number;
  nonce: number;
  valid: boolean;
}
interface Fixtures {
  targets: { bits: string; expected: string }[];
  valid: HeaderFixture[];
  invalid: { exception: string; hex: string }[];
}

/** An independent Merkle branch builder (Bitcoin's tree: an odd level pairs its last node with itself). */
function branchOf(txids: readonly Uint8Array[], index: number): Uint8Array[] {
  const branch: Uint8Array[] = [];
  let level = [...txids];
  for (let i = index; level.length > 1; i = Math.floor(i / 2)) {
    branch.push(i % 2 === 1 ? level[i - 1]! : (level[i + 1] ?? level[i]!));
    const next: Uint8Array[] = [];
    for (let j = 0; j < level.length; j += 2) next.push(sha256d(concatBytes(level[j]!, level[j + 1] ?? level[j]!)));
    level = next;
  }
  return branch;
}

/** Indices worth a branch: first, second, middle, last and second-to-last (deduplicated). */
const picks = (n: number): number[] => [...new Set([0, 1, Math.floor(n / 2), n - 2, n - 1].filter((i) => i >= 0 && i < n))];

const foldsTo = (leaf: Uint8Array, pos: number, siblings: Uint8Array[], root: Uint8Array): boolean => {
  try {
    return equalBytes(foldMerkleBranch(leaf, pos, siblings), root);
  } catch (e) {
    if (e instanceof BitcoinFormatError) return false;
    throw e;
  }
};

describeVectors('conformance: Bitcoin SPV (real blocks)', () => {
  const fixtures = JSON.parse(readVector('bitcoin/bitcoinjs_block_fixtures.json')) as Fixtures;
  const blocks = fixtures.valid.filter((f) => f.hex.length > 160);

  test('the fixtures hold whole blocks, including odd transaction counts and a segwit block', () => {
    const counts = blocks.map((f) => Block.fromHex(f.hex).transactions!.length);
    expect(counts).toEqual(expect.arrayContaining([1, 10, 103, 4]));
    expect(blocks.some((f) => Block.fromHex(f.hex).transactions!.some((t) => t.hasWitnesses()))).toBe(true);
  });

  describe('headers', () => {
    test.each(fixtures.valid.map((f) => [f.description, f] as const))('%s: fields, id and proof-of-work', (_, f) => {
      const h = parseBitcoinHeader(fromHex(f.hex.slice(0, 160)));
      expect(h.version).toBe(f.version);
      expect(toHex(h.prevHash)).toBe(f.prevHash);
      expect(toHex(h.merkleRoot)).toBe(f.merkleRoot);
      expect(h.time).toBe(f.timestamp);
      expect(h.bits).toBe(f.bits);
      expect(h.nonce).toBe(f.nonce);
      expect(toHex(h.hash)).toBe(f.hash); // internal order
      expect(displayHex(h.hash)).toBe(f.id); // the block id, display order
      const meets = hashToBigInt(h.hash) <= targetFromBits(h.bits);
      expect(meets).toBe(f.valid);
    });

    test('every real header is within the mainnet/testnet proof-of-work limit', () => {
      const limit = targetFromBits(POW_LIMIT_BITS.mainnet);
      for (const f of fixtures.valid) expect(targetFromBits(f.bits) <= limit).toBe(true);
    });

    test('a header with a changed nonce loses its proof-of-work', () => {
      for (const f of fixtures.valid.filter((x) => x.valid)) {
        const bytes = fromHex(f.hex.slice(0, 160));
        new DataView(bytes.buffer).setUint32(76, (f.nonce + 1) >>> 0, true);
        const h = parseBitcoinHeader(bytes);
        expect(displayHex(h.hash)).not.toBe(f.id);
        expect(hashToBigInt(h.hash) <= targetFromBits(h.bits)).toBe(false);
      }
    });

    test.each(fixtures.invalid.map((f) => [f.exception, f] as const))('refused: %s', (_, f) => {
      expect(() => parseBitcoinHeader(fromHex(f.hex))).toThrow(BitcoinFormatError);
    });
  });

  test.each(fixtures.targets.map((t) => [t.bits, t.expected] as const))('nBits %s decodes to its target', (bits, expected) => {
    const n = parseInt(bits, 16);
    const decoded = decodeCompact(n);
    expect(decoded.target.toString(16).padStart(64, '0')).toBe(expected);
    // bitcoinjs-lib masks the sign bit (0x00800000); Bitcoin Core flags such nBits as negative and
    // CheckProofOfWork refuses them, and so do we.
    expect(decoded.negative).toBe((n & 0x00800000) !== 0);
    if (decoded.negative) expect(() => targetFromBits(n)).toThrow(/negative/);
    else expect(targetFromBits(n)).toBe(decoded.target);
  });

  test('a duplicated last node leaves its position ambiguous (why pos is a path, not an authenticated index)', () => {
    const f = blocks.find((x) => Block.fromHex(x.hex).transactions!.length === 103)!;
    const txids = Block.fromHex(f.hex).transactions!.map((t) => t.getHash());
    const root = parseBitcoinHeader(fromHex(f.hex.slice(0, 160))).merkleRoot;
    const siblings = branchOf(txids, 102);
    expect(equalBytes(siblings[0]!, txids[102]!)).toBe(true); // paired with itself
    expect(foldsTo(txids[102]!, 102, siblings, root)).toBe(true);
    expect(foldsTo(txids[102]!, 103, siblings, root)).toBe(true); // no tx 103, same root
  });

  describe.each(blocks.map((f) => [f.description, f] as const))('%s', (_, f) => {
    const block = Block.fromHex(f.hex);
    const txs = block.transactions!;
    const txids = txs.map((t) => t.getHash());
    const header = parseBitcoinHeader(fromHex(f.hex.slice(0, 160)));

    test('our parser reads every transaction and agrees with bitcoinjs-lib on each txid', () => {
      for (const t of txs) {
        const parsed = parseTransaction(t.toBuffer());
        expect(toHex(parsed.txid)).toBe(toHex(t.getHash()));
        expect(displayHex(parsed.txid)).toBe(t.getId());
        expect(parsed.segwit).toBe(t.hasWitnesses());
        expect(parsed.stripped.length).toBe(t.byteLength(false));
        expect(parsed.outputs.map((o) => o.value)).toEqual(t.outs.map((o) => o.value));
      }
    });

    test.each(picks(txs.length))('the branch of tx %i folds to the header\'s merkle root', (pos) => {
      const siblings = branchOf(txids, pos);
      expect(siblings.length).toBe(Math.ceil(Math.log2(txs.length)));
      // as Esplora serves them: display order; the verifier reverses each
      const display = siblings.map(displayHex);
      const root = foldMerkleBranch(txids[pos]!, pos, display.map((s) => parseDisplayHash(s)!));
      expect(toHex(root)).toBe(toHex(header.merkleRoot));
      expect(toHex(root)).toBe(f.merkleRoot);
    });

    if (txs.length > 1) {
      test.each(picks(txs.length))('tx %i: a flipped sibling, a wrong pos, an extra or a missing sibling fail', (pos) => {
        const siblings = branchOf(txids, pos);
        const root = header.merkleRoot;
        const leaf = txids[pos]!;
        expect(foldsTo(leaf, pos, siblings, root)).toBe(true);
        for (let i = 0; i < siblings.length; i++) {
          const flipped = siblings.map((s, j) => (j === i ? Uint8Array.from(s, (b, k) => (k === 0 ? b ^ 1 : b)) : s));
          expect(foldsTo(leaf, pos, flipped, root)).toBe(false);
        }
        for (const wrong of [pos ^ 1, pos + 1, pos - 1].filter((p) => p >= 0 && p < txs.length && p !== pos)) {
          expect(foldsTo(leaf, wrong, siblings, root)).toBe(false);
        }
        expect(foldsTo(leaf, pos + 2 ** siblings.length, siblings, root)).toBe(false); // pos does not end at 0
        expect(foldsTo(leaf, pos, [...siblings, siblings[0]!], root)).toBe(false);
        expect(foldsTo(leaf, pos, siblings.slice(0, -1), root)).toBe(false);
        expect(foldsTo(leaf, pos, siblings.slice(1), root)).toBe(false);
        // another transaction of the block with this branch
        expect(foldsTo(txids[(pos + 1) % txs.length]!, pos, siblings, root)).toBe(false);
      });
    }
  });
});

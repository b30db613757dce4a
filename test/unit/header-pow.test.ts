import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type {
  VerificationError} from '../../src/core/index.js';
import {
  EMPTY_HISTORY,
  HEADER_BYTES,
  MiningCancelled,
  ZERO_HASH,
  blockHash,
  decodeHeader,
  encodeHeader,
  hasProofOfWork,
  leadingZeroBits,
  mine,
  mineRange,
  toHex,
  type HeaderFields,
} from '../../src/core/index.js';
import { SHA256_IV, compress, loadBlock } from '../../src/core/sha256-block.js';

const fields = (over: Partial<HeaderFields> = {}): HeaderFields => ({
  version: 1,
  height: 7,
  timestamp: 1_790_000_000_000,
  prevHash: 'ab'.repeat(32),
  linksRoot: 'cd'.repeat(32),
  leafCount: 1000,
  historyRoot: 'ef'.repeat(32),
  difficulty: 8,
  nonce: 0,
  ...over,
});

describe('block header', () => {
  test('is 136 bytes at the documented offsets', () => {
    const h = encodeHeader(fields({ nonce: 2 ** 40 + 5 }));
    expect(h.length).toBe(HEADER_BYTES);
    expect(toHex(h.subarray(0, 4))).toBe('00000001');
    expect(toHex(h.subarray(4, 12))).toBe('0000000000000007');
    expect(toHex(h.subarray(20, 52))).toBe('ab'.repeat(32));
    expect(toHex(h.subarray(52, 84))).toBe('cd'.repeat(32));
    expect(toHex(h.subarray(84, 92))).toBe('00000000000003e8');
    expect(toHex(h.subarray(92, 124))).toBe('ef'.repeat(32));
    expect(toHex(h.subarray(124, 128))).toBe('00000008');
    expect(toHex(h.subarray(128, 136))).toBe('0000010000000005');
  });

  test('decode(encode(x)) = x for any valid fields', () => {
    const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toHex);
    const u53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(u53, u53, hash, hash, u53, hash, fc.integer({ min: 0, max: 256 }), u53, (height, timestamp, prevHash, linksRoot, leafCount, historyRoot, difficulty, nonce) => {
        const f = fields({ height: height === 0 ? 1 : height, timestamp, prevHash, linksRoot, leafCount, historyRoot, difficulty, nonce });
        expect(decodeHeader(encodeHeader(f))).toEqual(f);
      }),
    );
  });

  test.each([
    ['too short', (h: Uint8Array) => h.subarray(0, 135), 'HEADER_INVALID'],
    ['too long', (h: Uint8Array) => Uint8Array.from([...h, 0]), 'HEADER_INVALID'],
    ['version 2', (h: Uint8Array) => (h[3] = 2, h), 'UNSUPPORTED_VERSION'],
    ['difficulty 257', (h: Uint8Array) => (h[126] = 1, h[127] = 1, h), 'HEADER_INVALID'],
    ['height above 2^53', (h: Uint8Array) => (h[4] = 0xff, h), 'HEADER_INVALID'],
  ])('refuses a header %s', (_, mutate, code) => {
    const bytes = mutate(encodeHeader(fields()));
    expect(() => decodeHeader(bytes)).toThrow(expect.objectContaining({ code }) as VerificationError);
  });

  test('genesis points at the zero hash with the empty history; no other block does', () => {
    const genesis = { height: 0, prevHash: ZERO_HASH, historyRoot: EMPTY_HISTORY };
    expect(decodeHeader(encodeHeader(fields(genesis))).height).toBe(0);
    expect(() => decodeHeader(encodeHeader(fields({ ...genesis, prevHash: 'ab'.repeat(32) })))).toThrow(/genesis/);
    expect(() => decodeHeader(encodeHeader(fields({ ...genesis, historyRoot: 'ef'.repeat(32) })))).toThrow(/genesis/);
    expect(() => decodeHeader(encodeHeader(fields({ height: 3, prevHash: ZERO_HASH })))).toThrow(/zero previous hash/);
  });

  test('leading zero bits', () => {
    expect(leadingZeroBits(new Uint8Array([0, 0, 0x10, 0xff]))).toBe(19);
    expect(leadingZeroBits(new Uint8Array(32))).toBe(256);
    expect(leadingZeroBits(new Uint8Array([0x80]))).toBe(0);
  });
});

describe('proof-of-work', () => {
  test('the midstate compression is SHA-256 (against @noble/hashes)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (block) => {
        // one block of a 55-byte-or-less message is not what we test: compress two raw blocks and pad
        const msg = Uint8Array.from([...block, ...block.subarray(0, 30)]);
        const padded = new Uint8Array(128);
        padded.set(msg);
        padded[msg.length] = 0x80;
        new DataView(padded.buffer).setUint32(124, msg.length * 8);
        const w = new Uint32Array(64);
        const state = Uint32Array.from(SHA256_IV);
        loadBlock(w, padded, 0);
        compress(state, w);
        loadBlock(w, padded, 64);
        compress(state, w);
        const out = new Uint8Array(32);
        state.forEach((v, i) => new DataView(out.buffer).setUint32(i * 4, v));
        expect(toHex(out)).toBe(toHex(nobleSha256(msg)));
      }),
      { numRuns: 200 },
    );
  });

  test('mineRange finds the first nonce meeting the recorded difficulty, as SHA-256 sees it', () => {
    for (const difficulty of [0, 1, 4, 10]) {
      const header = encodeHeader(fields({ difficulty }));
      const { nonce, tries } = mineRange(header, 0, 1 << 20);
      expect(nonce).not.toBeNull();
      expect(tries).toBe(nonce! + 1);
      for (let n = 0; n <= nonce!; n++) {
        const h = blockHash(encodeHeader(fields({ difficulty, nonce: n })));
        expect(hasProofOfWork(h, difficulty)).toBe(n === nonce);
      }
    }
  });

  test('mineRange handles nonces above 2^32', () => {
    const start = 2 ** 33 + 17;
    const { nonce } = mineRange(encodeHeader(fields({ difficulty: 6 })), start, 1 << 16);
    expect(nonce).toBeGreaterThanOrEqual(start);
    expect(hasProofOfWork(blockHash(encodeHeader(fields({ difficulty: 6, nonce: nonce! }))), 6)).toBe(true);
  });

  test('mine() returns a header with valid proof-of-work and reports a rate', async () => {
    let clock = 0;
    const mined = await mine(fields({ difficulty: 12 }), { now: () => (clock += 10), pause: async () => {}, chunk: 512 });
    expect(hasProofOfWork(blockHash(mined.header), 12)).toBe(true);
    expect(decodeHeader(mined.header).nonce).toBe(mined.nonce);
    expect(mined.hashesPerSecond).toBeGreaterThan(0);
  });

  test('mine() stops when cancelled', async () => {
    const controller = new AbortController();
    let progress = 0;
    const run = mine(fields({ difficulty: 200 }), {
      now: () => 0,
      pause: () => new Promise((r) => setTimeout(r, 0)),
      signal: controller.signal,
      chunk: 1024,
      onProgress: () => {
        if (++progress === 3) controller.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(MiningCancelled);
    expect(progress).toBe(3);
  });
});

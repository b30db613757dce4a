// Anchor evidence (docs/protocol.md §11): a real regtest block built by hand with bitcoinjs-lib
// (scripts/bitcoin-regtest.ts: coinbase with witness commitment, a P2WPKH-spending anchor tx with
// the OP_RETURN, mined to 0x207fffff) verifies offline, and every check fails on its own mutation
// with ANCHOR_INVALID and a message naming it. Real mainnet blocks: test/conformance/bitcoin.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Block, Transaction, opcodes, payments, script as bscript } from 'bitcoinjs-lib';
import { describe, expect, test } from 'vitest';
import { type RegtestAnchorOptions, REGTEST_BITS, buildRegtestAnchor } from '../../scripts/bitcoin-regtest.js';
import {
  type AnchorEvidence,
  BitcoinFormatError,
  POW_LIMIT_BITS,
  type ProofV1,
  VerificationError,
  anchorPayload,
  decodeCompact,
  displayHex,
  fromHex,
  hashToBigInt,
  nobleVerifier,
  parseBitcoinHeader,
  parseTransaction,
  sha256,
  sha256Hex,
  sha256d,
  targetFromBits,
  toHex,
  utf8,
  verifyAnchor,
  verifyProof,
} from '../../src/core/index.js';

const BLOCK = sha256Hex('pop-test:anchored-block');
const OTHER = sha256Hex('pop-test:other-block');
const KEY = sha256(utf8('pop-test:bitcoin-wallet'));
const build = (o: Partial<RegtestAnchorOptions> = {}) =>
  buildRegtestAnchor({ blockHash: BLOCK, secretKey: KEY, height: 120, time: 1_800_000_000, ...o });
const base = build();

/** "ok" or "CODE: message". */
function outcome(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof VerificationError) return `${e.code}: ${e.message}`;
    throw e;
  }
}
const check = (evidence: AnchorEvidence, latest = BLOCK) => outcome(() => verifyAnchor(evidence, latest));

const flipHex = (hex: string, at = 0) => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
const reverseHex = (hex: string) => toHex(fromHex(hex).reverse());

/** The header with another nonce (and bits), bitcoinBlock.hash updated to match. */
function reheader(e: AnchorEvidence, patch: { nonce?: number; bits?: number }): AnchorEvidence {
  const header = fromHex(e.bitcoinBlock.header);
  const view = new DataView(header.buffer);
  if (patch.bits !== undefined) view.setUint32(72, patch.bits, true);
  if (patch.nonce !== undefined) view.setUint32(76, patch.nonce, true);
  return { ...e, bitcoinBlock: { ...e.bitcoinBlock, header: toHex(header), hash: displayHex(sha256d(header)) } };
}

/** The first nonce whose header misses its target. */
function failingNonce(e: AnchorEvidence): number {
  const header = fromHex(e.bitcoinBlock.header);
  const target = targetFromBits(parseBitcoinHeader(header).bits);
  for (let n = 0; ; n++) {
    new DataView(header.buffer).setUint32(76, n, true);
    if (hashToBigInt(sha256d(header)) > target) return n;
  }
}

const opReturn = (data: Uint8Array) => payments.embed({ data: [data] }).output!;

describe('a regtest anchor built with bitcoinjs-lib', () => {
  test('is a real block: transaction roots, witness commitment and proof-of-work check', () => {
    const { block, anchorTx } = base;
    expect(block.checkTxRoots()).toBe(true);
    expect(block.checkProofOfWork()).toBe(true);
    expect(block.bits).toBe(REGTEST_BITS);
    expect(Block.fromHex(block.toHex()).getId()).toBe(block.getId());
    expect(anchorTx.hasWitnesses()).toBe(true);
    expect(anchorTx.outs.filter((o) => o.script[0] === 0x6a)).toHaveLength(1);
  });

  test('verifies offline', () => {
    expect(verifyAnchor(base.evidence, BLOCK)).toEqual({
      network: 'regtest',
      txid: base.anchorTx.getId(),
      bitcoinBlockHash: base.block.getId(),
      bitcoinHeight: 120,
      blockHash: BLOCK,
      bestChain: 'not-checked',
    });
  });

  test.each([0, 2, 3, 4, 6, 13])('verifies in a block with %i filler transactions', (fillers) => {
    const a = build({ fillers });
    expect(a.block.transactions).toHaveLength(fillers + 2);
    expect(check(a.evidence)).toBe('ok');
  });

  test('the evidence uses display order, as explorers do', () => {
    const e = base.evidence;
    expect(e.txid).toBe(displayHex(parseTransaction(fromHex(e.tx)).txid));
    expect(e.bitcoinBlock.hash).toBe(displayHex(sha256d(fromHex(e.bitcoinBlock.header))));
    expect(e.merkle.siblings[0]).toBe(base.block.transactions![0]!.getId()); // the coinbase txid
  });

  test('the witness is not covered by the txid: changing it changes nothing the verifier can see', () => {
    // documented in §11: only the non-witness serialization is bound to the block
    const tx = base.anchorTx.clone();
    tx.setWitness(0, [new Uint8Array(71), new Uint8Array(33)]);
    expect(tx.getId()).toBe(base.anchorTx.getId());
    expect(check({ ...base.evidence, tx: tx.toHex() })).toBe('ok');
  });
});

describe('anchor checks that must fail', () => {
  const e = base.evidence;
  const sib = e.merkle.siblings;
  test.each<[string, () => string, RegExp]>([
    ['the anchor names another block than the latest', () => check(e, OTHER), /commits to block .*, but the latest block of the proof is/],
    ['blockHash changed to the latest, the OP_RETURN still names the old one', () => check({ ...e, blockHash: OTHER }, OTHER), /the OP_RETURN commits to .*, not to blockHash/],
    ['truncated tx', () => check({ ...e, tx: e.tx.slice(0, -2) }), /transaction: truncated: locktime/],
    ['tx cut in its outputs', () => check({ ...e, tx: e.tx.slice(0, 120) }), /transaction: truncated/],
    ['trailing bytes after the tx', () => check({ ...e, tx: e.tx + '00' }), /transaction: 1 trailing bytes/],
    ['txid mismatch', () => check({ ...e, txid: flipHex(e.txid) }), /txid is .*, the transaction hashes to/],
    ['txid in internal order', () => check({ ...e, txid: reverseHex(e.txid) }), /txid is/],
    ['another tx of the block', () => check({ ...e, tx: base.block.transactions![2]!.toHex(), txid: base.block.transactions![2]!.getId() }), /0 OP_RETURN outputs/],
    ['a flipped first sibling', () => check({ ...e, merkle: { ...e.merkle, siblings: [flipHex(sib[0]!), sib[1]!] } }), /merkle branch leads to .*, the header's merkle root is/],
    ['a flipped last sibling', () => check({ ...e, merkle: { ...e.merkle, siblings: [sib[0]!, flipHex(sib[1]!, 63)] } }), /merkle branch leads to/],
    ['siblings in internal order', () => check({ ...e, merkle: { ...e.merkle, siblings: sib.map(reverseHex) } }), /merkle branch leads to/],
    ['siblings in the wrong order', () => check({ ...e, merkle: { ...e.merkle, siblings: [...sib].reverse() } }), /merkle branch leads to/],
    ['wrong pos (0)', () => check({ ...e, merkle: { ...e.merkle, pos: 0 } }), /merkle branch leads to/],
    ['wrong pos (3)', () => check({ ...e, merkle: { ...e.merkle, pos: 3 } }), /merkle branch leads to/],
    ['pos beyond the branch', () => check({ ...e, merkle: { ...e.merkle, pos: 5 } }), /merkle branch: position 5 does not fit a branch of 2 siblings/],
    ['an extra sibling', () => check({ ...e, merkle: { ...e.merkle, siblings: [...sib, sib[0]!] } }), /merkle branch leads to/],
    ['a missing sibling', () => check({ ...e, merkle: { ...e.merkle, siblings: sib.slice(0, 1) } }), /merkle branch leads to/],
    ['no siblings', () => check({ ...e, merkle: { pos: 0, siblings: [] } }), /merkle branch leads to/],
    ['a branch deeper than 32', () => check({ ...e, merkle: { ...e.merkle, siblings: Array.from({ length: 33 }, () => sib[0]!) } }), /33 siblings, more than 32/],
    ['a header with a changed nonce', () => check({ ...e, bitcoinBlock: { ...e.bitcoinBlock, header: flipHex(e.bitcoinBlock.header, 159) } }), /the header hashes to .*, not bitcoinBlock.hash/],
    ['a header with a changed nonce and its hash: no work', () => check(reheader(e, { nonce: failingNonce(e) })), /header hash .* is above its target \(nBits 0x207fffff\): no proof-of-work/],
    ['bitcoinBlock.hash of another block', () => check({ ...e, bitcoinBlock: { ...e.bitcoinBlock, hash: flipHex(e.bitcoinBlock.hash) } }), /the header hashes to/],
    ['bitcoinBlock.hash in internal order', () => check({ ...e, bitcoinBlock: { ...e.bitcoinBlock, hash: reverseHex(e.bitcoinBlock.hash) } }), /the header hashes to/],
    ['nBits with the sign bit', () => check(reheader(e, { bits: 0x20ffffff })), /nBits 0x20ffffff encodes a negative target/],
    ['nBits that overflow', () => check(reheader(e, { bits: 0x23000001 })), /nBits 0x23000001 overflows 256 bits/],
    ['nBits of a zero target', () => check(reheader(e, { bits: 0x1d000000 })), /nBits 0x1d000000 encodes a zero target/],
    ['a regtest header claimed as mainnet', () => check({ ...e, network: 'mainnet' }), /nBits 0x207fffff is easier than the mainnet proof-of-work limit 0x1d00ffff/],
    ['a regtest header claimed as testnet4', () => check({ ...e, network: 'testnet4' }), /easier than the testnet4 proof-of-work limit/],
    ['a regtest header claimed as signet', () => check({ ...e, network: 'signet' }), /easier than the signet proof-of-work limit 0x1e0377ae/],
  ])('%s', (_, run, message) => {
    const got = run();
    expect(got).toMatch(/^ANCHOR_INVALID: anchor: /);
    expect(got).toMatch(message);
  });

  test.each<[string, Partial<RegtestAnchorOptions>, RegExp]>([
    ['two OP_RETURN outputs', { opReturnScripts: [opReturn(anchorPayload(BLOCK)), opReturn(anchorPayload(BLOCK))] }, /the transaction has 2 OP_RETURN outputs, not exactly one/],
    ['no OP_RETURN output', { opReturnScripts: [] }, /the transaction has 0 OP_RETURN outputs/],
    ['a wrong payload prefix', { opReturnScripts: [opReturn(Uint8Array.from([...utf8('POP2'), ...fromHex(BLOCK)]))] }, /the OP_RETURN data does not start with "POP1" \(504f5032\)/],
    ['a 37-byte push', { opReturnScripts: [opReturn(Uint8Array.from([...anchorPayload(BLOCK), 0]))] }, /not a single 36-byte push/],
    ['a 35-byte push', { opReturnScripts: [opReturn(anchorPayload(BLOCK).subarray(0, 35))] }, /not a single 36-byte push/],
    ['OP_PUSHDATA1 of 36 bytes', { opReturnScripts: [Uint8Array.from([0x6a, 0x4c, 0x24, ...anchorPayload(BLOCK)])] }, /not a single 36-byte push \(script 6a4c24/],
    ['two pushes: the tag, then the hash', { opReturnScripts: [bscript.compile([opcodes.OP_RETURN, utf8('POP1'), fromHex(BLOCK)])] }, /not a single 36-byte push/],
    ['a payload for another block', { opReturnScripts: [opReturn(anchorPayload(OTHER))] }, /the OP_RETURN commits to .*, not to blockHash/],
    ['a regtest header with other nBits', { bits: 0x207ffffe }, /a regtest header has nBits 0x207fffff, this one 0x207ffffe/],
  ])('in a real block: %s', (_, options, message) => {
    const a = build(options);
    expect(a.block.checkTxRoots() && a.block.checkProofOfWork()).toBe(true);
    const got = check(a.evidence);
    expect(got).toMatch(/^ANCHOR_INVALID: anchor: /);
    expect(got).toMatch(message);
  });

  test('a 64-byte transaction is refused even inside a real block', () => {
    const tx = new Transaction();
    tx.version = 2;
    tx.addInput(sha256d(utf8('funding')), 0, 0xffffffff, new Uint8Array(0));
    tx.addOutput(Uint8Array.from([0x51, 0x51, 0x51, 0x51]), 1000n);
    expect(tx.byteLength()).toBe(64);
    const a = build({ anchorTx: tx });
    expect(a.block.checkTxRoots()).toBe(true);
    expect(check(a.evidence)).toMatch(/^ANCHOR_INVALID: anchor: the transaction's non-witness serialization is 64 bytes/);
  });
});

describe('transaction parsing', () => {
  test('legacy and segwit serializations agree with bitcoinjs-lib', () => {
    const legacy = new Transaction();
    legacy.addInput(sha256d(utf8('a')), 3, 0xfffffffe, Uint8Array.from([0x51]));
    legacy.addOutput(opReturn(anchorPayload(BLOCK)), 0n);
    legacy.addOutput(Uint8Array.from([0x51]), 12345678901n);
    legacy.locktime = 777;
    for (const tx of [legacy, base.anchorTx, base.block.transactions![0]!]) {
      const parsed = parseTransaction(tx.toBuffer());
      expect(displayHex(parsed.txid)).toBe(tx.getId());
      expect(parsed.segwit).toBe(tx.hasWitnesses());
      expect(parsed.outputs.map((o) => [toHex(o.script), o.value])).toEqual(tx.outs.map((o) => [toHex(o.script), o.value]));
      expect(parsed.inputs.map((i) => i.witness.map(toHex))).toEqual(tx.ins.map((i) => i.witness.map(toHex)));
      expect(parsed.locktime).toBe(tx.locktime);
    }
  });

  const legacyHex = (() => {
    const tx = new Transaction();
    tx.addInput(sha256d(utf8('b')), 0, 0xffffffff, new Uint8Array(0));
    tx.addOutput(Uint8Array.from([0x51]), 1n);
    return tx.toHex();
  })();
  const refuse = (hex: string) => () => parseTransaction(fromHex(hex));
  test.each<[string, string, RegExp]>([
    ['an unknown segwit flag', base.evidence.tx.slice(0, 10) + '02' + base.evidence.tx.slice(12), /unknown segwit flag 0x02/],
    ['a segwit serialization with no witness', legacyHex.slice(0, 8) + '0001' + legacyHex.slice(8, -8) + '00' + legacyHex.slice(-8), /superfluous witness record/],
    ['a non-canonical input count', legacyHex.slice(0, 8) + 'fd0100' + legacyHex.slice(10), /non-canonical CompactSize/],
    ['no outputs', legacyHex.slice(0, 8 + 2 + 82) + '00' + legacyHex.slice(-8), /no outputs/],
    ['an empty string', '', /truncated: version/],
    ['only a version', '02000000', /truncated: input count/],
  ])('refuses %s', (_, hex, message) => {
    expect(refuse(hex)).toThrow(BitcoinFormatError);
    expect(refuse(hex)).toThrow(message);
  });
});

describe('nBits (compact targets)', () => {
  // Bitcoin Core's arith_uint256 SetCompact vectors (src/test/arith_uint256_tests.cpp) and edges.
  test.each(([
    [0x00000000, 0n, false, false],
    [0x00123456, 0n, false, false],
    [0x01003456, 0n, false, false],
    [0x02000056, 0n, false, false],
    [0x03000000, 0n, false, false],
    [0x04000000, 0n, false, false],
    [0x00923456, 0n, false, false],
    [0x01803456, 0n, false, false],
    [0x02800056, 0n, false, false],
    [0x03800000, 0n, false, false],
    [0x04800000, 0n, false, false],
    [0x01123456, 0x12n, false, false],
    [0x01fedcba, 0x7en, true, false],
    [0x02123456, 0x1234n, false, false],
    [0x03123456, 0x123456n, false, false],
    [0x04123456, 0x12345600n, false, false],
    [0x04923456, 0x12345600n, true, false],
    [0x05009234, 0x92340000n, false, false],
    [0x20123456, 0x123456n << 232n, false, false],
    [0x207fffff, 0x7fffffn << 232n, false, false],
    [0x1d00ffff, 0xffffn << 208n, false, false],
    [0x22000001, 1n << 248n, false, false],
    [0x2100ffff, 0xffffn << 240n, false, false],
    [0x23000001, 1n << 256n, false, true],
    [0x220000ff, 0xffn << 248n, false, false],
    [0x22000100, 0x100n << 248n, false, true],
    [0x21010000, 0x10000n << 240n, false, true],
    [0xff123456, 0x123456n << 2016n, false, true],
  ] as [number, bigint, boolean, boolean][]).map(([bits, ...rest]) => [bits.toString(16).padStart(8, '0'), bits, ...rest] as const))('0x%s', (_, bits, target, negative, overflow) => {
    expect(decodeCompact(bits)).toEqual({ target, negative, overflow });
    if (negative || overflow || target === 0n) expect(() => targetFromBits(bits)).toThrow(BitcoinFormatError);
    else expect(targetFromBits(bits)).toBe(target);
  });

  test('the network limits are the powLimits of Bitcoin Core', () => {
    expect(targetFromBits(POW_LIMIT_BITS.mainnet)).toBe(0xffffn << 208n);
    expect(targetFromBits(POW_LIMIT_BITS.signet).toString(16).padStart(64, '0')).toBe('00000377ae' + '0'.repeat(54));
    expect(targetFromBits(POW_LIMIT_BITS.regtest).toString(16).padStart(64, '0')).toBe('7fffff' + '0'.repeat(58));
  });

  test('proof-of-work reads the hash as a little-endian number', () => {
    const hash = new Uint8Array(32);
    hash[31] = 0x01; // the last byte is the most significant
    expect(hashToBigInt(hash)).toBe(1n << 248n);
  });
});

describe('anchors in proofs', () => {
  const golden = join(fileURLToPath(import.meta.url), '../../golden');
  const load = (name: string): ProofV1 => JSON.parse(readFileSync(join(golden, 'proofs', name), 'utf8')) as ProofV1;
  const keys = JSON.parse(readFileSync(join(golden, 'keys.json'), 'utf8')) as { notary: { publicKey: string } };
  const opts = { verifier: nobleVerifier, notaryKeys: [keys.notary.publicKey] };
  const codeOf = (p: unknown) => outcome(() => verifyProof(p, opts)).split(':')[0];

  test('the golden anchored proof is verified, anchored to its history block', () => {
    const r = verifyProof(load('link4-anchored.json'), opts);
    expect(r.status).toBe('verified');
    expect(r.ok).toBe(true);
    expect(r.anchor).toBe('verified');
    expect(r.anchored).toMatchObject({ network: 'regtest', bitcoinHeight: 150, blockHash: r.history!.hash, bestChain: 'not-checked' });
  });

  test('without a history block the anchor commits to the proof\'s own block', () => {
    const proof = load('link2-cosigned.json');
    const own = toHex(sha256(fromHex(proof.block.header)));
    const anchor = buildRegtestAnchor({ blockHash: own, secretKey: KEY, height: 5, time: 1_800_000_000 }).evidence;
    const r = verifyProof({ ...proof, anchor }, opts);
    expect(r.anchored?.blockHash).toBe(own);
    expect(r.history).toBeUndefined();
    // the same anchor on a proof whose latest block is another one
    expect(outcome(() => verifyProof({ ...load('link0-history.json'), anchor }, opts))).toMatch(/^ANCHOR_INVALID: anchor: commits to block/);
  });

  const anchored = load('link4-anchored.json');
  test.each<[string, (a: Record<string, unknown>) => void, string]>([
    ['an unknown member', (a) => void (a['extra'] = 1), 'MALFORMED'],
    ['an unknown network', (a) => void (a['network'] = 'bitcoin'), 'MALFORMED'],
    ['a missing merkle branch', (a) => void delete a['merkle'], 'MALFORMED'],
    ['an uppercase txid', (a) => void (a['txid'] = String(a['txid']).toUpperCase()), 'MALFORMED'],
    ['a short header', (a) => void ((a['bitcoinBlock'] as { header: string }).header = '00'.repeat(79)), 'MALFORMED'],
    ['odd-length tx hex', (a) => void (a['tx'] = String(a['tx']) + '0'), 'MALFORMED'],
    ['a negative pos', (a) => void ((a['merkle'] as { pos: number }).pos = -1), 'MALFORMED'],
    ['33 siblings (schema allows 64: the verifier names it)', (a) => void ((a['merkle'] as { siblings: string[] }).siblings = Array.from({ length: 33 }, () => '00'.repeat(32))), 'ANCHOR_INVALID'],
  ])('%s → %s', (_, mutate, code) => {
    const p = structuredClone(anchored);
    mutate(p.anchor as unknown as Record<string, unknown>);
    expect(codeOf(p)).toBe(code);
  });
});

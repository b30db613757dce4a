// Just enough Bitcoin for offline SPV verification of an anchor (docs/protocol.md §11): strict
// transaction and header parsing, double SHA-256, compact nBits targets and Merkle branch folding.
// Pure and dependency-free (bitcoinjs-lib stays out of core). Byte order: everything here works on
// internal (wire) order; explorers show hashes reversed ("display order") — see displayHex.
import { concatBytes, parseHex, toHex } from './bytes.js';
import { sha256 } from './hash.js';

/** Malformed Bitcoin data (a transaction, header or branch); the anchor verifier names the check. */
export class BitcoinFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BitcoinFormatError';
  }
}

export const BITCOIN_NETWORKS = ['mainnet', 'testnet', 'testnet4', 'signet', 'regtest'] as const;
export type BitcoinNetwork = (typeof BITCOIN_NETWORKS)[number];

export function sha256d(data: Uint8Array): Uint8Array {
  return sha256(sha256(data));
}

export function reverseBytes(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes).reverse();
}

/** Internal-order hash → display-order hex (as explorers, txids and block ids are written). */
export function displayHex(internal: Uint8Array): string {
  return toHex(reverseBytes(internal));
}

/** Display-order hex of a 32-byte hash → internal-order bytes; undefined unless 64 lowercase hex. */
export function parseDisplayHash(hex: string): Uint8Array | undefined {
  const bytes = parseHex(hex, 32);
  return bytes && reverseBytes(bytes);
}

// --- transactions ---

/** Bitcoin Core's MAX_SIZE for CompactSize values. */
const MAX_COMPACT_SIZE = 0x02000000;

class Reader {
  offset = 0;
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get remaining(): number {
    return this.bytes.length - this.offset;
  }
  private need(n: number, what: string): void {
    if (n > this.remaining) {
      throw new BitcoinFormatError(`truncated: ${what} needs ${n} bytes at offset ${this.offset}, ${this.remaining} left`);
    }
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.offset++]!;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }
  /** CompactSize, canonical (shortest) encoding only, at most MAX_SIZE — as Bitcoin Core reads it. */
  compactSize(what: string): number {
    const first = this.u8(what);
    let value: number;
    let min: number;
    if (first < 0xfd) return first;
    if (first === 0xfd) {
      this.need(2, what);
      value = this.view.getUint16(this.offset, true);
      this.offset += 2;
      min = 0xfd;
    } else if (first === 0xfe) {
      value = this.u32(what);
      min = 0x10000;
    } else {
      const big = this.u64(what);
      if (big > BigInt(MAX_COMPACT_SIZE)) throw new BitcoinFormatError(`${what}: size ${big} is too large`);
      value = Number(big);
      min = 0x100000000;
    }
    if (value < min) throw new BitcoinFormatError(`${what}: non-canonical CompactSize at offset ${this.offset}`);
    if (value > MAX_COMPACT_SIZE) throw new BitcoinFormatError(`${what}: size ${value} is too large`);
    return value;
  }
}

export interface TxInput {
  /** The spent output's txid, internal order. */
  prevTxid: Uint8Array;
  vout: number;
  scriptSig: Uint8Array;
  sequence: number;
  witness: Uint8Array[];
}

export interface TxOutput {
  value: bigint; // satoshis
  script: Uint8Array;
}

export interface BitcoinTransaction {
  version: number; // int32 as unsigned u32
  inputs: TxInput[];
  outputs: TxOutput[];
  locktime: number;
  /** Whether the bytes used the BIP144 segwit serialization (marker 0x00, flag 0x01). */
  segwit: boolean;
  /** The non-witness serialization: what the txid hashes. */
  stripped: Uint8Array;
  /** sha256d(stripped), internal order; display order is displayHex(txid). */
  txid: Uint8Array;
}

/**
 * Parses a transaction in the legacy or the segwit (BIP144) serialization. Refuses truncation,
 * trailing bytes, non-canonical sizes, no inputs or outputs, an unknown segwit flag and a segwit
 * serialization whose witnesses are all empty (Bitcoin Core's "superfluous witness record").
 */
export function parseTransaction(bytes: Uint8Array): BitcoinTransaction {
  const r = new Reader(bytes);
  const version = r.u32('version');
  let segwit = false;
  if (r.remaining > 0 && bytes[r.offset] === 0x00) {
    // A legacy transaction cannot have zero inputs, so 0x00 here is the segwit marker.
    r.offset++;
    const flag = r.u8('segwit flag');
    if (flag !== 0x01) throw new BitcoinFormatError(`unknown segwit flag 0x${flag.toString(16).padStart(2, '0')}`);
    segwit = true;
  }
  const bodyStart = r.offset;
  const inputCount = r.compactSize('input count');
  if (inputCount === 0) throw new BitcoinFormatError('the transaction has no inputs');
  const inputs: TxInput[] = [];
  for (let i = 0; i < inputCount; i++) {
    const prevTxid = r.take(32, `input ${i} outpoint`);
    const vout = r.u32(`input ${i} outpoint index`);
    const scriptSig = r.take(r.compactSize(`input ${i} script length`), `input ${i} script`);
    const sequence = r.u32(`input ${i} sequence`);
    inputs.push({ prevTxid, vout, scriptSig, sequence, witness: [] });
  }
  const outputCount = r.compactSize('output count');
  if (outputCount === 0) throw new BitcoinFormatError('the transaction has no outputs');
  const outputs: TxOutput[] = [];
  for (let i = 0; i < outputCount; i++) {
    const value = r.u64(`output ${i} value`);
    const script = r.take(r.compactSize(`output ${i} script length`), `output ${i} script`);
    outputs.push({ value, script });
  }
  const bodyEnd = r.offset;
  if (segwit) {
    for (const [i, input] of inputs.entries()) {
      const items = r.compactSize(`input ${i} witness count`);
      for (let j = 0; j < items; j++) input.witness.push(r.take(r.compactSize(`input ${i} witness item ${j} length`), `input ${i} witness item ${j}`));
    }
    if (inputs.every((input) => input.witness.length === 0)) {
      throw new BitcoinFormatError('segwit serialization without any witness (superfluous witness record)');
    }
  }
  const locktime = r.u32('locktime');
  if (r.remaining !== 0) throw new BitcoinFormatError(`${r.remaining} trailing bytes after the transaction`);
  const stripped = segwit
    ? concatBytes(bytes.subarray(0, 4), bytes.subarray(bodyStart, bodyEnd), bytes.subarray(bytes.length - 4))
    : bytes;
  return { version, inputs, outputs, locktime, segwit, stripped, txid: sha256d(stripped) };
}

// --- block headers ---

export const BITCOIN_HEADER_BYTES = 80;

export interface BitcoinHeader {
  version: number; // u32 little-endian (Bitcoin reads it as int32)
  /** Previous block hash, internal order. */
  prevHash: Uint8Array;
  /** Merkle root of the block's txids, internal order. */
  merkleRoot: Uint8Array;
  time: number;
  bits: number;
  nonce: number;
  /** sha256d(header), internal order; the block id is displayHex(hash). */
  hash: Uint8Array;
}

export function parseBitcoinHeader(bytes: Uint8Array): BitcoinHeader {
  if (bytes.length !== BITCOIN_HEADER_BYTES) throw new BitcoinFormatError(`a header is ${BITCOIN_HEADER_BYTES} bytes, not ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    version: view.getUint32(0, true),
    prevHash: bytes.slice(4, 36),
    merkleRoot: bytes.slice(36, 68),
    time: view.getUint32(68, true),
    bits: view.getUint32(72, true),
    nonce: view.getUint32(76, true),
    hash: sha256d(bytes),
  };
}

export interface CompactTarget {
  target: bigint;
  negative: boolean;
  overflow: boolean;
}

/** Bitcoin Core's arith_uint256::SetCompact: nBits = exponent (1 byte) ‖ sign bit ‖ 23-bit mantissa. */
export function decodeCompact(bits: number): CompactTarget {
  if (!Number.isInteger(bits) || bits < 0 || bits > 0xffffffff) throw new RangeError('nBits must be a u32');
  const size = bits >>> 24;
  let word = bits & 0x007fffff;
  let target: bigint;
  if (size <= 3) {
    word >>>= 8 * (3 - size);
    target = BigInt(word);
  } else {
    target = BigInt(word) << BigInt(8 * (size - 3));
  }
  const negative = word !== 0 && (bits & 0x00800000) !== 0;
  const overflow = word !== 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
  return { target, negative, overflow };
}

/** The target nBits encodes; throws BitcoinFormatError for a negative, zero or overflowing one. */
export function targetFromBits(bits: number): bigint {
  const { target, negative, overflow } = decodeCompact(bits);
  const name = `nBits 0x${hex32(bits)}`;
  if (negative) throw new BitcoinFormatError(`${name} encodes a negative target`);
  if (overflow) throw new BitcoinFormatError(`${name} overflows 256 bits`);
  if (target === 0n) throw new BitcoinFormatError(`${name} encodes a zero target`);
  return target;
}

/** A hash (internal order) read as the little-endian 256-bit number Bitcoin compares to the target. */
export function hashToBigInt(hash: Uint8Array): bigint {
  let n = 0n;
  for (let i = hash.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(hash[i]!);
  return n;
}

export const hex32 = (n: number): string => n.toString(16).padStart(8, '0');

/** Compact nBits of each network's proof-of-work limit (Bitcoin Core's consensus.powLimit). */
export const POW_LIMIT_BITS: Record<BitcoinNetwork, number> = {
  mainnet: 0x1d00ffff,
  testnet: 0x1d00ffff,
  testnet4: 0x1d00ffff,
  signet: 0x1e0377ae,
  regtest: 0x207fffff,
};

// --- Merkle branches ---

export const MAX_MERKLE_DEPTH = 32;

/**
 * Folds a Merkle branch (siblings bottom-up, internal order) from a txid at index `pos`:
 * h = pos odd ? sha256d(sibling ‖ h) : sha256d(h ‖ sibling), pos halved each level; pos must reach
 * 0 exactly when the siblings run out. Returns the root, internal order.
 */
export function foldMerkleBranch(leaf: Uint8Array, pos: number, siblings: readonly Uint8Array[]): Uint8Array {
  if (siblings.length > MAX_MERKLE_DEPTH) {
    throw new BitcoinFormatError(`the branch has ${siblings.length} siblings, more than ${MAX_MERKLE_DEPTH}`);
  }
  if (!Number.isSafeInteger(pos) || pos < 0) throw new BitcoinFormatError(`position ${pos} is not a non-negative integer`);
  let h = leaf;
  let p = pos;
  for (const sibling of siblings) {
    if (sibling.length !== 32) throw new BitcoinFormatError('a sibling is not 32 bytes');
    h = p % 2 === 1 ? sha256d(concatBytes(sibling, h)) : sha256d(concatBytes(h, sibling));
    p = Math.floor(p / 2);
  }
  if (p !== 0) throw new BitcoinFormatError(`position ${pos} does not fit a branch of ${siblings.length} siblings`);
  return h;
}

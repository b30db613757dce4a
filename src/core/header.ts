// The block header: a fixed 136-byte big-endian layout (docs/protocol.md §6), hashed with one SHA-256.
// The nonce is last and starts at byte 128, so a miner absorbs the first two 64-byte blocks once and
// pays one compression per nonce. Roots are raw contiguous 32-byte fields (an OpenTimestamps path
// can prepend/append around them).
import { fromHex, toHex } from './bytes.js';
import { fail } from './errors.js';
import { sha256 } from './hash.js';

export const HEADER_VERSION = 1;
export const HEADER_BYTES = 136;
export const NONCE_OFFSET = 128;
export const MAX_DIFFICULTY = 256;

export interface HeaderFields {
  version: number; // u32, = 1
  height: number; // u64; genesis is 0
  timestamp: number; // u64, milliseconds since the Unix epoch (UTC)
  prevHash: string; // 32 bytes hex; all zeros for genesis
  linksRoot: string; // RFC 6962 root of this block's links
  leafCount: number; // u64, links in this block
  historyRoot: string; // RFC 6962 root over the hashes of blocks 0..height-1
  difficulty: number; // u32, leading zero bits required of the block hash
  nonce: number; // u64
}

export const ZERO_HASH = '0'.repeat(64);
/** SHA-256 of the empty string: the RFC 6962 root of the empty tree, genesis's history root. */
export const EMPTY_HISTORY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function putU64(view: DataView, at: number, value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a safe non-negative integer`);
  view.setUint32(at, Math.floor(value / 2 ** 32));
  view.setUint32(at + 4, value >>> 0);
}

function getU64(view: DataView, at: number, what: string): number {
  const value = view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4);
  if (!Number.isSafeInteger(value)) fail('HEADER_INVALID', `${what} exceeds 2^53`);
  return value;
}

export function encodeHeader(h: HeaderFields): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  const view = new DataView(out.buffer);
  if (!Number.isInteger(h.version) || h.version < 0 || h.version > 0xffffffff) throw new RangeError('bad version');
  if (!Number.isInteger(h.difficulty) || h.difficulty < 0 || h.difficulty > MAX_DIFFICULTY) {
    throw new RangeError(`difficulty must be 0..${MAX_DIFFICULTY}`);
  }
  view.setUint32(0, h.version);
  putU64(view, 4, h.height, 'height');
  putU64(view, 12, h.timestamp, 'timestamp');
  out.set(fromHex(h.prevHash, 32), 20);
  out.set(fromHex(h.linksRoot, 32), 52);
  putU64(view, 84, h.leafCount, 'leafCount');
  out.set(fromHex(h.historyRoot, 32), 92);
  view.setUint32(124, h.difficulty);
  putU64(view, NONCE_OFFSET, h.nonce, 'nonce');
  return out;
}

/** Decodes and checks the layout; throws HEADER_INVALID. Does not check proof-of-work. */
export function decodeHeader(bytes: Uint8Array): HeaderFields {
  if (bytes.length !== HEADER_BYTES) fail('HEADER_INVALID', `header is ${bytes.length} bytes, not ${HEADER_BYTES}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(0);
  if (version !== HEADER_VERSION) fail('UNSUPPORTED_VERSION', `header version ${version} is not ${HEADER_VERSION}`);
  const difficulty = view.getUint32(124);
  if (difficulty > MAX_DIFFICULTY) fail('HEADER_INVALID', `difficulty ${difficulty} > ${MAX_DIFFICULTY}`);
  const height = getU64(view, 4, 'height');
  const timestamp = getU64(view, 12, 'timestamp');
  const leafCount = getU64(view, 84, 'leafCount');
  const nonce = getU64(view, NONCE_OFFSET, 'nonce');
  const prevHash = toHex(bytes.subarray(20, 52));
  const historyRoot = toHex(bytes.subarray(92, 124));
  if (height === 0 && prevHash !== ZERO_HASH) fail('HEADER_INVALID', 'genesis must have a zero previous hash');
  if (height > 0 && prevHash === ZERO_HASH) fail('HEADER_INVALID', `block ${height} has a zero previous hash`);
  if (height === 0 && historyRoot !== EMPTY_HISTORY) fail('HEADER_INVALID', 'genesis must have the empty history root');
  return {
    version,
    height,
    timestamp,
    prevHash,
    linksRoot: toHex(bytes.subarray(52, 84)),
    leafCount,
    historyRoot,
    difficulty,
    nonce,
  };
}

export function blockHash(header: Uint8Array): Uint8Array {
  return sha256(header);
}

/** Leading zero bits of a hash read as a big-endian number. */
export function leadingZeroBits(hash: Uint8Array): number {
  let bits = 0;
  for (const byte of hash) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** Proof-of-work holds when the block hash has at least `difficulty` leading zero bits. */
export function hasProofOfWork(hash: Uint8Array, difficulty: number): boolean {
  return leadingZeroBits(hash) >= difficulty;
}

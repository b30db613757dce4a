// SHA-256, the only hash of the protocol (spec §3). @noble/hashes keeps core portable (Node and
// browsers); the proof-of-work loop has its own allocation-free compression in sha256-block.ts.
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from './bytes.js';

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

export function sha256Hex(data: Uint8Array | string): string {
  return toHex(nobleSha256(typeof data === 'string' ? utf8(data) : data));
}

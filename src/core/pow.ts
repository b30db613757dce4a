// Proof-of-work mining over the header's nonce. mineRange is a tight synchronous loop with no
// allocation; mine() drives it in chunks so it can be cancelled (AbortSignal) and report its rate.
// Core owns no clock and no scheduler: the caller passes `now` and `pause`.
import { HEADER_BYTES, NONCE_OFFSET, type HeaderFields, encodeHeader } from './header.js';
import { SHA256_IV, compress, loadBlock } from './sha256-block.js';

const BIT_LENGTH = HEADER_BYTES * 8;

/**
 * Searches nonces [start, start+count) of an encoded header for one meeting its own recorded
 * difficulty. Returns the nonce, or null; `tries` is how many were hashed.
 */
export function mineRange(header: Uint8Array, start: number, count: number): { nonce: number | null; tries: number } {
  if (header.length !== HEADER_BYTES) throw new RangeError('not an encoded header');
  const difficulty = new DataView(header.buffer, header.byteOffset).getUint32(124);
  const w = new Uint32Array(64);
  const mid = Uint32Array.from(SHA256_IV);
  loadBlock(w, header, 0);
  compress(mid, w);
  loadBlock(w, header, 64);
  compress(mid, w);
  const state = new Uint32Array(8);
  const end = start + count;
  for (let nonce = start; nonce < end; nonce++) {
    state.set(mid);
    w[0] = Math.floor(nonce / 2 ** 32);
    w[1] = nonce >>> 0;
    w[2] = 0x80000000;
    w.fill(0, 3, 15);
    w[15] = BIT_LENGTH;
    compress(state, w);
    if (meets(state, difficulty)) return { nonce, tries: nonce - start + 1 };
  }
  return { nonce: null, tries: count };
}

function meets(state: Uint32Array, difficulty: number): boolean {
  let need = difficulty;
  for (let i = 0; i < 8 && need > 0; i++) {
    const word = state[i]!;
    if (need >= 32) {
      if (word !== 0) return false;
      need -= 32;
    } else return Math.clz32(word) >= need;
  }
  return true;
}

export interface MineOptions {
  now: () => number; // milliseconds, for the rate
  pause: () => Promise<void>; // lets the event loop run between chunks (cancellation, other work)
  signal?: AbortSignal;
  startNonce?: number;
  chunk?: number;
  onProgress?: (p: { tries: number; hashesPerSecond: number }) => void;
}

export interface Mined {
  header: Uint8Array;
  nonce: number;
  tries: number;
  hashesPerSecond: number;
}

export class MiningCancelled extends Error {
  constructor() {
    super('mining cancelled');
    this.name = 'MiningCancelled';
  }
}

/** Mines the header described by `fields` (its nonce is ignored) at its recorded difficulty. */
export async function mine(fields: HeaderFields, opts: MineOptions): Promise<Mined> {
  const header = encodeHeader({ ...fields, nonce: 0 });
  const chunk = opts.chunk ?? 65_536;
  const began = opts.now();
  let tries = 0;
  let next = opts.startNonce ?? 0;
  const rate = () => tries / Math.max((opts.now() - began) / 1000, 1e-6);
  for (;;) {
    if (opts.signal?.aborted) throw new MiningCancelled();
    const found = mineRange(header, next, chunk);
    tries += found.tries;
    if (found.nonce !== null) {
      const view = new DataView(header.buffer);
      view.setUint32(NONCE_OFFSET, Math.floor(found.nonce / 2 ** 32));
      view.setUint32(NONCE_OFFSET + 4, found.nonce >>> 0);
      return { header, nonce: found.nonce, tries, hashesPerSecond: rate() };
    }
    next += chunk;
    opts.onProgress?.({ tries, hashesPerSecond: rate() });
    await opts.pause();
  }
}

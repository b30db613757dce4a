// Byte helpers. Hashes, keys and signatures travel as lowercase hex (spec §3); parsing is strict so
// that one value has exactly one spelling.

const HEX = /^(?:[0-9a-f]{2})*$/;
const ALPHABET = '0123456789abcdef';
const TABLE = Array.from({ length: 256 }, (_, i) => ALPHABET[i >> 4]! + ALPHABET[i & 15]!);

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += TABLE[bytes[i]!];
  return out;
}

/** Parses lowercase hex; returns undefined for anything else (odd length, uppercase, other chars). */
export function parseHex(hex: string, length?: number): Uint8Array | undefined {
  if (typeof hex !== 'string' || !HEX.test(hex)) return undefined;
  if (length !== undefined && hex.length !== length * 2) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Like parseHex but throws; for values the caller has already validated or produced itself. */
export function fromHex(hex: string, length?: number): Uint8Array {
  const out = parseHex(hex, length);
  if (!out) throw new TypeError(`expected ${length ? `${length} bytes of ` : ''}lowercase hex`);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const encoder = new TextEncoder();
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

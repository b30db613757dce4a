// Hostile signatures and keys for test/integration/crypto-hostility.test.ts.
//
// Wycheproof's EdDSA vectors sign fixed messages, and the service only ever verifies signatures over
// `pop:link:v1:<linkHash>`, so a vector's signature cannot be posted as it is. Instead each invalid
// vector is reduced to the *transformation* Wycheproof applied to a valid signature (S + k·L, bits
// of R flipped with S recomputed, bytes dropped or appended, fixed special values), the reduction is
// checked to reproduce the vector's signature byte for byte from the vector's own message, and the
// same transformation is then applied to a valid signature over our link message.
//
// Curve membership is decided here with plain BigInt arithmetic (Euler's criterion), independently of
// the libraries the service uses, so a test that "an off-curve point is refused" does not borrow its
// notion of "off-curve" from the code under test.
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes, fromHex, toHex } from '../../src/core/bytes.js';
import { readWycheproofEddsa } from './vectors.js';

// --- field arithmetic, independent of the libraries under test ---

export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  let b = ((base % m) + m) % m;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

/** Euler's criterion: a is a square mod the odd prime p (0 counts as a square). */
export function isSquare(a: bigint, p: bigint): boolean {
  const r = ((a % p) + p) % p;
  return r === 0n || modPow(r, (p - 1n) / 2n, p) === 1n;
}

export function bigFromBytesLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

export function bigFromBytesBE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

export function bytesLE32(n: bigint): Uint8Array {
  if (n < 0n || n >= 1n << 256n) throw new RangeError('not a 256-bit value');
  const out = new Uint8Array(32);
  let v = n;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function bytesBE32(n: bigint): Uint8Array {
  return bytesLE32(n).reverse();
}

// --- ECDSA curves (SEC 2, FIPS 186-4) ---

export type EcdsaAlg = 'ecdsa-p256' | 'ecdsa-secp256k1';

export const ECDSA_CURVES: Record<EcdsaAlg, { p: bigint; a: bigint; b: bigint; n: bigint }> = {
  'ecdsa-p256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: -3n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  'ecdsa-secp256k1': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn,
    a: 0n,
    b: 7n,
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
  },
};

/** x (< p) is the abscissa of a point of the curve: x³ + ax + b is a square mod p. */
export function isAbscissa(alg: EcdsaAlg, x: bigint): boolean {
  const { p, a, b } = ECDSA_CURVES[alg];
  if (x < 0n || x >= p) return false;
  return isSquare(x * x * x + a * x + b, p);
}

export const ECDSA_LIB = { 'ecdsa-p256': p256, 'ecdsa-secp256k1': secp256k1 } as const;

export interface EcdsaVariant {
  name: string;
  sigHex: string;
  /** The problem type the service must answer with. */
  code: 'signature-invalid' | 'malformed';
}

/**
 * Malleated and broken variants of a valid, low-S, 64-byte r‖s ECDSA signature: high-S (n − s, a
 * valid ECDSA signature the low-S rule refuses), zero and out-of-range scalars, r and s swapped, DER
 * instead of r‖s, and wrong lengths. 64-byte variants reach the verifier (signature-invalid); the
 * others fail the request schema (malformed).
 */
export function ecdsaVariants(alg: EcdsaAlg, sig: Uint8Array): EcdsaVariant[] {
  const { n } = ECDSA_CURVES[alg];
  const r = bigFromBytesBE(sig.subarray(0, 32));
  const s = bigFromBytesBE(sig.subarray(32, 64));
  const rs = (rv: bigint, sv: bigint) => toHex(concatBytes(bytesBE32(rv), bytesBE32(sv)));
  const max = (1n << 256n) - 1n;
  const der = ECDSA_LIB[alg].Signature.fromBytes(sig, 'compact').toBytes('der');
  const derIn64 = new Uint8Array(64);
  derIn64.set(der.subarray(0, 64));
  return [
    { name: 'high-S (s′ = n − s, valid ECDSA but not low-S)', sigHex: rs(r, n - s), code: 'signature-invalid' },
    { name: 's = n/2 + 1 (just above the low-S bound)', sigHex: rs(r, (n >> 1n) + 1n), code: 'signature-invalid' },
    { name: 'r = 0', sigHex: rs(0n, s), code: 'signature-invalid' },
    { name: 's = 0', sigHex: rs(r, 0n), code: 'signature-invalid' },
    { name: 'r = s = 0', sigHex: rs(0n, 0n), code: 'signature-invalid' },
    { name: 'r = n', sigHex: rs(n, s), code: 'signature-invalid' },
    { name: 's = n', sigHex: rs(r, n), code: 'signature-invalid' },
    { name: 'r = n + r (r ≥ n, same residue)', sigHex: r + n <= max ? rs(r + n, s) : rs(n + 1n, s), code: 'signature-invalid' },
    { name: 'r = 2²⁵⁶ − 1', sigHex: rs(max, s), code: 'signature-invalid' },
    { name: 's = 2²⁵⁶ − 1', sigHex: rs(r, max), code: 'signature-invalid' },
    { name: 'r and s swapped', sigHex: rs(s, r), code: 'signature-invalid' },
    { name: 'DER cut or zero-padded to 64 bytes', sigHex: toHex(derIn64), code: 'signature-invalid' },
    { name: 'DER instead of r‖s (70–72 bytes)', sigHex: toHex(der), code: 'malformed' },
    { name: 'r only (32 bytes)', sigHex: toHex(sig.subarray(0, 32)), code: 'malformed' },
    { name: 'one byte short (63 bytes)', sigHex: toHex(sig.subarray(0, 63)), code: 'malformed' },
    { name: 'one byte long (65 bytes)', sigHex: toHex(concatBytes(sig, new Uint8Array([0]))), code: 'malformed' },
    { name: 'recovered format (65 bytes, recovery byte first)', sigHex: toHex(concatBytes(new Uint8Array([1]), sig)), code: 'malformed' },
    { name: 'empty', sigHex: '', code: 'malformed' },
  ];
}

// --- Ed25519 (RFC 8032) ---

export const ED_P = (1n << 255n) - 19n;
export const ED_L = (1n << 252n) + 27742317777372353535851937790883648493n;
const ED_D = (((-121665n * modPow(121666n, ED_P - 2n, ED_P)) % ED_P) + ED_P) % ED_P;

/** y (< p) belongs to a point of edwards25519: (y² − 1) / (d·y² + 1) is a square mod p. */
export function isEdwardsY(y: bigint): boolean {
  const num = (y * y - 1n) % ED_P;
  const den = (ED_D * y * y + 1n) % ED_P;
  return isSquare(num * modPow(den, ED_P - 2n, ED_P), ED_P);
}

/** The pieces of a deterministic RFC 8032 signature by `seed` over `msg`, to rebuild variants of it. */
export function ed25519Parts(seed: Uint8Array, msg: Uint8Array) {
  const ext = ed25519.utils.getExtendedPublicKey(seed);
  const A = ext.pointBytes;
  const a = ext.scalar;
  const r = bigFromBytesLE(sha512(concatBytes(ext.prefix, msg))) % ED_L;
  const k = (R: Uint8Array) => bigFromBytesLE(sha512(concatBytes(R, A, msg))) % ED_L;
  /** S for a given R as a signer with this key would compute it: r + k(R)·a (only right when R = [r]B). */
  const sFor = (R: Uint8Array) => (r + k(R) * a) % ED_L;
  const valid = ed25519.sign(msg, seed);
  return { A, a, r, k, sFor, valid };
}

/** How Wycheproof derived an invalid signature from the valid one (or from nothing). */
export type EdDerivation =
  | { kind: 'special values'; sig: Uint8Array }
  | { kind: 'bytes edited'; prefix: number; suffix: number; middle: Uint8Array }
  | { kind: 'S + delta'; delta: bigint }
  | { kind: 'R bits flipped, S recomputed'; mask: Uint8Array }
  | { kind: 'R replaced, S recomputed'; R: Uint8Array };

export interface WycheproofEdCase {
  tcId: number;
  comment: string;
  flags: string[];
  msg: Uint8Array;
  sig: Uint8Array;
  derivation: EdDerivation;
}

function popcount(bytes: Uint8Array): number {
  let c = 0;
  for (const b of bytes) for (let v = b; v; v >>= 1) c += v & 1;
  return c;
}

function derive(seed: Uint8Array, msg: Uint8Array, sig: Uint8Array): EdDerivation {
  const { valid, sFor } = ed25519Parts(seed, msg);
  if (sig.length === 64) {
    const R = sig.subarray(0, 32);
    const S = bigFromBytesLE(sig.subarray(32));
    if (equalBytes(R, valid.subarray(0, 32))) return { kind: 'S + delta', delta: S - bigFromBytesLE(valid.subarray(32)) };
    if (S === sFor(R)) {
      const mask = R.map((b, i) => b ^ valid[i]!);
      const bits = popcount(mask);
      return bits === 1 || bits === 256 ? { kind: 'R bits flipped, S recomputed', mask } : { kind: 'R replaced, S recomputed', R: R.slice() };
    }
    return { kind: 'special values', sig: sig.slice() };
  }
  let prefix = 0;
  while (prefix < Math.min(sig.length, 64) && sig[prefix] === valid[prefix]) prefix++;
  let suffix = 0;
  while (suffix < Math.min(sig.length, 64) - prefix && sig[sig.length - 1 - suffix] === valid[63 - suffix]) suffix++;
  return { kind: 'bytes edited', prefix, suffix, middle: sig.slice(prefix, sig.length - suffix) };
}

/** The derivation applied to a fresh signature by `seed` over `msg`. */
export function applyDerivation(d: EdDerivation, seed: Uint8Array, msg: Uint8Array): Uint8Array {
  const { valid, sFor } = ed25519Parts(seed, msg);
  switch (d.kind) {
    case 'special values':
      return d.sig;
    case 'bytes edited':
      return concatBytes(valid.subarray(0, d.prefix), d.middle, valid.subarray(64 - d.suffix));
    case 'S + delta':
      return concatBytes(valid.subarray(0, 32), bytesLE32(bigFromBytesLE(valid.subarray(32)) + d.delta));
    case 'R bits flipped, S recomputed': {
      const R = valid.subarray(0, 32).map((b, i) => b ^ d.mask[i]!);
      return concatBytes(R, bytesLE32(sFor(R)));
    }
    case 'R replaced, S recomputed':
      return concatBytes(d.R, bytesLE32(sFor(d.R)));
  }
}

/** Every group of the Wycheproof EdDSA file that has invalid cases, with each case's derivation. */
export function wycheproofEd25519(): { pk: string; seed: Uint8Array; cases: WycheproofEdCase[]; keys: string[]; total: number }[] {
  const file = readWycheproofEddsa();
  const keys = [...new Set(file.testGroups.map((g) => g.key.pk))];
  return file.testGroups
    .filter((g) => g.tests.some((t) => t.result === 'invalid'))
    .map((g) => {
      const seed = fromHex(g.key.sk);
      const cases = g.tests
        .filter((t) => t.result === 'invalid')
        .map((t) => {
          const msg = fromHex(t.msg);
          const sig = fromHex(t.sig);
          return { tcId: t.tcId, comment: t.comment, flags: t.flags, msg, sig, derivation: derive(seed, msg, sig) };
        });
      return { pk: g.key.pk, seed, cases, keys, total: g.tests.length };
    });
}

/**
 * Signatures whose R has a small-order component or a non-canonical encoding, built by the key's
 * holder. `lenient` says whether a lenient verifier accepts the bytes: one that decodes R as ZIP 215
 * does (y ≥ p and x = −0 allowed) and checks the cofactored equation 8·([S]B − [k]A − R) = O. The
 * strict rule of docs/protocol.md §4 (cofactorless, R compared by encoding) refuses all of them.
 */
export function ed25519TorsionVariants(seed: Uint8Array, msg: Uint8Array, torsion: readonly string[]): { name: string; sig: Uint8Array; lenient: boolean }[] {
  const { A, valid, sFor, k, a } = ed25519Parts(seed, msg);
  const Point = ed25519.Point;
  const B = Point.BASE;
  const APoint = Point.fromBytes(A);
  const lenient = (sig: Uint8Array): boolean => {
    const Rb = sig.subarray(0, 32);
    const S = bigFromBytesLE(sig.subarray(32));
    if (S >= ED_L) return false;
    let R;
    try {
      R = Point.fromBytes(Rb, true);
    } catch {
      return false;
    }
    const lhs = (S === 0n ? Point.ZERO : B.multiply(S)).subtract(APoint.multiply(k(Rb))).subtract(R);
    return lhs.clearCofactor().is0();
  };
  const R = Point.fromBytes(valid.subarray(0, 32));
  const out: { name: string; sig: Uint8Array }[] = [];
  torsion.forEach((t, i) => {
    const T = Point.fromHex(t, true);
    if (T.is0()) return;
    // R + T: [S]B − [k]A = R ≠ R + T, but 8·([S]B − [k]A) = 8·(R + T): only a cofactored verifier accepts.
    const mixed = R.add(T).toBytes();
    out.push({ name: `R + T${i} (mixed order), S recomputed`, sig: concatBytes(mixed, bytesLE32(sFor(mixed))) });
    // R replaced by the small-order point itself, S unchanged: no verifier accepts it.
    out.push({ name: `R = T${i} (small order), S unchanged`, sig: concatBytes(fromHex(t), valid.subarray(32)) });
  });
  // The identity, spelled non-canonically, with S = k·a (nonce 0): [S]B − [k]A is the identity,
  // whose canonical encoding is 01 00…00, so only a decoding verifier accepts these bytes as R.
  for (const [name, hex] of [
    ['R = identity as y = p + 1 (non-canonical)', 'ee' + 'ff'.repeat(30) + '7f'],
    ['R = identity with the sign bit set (x = −0)', '01' + '00'.repeat(30) + '80'],
  ] as const) {
    const Rb = fromHex(hex);
    out.push({ name: `${name}, S = k·a`, sig: concatBytes(Rb, bytesLE32((k(Rb) * a) % ED_L)) });
  }
  return out.map((v) => ({ ...v, lenient: lenient(v.sig) }));
}

/** The canonical identity as R with S = k·a: a signature only the key's holder can make, valid under RFC 8032. */
export function ed25519NonceZero(seed: Uint8Array, msg: Uint8Array): Uint8Array {
  const { k, a } = ed25519Parts(seed, msg);
  const Rb = fromHex('01' + '00'.repeat(31));
  return concatBytes(Rb, bytesLE32((k(Rb) * a) % ED_L));
}

/** Ed25519 public-key encodings the protocol refuses, by reason (docs/protocol.md §4, rule 1). */
export function badEd25519Keys(torsion: readonly string[]): { name: string; hex: string }[] {
  const out: { name: string; hex: string }[] = torsion.map((t, i) => ({ name: `small-order point T${i}`, hex: t }));
  for (let k = 0n; k < 19n; k++) {
    const y = bytesLE32(ED_P + k);
    out.push({ name: `y = p + ${k} (non-canonical)`, hex: toHex(y) });
    y[31]! |= 0x80;
    out.push({ name: `y = p + ${k} with the sign bit (non-canonical)`, hex: toHex(y) });
  }
  out.push({ name: 'y = 1, x = −0 (negative zero)', hex: '01' + '00'.repeat(30) + '80' });
  out.push({ name: 'y = p − 1, x = −0 (negative zero)', hex: 'ec' + 'ff'.repeat(31) });
  let y = 2n;
  while (isEdwardsY(y)) y++;
  out.push({ name: `y = ${y}: not on the curve`, hex: toHex(bytesLE32(y)) });
  return out;
}

// Signature algorithms and the exact bytes that get signed (spec §3, docs/protocol.md §4).
//
// Two verifier implementations exist: noble (pure JS, runs in browsers) and node:crypto (OpenSSL, the
// server's hot path, ~15x faster). They must give the same verdict on every input, so the rules
// that the libraries differ on are fixed here, in one place, and checked before either library runs:
//   - Ed25519: strict RFC 8032 decoding (y < p), no small-order public keys, S < L, and the
//     cofactorless equation encode([S]B - [k]A) == R (what OpenSSL checks);
//   - ECDSA: 64-byte r||s with 1 <= r,s < n and s <= n/2 (low-S), over SHA-256 of the message,
//     public keys as 33-byte SEC1 compressed points on the named curve.
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { utf8 } from './bytes.js';

export const ALGS = ['ed25519', 'ecdsa-secp256k1', 'ecdsa-p256'] as const;
export type Alg = (typeof ALGS)[number];

export function isAlg(value: unknown): value is Alg {
  return typeof value === 'string' && (ALGS as readonly string[]).includes(value);
}

export const PUBLIC_KEY_BYTES: Record<Alg, number> = {
  ed25519: 32,
  'ecdsa-secp256k1': 33,
  'ecdsa-p256': 33,
};
export const SIGNATURE_BYTES = 64;

/** Orders of the ECDSA groups, for the low-S rule. */
export const CURVE_ORDER: Record<Exclude<Alg, 'ed25519'>, bigint> = {
  'ecdsa-secp256k1': 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
  'ecdsa-p256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
};

/** A verifier answers true or false; it never throws on hostile input. */
export interface SignatureVerifier {
  readonly name: string;
  verify(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

// --- the signed messages (ASCII) ---

export function linkMessage(linkHashHex: string): Uint8Array {
  return utf8(`pop:link:v1:${linkHashHex}`);
}

export function blockMessage(blockHashHex: string): Uint8Array {
  return utf8(`pop:block:v1:${blockHashHex}`);
}

export function receiptMessage(linkHashHex: string, acceptedAt: string): Uint8Array {
  return utf8(`pop:receipt:v1:${linkHashHex}:${acceptedAt}`);
}

// --- shared pre-checks, applied by both verifiers ---

function bigFromBytesBE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** r,s in [1, n-1] and s <= n/2. */
export function ecdsaScalarsAcceptable(alg: Exclude<Alg, 'ed25519'>, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  const n = CURVE_ORDER[alg];
  const r = bigFromBytesBE(signature.subarray(0, 32));
  const s = bigFromBytesBE(signature.subarray(32, 64));
  return r > 0n && r < n && s > 0n && s <= n >> 1n;
}

const ED_L = 0x1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3edn;

/** S (little-endian, second half of the signature) < L: RFC 8032 §5.1.7 step 1. */
export function ed25519ScalarCanonical(signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
  return s < ED_L;
}

/**
 * An Ed25519 public key we accept: canonical encoding (y < p, no "negative zero" x) and not of
 * small order (a small-order key lets one signature verify for many messages).
 */
export function ed25519KeyAcceptable(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return false;
  try {
    return !ed25519.Point.fromBytes(publicKey, false).isSmallOrder();
  } catch {
    return false;
  }
}

/**
 * A public key in the protocol's encoding that the verifiers accept: Ed25519 per
 * ed25519KeyAcceptable; ECDSA a 33-byte compressed point that lies on the named curve.
 */
export function publicKeyValid(alg: Alg, publicKey: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES[alg]) return false;
  if (alg === 'ed25519') return ed25519KeyAcceptable(publicKey);
  if (publicKey[0] !== 2 && publicKey[0] !== 3) return false;
  try {
    (alg === 'ecdsa-p256' ? p256 : secp256k1).Point.fromBytes(publicKey).assertValidity();
    return true;
  } catch {
    return false;
  }
}

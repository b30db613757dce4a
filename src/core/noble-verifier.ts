// The portable verifier (and signer) on @noble/curves: runs anywhere JavaScript does. The rules it
// enforces are those of signature.ts; see there why Ed25519 is verified by hand from noble's points.
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes } from './bytes.js';
import { sha256 } from './hash.js';
import {
  type Alg,
  type SignatureVerifier,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  ecdsaScalarsAcceptable,
  ed25519KeyAcceptable,
  ed25519ScalarCanonical,
} from './signature.js';

const Point = ed25519.Point;
const L = Point.Fn.ORDER;

function bigFromBytesLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!ed25519KeyAcceptable(publicKey) || !ed25519ScalarCanonical(signature)) return false;
  const A = Point.fromBytes(publicKey, false);
  const r = signature.subarray(0, 32);
  const s = bigFromBytesLE(signature.subarray(32, 64));
  const k = bigFromBytesLE(sha512(concatBytes(r, publicKey, message))) % L;
  // Cofactorless RFC 8032 check, comparing encodings: a non-canonical R can never match.
  const expectedR = Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k));
  return equalBytes(expectedR.toBytes(), r);
}

const ECDSA = { 'ecdsa-secp256k1': secp256k1, 'ecdsa-p256': p256 } as const;

export const nobleVerifier: SignatureVerifier = {
  name: 'noble',
  verify(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES[alg]) return false;
    try {
      if (alg === 'ed25519') return verifyEd25519(publicKey, message, signature);
      if (!ecdsaScalarsAcceptable(alg, signature)) return false;
      return ECDSA[alg].verify(signature, sha256(message), publicKey, {
        prehash: false,
        lowS: true,
        format: 'compact',
      });
    } catch {
      return false;
    }
  },
};

/** Public key for a 32-byte secret (Ed25519 seed, or ECDSA scalar), in the protocol's encoding. */
export function publicKeyFor(alg: Alg, secretKey: Uint8Array): Uint8Array {
  if (alg === 'ed25519') return ed25519.getPublicKey(secretKey);
  return ECDSA[alg].getPublicKey(secretKey, true);
}

/** Deterministic signature (RFC 8032 / RFC 6979) in the protocol's encoding: 64 bytes, low-S. */
export function sign(alg: Alg, secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  if (alg === 'ed25519') return ed25519.sign(message, secretKey);
  return ECDSA[alg].sign(sha256(message), secretKey, { prehash: false, lowS: true, format: 'compact' });
}

/** A fresh secret key from the given random source (core never reaches for one itself). */
export function secretKeyFrom(alg: Alg, random: (n: number) => Uint8Array): Uint8Array {
  if (alg === 'ed25519') return random(32);
  for (;;) {
    const candidate = random(32);
    if (ECDSA[alg].utils.isValidSecretKey(candidate)) return candidate;
  }
}

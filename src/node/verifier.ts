// The server's verifier on node:crypto (OpenSSL): ~15x faster than noble for Ed25519. Same verdicts
// as nobleVerifier by construction: the shared pre-checks of core/signature.ts run first, and the
// KeyObject for each public key is built once and cached (building one per call halves throughput).
//
// Ed25519 asks libsodium first (src/node/sodium.ts: twice as fast) and OpenSSL only when libsodium
// refuses. libsodium is stricter than RFC 8032, never looser: it also refuses a small-order R (e.g.
// the identity, a "nonce-zero" signature), which OpenSSL and noble accept. So its "valid" is final,
// its "invalid" is decided by OpenSSL, and the verdicts are exactly node:crypto's
// (test/unit/signature-agreement.test.ts checks both halves). A forged signature costs both checks.
import { type KeyObject, createPublicKey, verify as nodeVerify } from 'node:crypto';
import {
  type Alg,
  type SignatureVerifier,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  ecdsaScalarsAcceptable,
  ed25519KeyAcceptable,
  ed25519ScalarCanonical,
} from '../core/signature.js';
import { concatBytes, fromHex, toHex } from '../core/bytes.js';
import { type Sodium, sodium } from './sodium.js';

// DER SubjectPublicKeyInfo prefixes for the raw encodings the protocol uses.
const SPKI_PREFIX: Record<Alg, Uint8Array> = {
  ed25519: fromHex('302a300506032b6570032100'),
  'ecdsa-secp256k1': fromHex('3036301006072a8648ce3d020106052b8104000a032200'),
  'ecdsa-p256': fromHex('3039301306072a8648ce3d020106082a8648ce3d030107032200'),
};

const CACHE_LIMIT = 4096;
const cache = new Map<string, KeyObject | null>();

function keyObject(alg: Alg, publicKey: Uint8Array): KeyObject | null {
  const id = alg + toHex(publicKey);
  let key = cache.get(id);
  if (key !== undefined) return key;
  if (alg === 'ed25519' && !ed25519KeyAcceptable(publicKey)) key = null;
  else {
    try {
      key = createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX[alg], publicKey)), format: 'der', type: 'spki' });
    } catch {
      key = null; // not a point on the curve
    }
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(id, key);
  return key;
}

/** The verifier asking `lib` first for Ed25519 (undefined: OpenSSL alone, for the agreement tests). */
export function nodeVerifierWith(lib: Sodium | undefined): SignatureVerifier {
  return {
    name: 'node:crypto',
    verify(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES[alg]) return false;
      const key = keyObject(alg, publicKey);
      if (!key) return false;
      try {
        if (alg === 'ed25519') {
          if (!ed25519ScalarCanonical(signature)) return false;
          if (lib?.crypto_sign_verify_detached(signature, message, publicKey)) return true;
          return nodeVerify(null, message, key, signature);
        }
        if (!ecdsaScalarsAcceptable(alg, signature)) return false;
        return nodeVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
      } catch {
        return false;
      }
    },
  };
}

/** The service's and `pop verify`'s verifier: libsodium first where it loads, verdicts node:crypto's. */
export const nodeVerifier: SignatureVerifier = nodeVerifierWith(sodium);

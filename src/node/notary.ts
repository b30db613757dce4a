// The notary's Ed25519 key. Signs with libsodium where it loads (src/node/sodium.ts; twice as fast as
// OpenSSL here), else with a node:crypto KeyObject (~20x faster than noble). Ed25519 signatures are
// deterministic (RFC 8032 §5.1.6), so both give the very same bytes (test/unit/notary.test.ts).
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import type { Notary } from '../ledger/ports.js';
import { type Sodium, sodium as loaded } from './sodium.js';

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** `lib`: the libsodium to sign with (default: the one loaded, if any); null signs with node:crypto. */
export function ed25519Notary(seed: Buffer, keyId?: string, lib: Sodium | null = loaded ?? null): Notary {
  if (seed.length !== 32) throw new Error('the notary key must be a 32-byte Ed25519 seed');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  let signBytes = (message: Uint8Array): string => sign(null, message, key).toString('hex');
  if (lib) {
    const secretKey = Buffer.alloc(64);
    lib.crypto_sign_seed_keypair(Buffer.alloc(32), secretKey, seed);
    signBytes = (message) => {
      const sig = Buffer.allocUnsafe(64);
      lib.crypto_sign_detached(sig, message, secretKey);
      return sig.toString('hex');
    };
  }
  return { keyId: keyId ?? `notary-${publicKey.slice(0, 8)}`, publicKey, sign: signBytes };
}

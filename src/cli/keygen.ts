// `pop keygen`: a key pair for a partner or the notary, in the protocol's encodings.
import { randomBytes } from 'node:crypto';
import { toHex } from '../core/bytes.js';
import { publicKeyFor, secretKeyFrom } from '../core/noble-verifier.js';
import { type Alg, isAlg } from '../core/signature.js';
import { UsageError } from './exit.js';

export function keygen(alg: string): { alg: Alg; secretKey: string; publicKey: string } {
  if (!isAlg(alg)) throw new UsageError(`unknown algorithm ${alg}: use ed25519, ecdsa-secp256k1 or ecdsa-p256`);
  const secret = secretKeyFrom(alg, (n) => new Uint8Array(randomBytes(n)));
  return { alg, secretKey: toHex(secret), publicKey: toHex(publicKeyFor(alg, secret)) };
}

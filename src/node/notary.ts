// The notary's Ed25519 key, held as a node:crypto KeyObject (signing is ~20x faster than noble).
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import type { Notary } from '../ledger/ports.js';

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

export function ed25519Notary(seed: Buffer, keyId?: string): Notary {
  if (seed.length !== 32) throw new Error('the notary key must be a 32-byte Ed25519 seed');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  return {
    keyId: keyId ?? `notary-${publicKey.slice(0, 8)}`,
    publicKey,
    sign: (message) => sign(null, message, key).toString('hex'),
  };
}

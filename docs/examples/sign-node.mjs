// Sign a link with nothing but node:crypto (Node 18+).
//   usage: node sign-node.mjs ALG SECRET_KEY_HEX LINK_HASH_HEX   → 128 lowercase hex chars
import { createPrivateKey, sign } from 'node:crypto';

const [alg, secretHex, linkHash] = process.argv.slice(2);
const message = Buffer.from(`pop:link:v1:${linkHash}`, 'ascii'); // the exact signed bytes

const DER_PREFIX = {
  // PKCS#8 for an Ed25519 seed; RFC 5915 ECPrivateKey (SEC1) with the curve OID for ECDSA.
  ed25519: ['302e020100300506032b657004220420', '', 'pkcs8'],
  'ecdsa-p256': ['30310201010420', 'a00a06082a8648ce3d030107', 'sec1'],
  'ecdsa-secp256k1': ['302e0201010420', 'a00706052b8104000a', 'sec1'],
};
const ORDER = {
  'ecdsa-p256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  'ecdsa-secp256k1': 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
};

const [prefix, suffix, type] = DER_PREFIX[alg] ?? [];
if (!prefix) throw new Error(`unknown algorithm ${alg}`);
const key = createPrivateKey({ key: Buffer.from(prefix + secretHex + suffix, 'hex'), format: 'der', type });

let sig;
if (alg === 'ed25519') {
  sig = sign(null, message, key); // RFC 8032, deterministic
} else {
  sig = sign('sha256', message, { key, dsaEncoding: 'ieee-p1363' }); // r||s, 32 bytes each
  const n = ORDER[alg];
  const s = BigInt('0x' + sig.subarray(32).toString('hex'));
  if (s > n / 2n) sig.write((n - s).toString(16).padStart(64, '0'), 32, 'hex'); // low-S
}
console.log(sig.toString('hex'));

// Pre-signed links, made before any timing starts: each one the first step ('order') of a new
// order-to-cash map, with the step's meta and private data (two disclosures), signed Ed25519 by a
// customer. Signing uses node:crypto (noble signs ~20× slower); the bytes are what `pop link sign`
// would produce (docs/protocol.md: linkHash = SHA-256(JCS(link)), message pop:link:v1:<hash>).
import { type KeyObject, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createDisclosures } from '../src/core/disclosure.js';
import { canonicalJson } from '../src/core/jcs.js';

export interface Signer {
  id: string;
  keyId: string;
  publicKey: string;
  privateKey: KeyObject;
}

export function newSigner(id: string): Signer {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { id, keyId: `${id}-1`, publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'), privateKey };
}

export interface Submission {
  link: Record<string, unknown>;
  signatures: { signer: string; keyId: string; alg: 'ed25519'; sig: string }[];
  private: { disclosures: string[] };
}

export interface SignedLink {
  hash: string;
  submission: Submission;
}

const random = (n: number) => new Uint8Array(randomBytes(n));

export function signedOrder(signer: Signer, mapId: string, createdAt: string): SignedLink {
  const { disclosures, digests } = createDisclosures({ name: 'Camille Martin', address: 'Rue de la Paix 1, Paris' }, random);
  const link = {
    v: 1,
    process: 'order-to-cash',
    processVersion: 1,
    mapId,
    step: 'order',
    prev: [],
    refs: [],
    meta: { currency: 'EUR', total: 129.9, lines: 2 },
    tags: [],
    digests,
    author: signer.id,
    createdAt,
  };
  const hash = createHash('sha256').update(canonicalJson(link)).digest('hex');
  const sig = sign(null, Buffer.from(`pop:link:v1:${hash}`), signer.privateKey).toString('hex');
  return { hash, submission: { link, signatures: [{ signer: signer.id, keyId: signer.keyId, alg: 'ed25519', sig }], private: { disclosures: disclosures.map((d) => d.disclosure) } } };
}

let serial = 0;

/** `count` links on new maps named after `prefix`, yielding to the caller's progress every chunk. */
export async function signOrders(signer: Signer, prefix: string, count: number, onProgress?: (done: number) => void): Promise<SignedLink[]> {
  const out: SignedLink[] = [];
  while (out.length < count) {
    const createdAt = new Date().toISOString();
    const end = Math.min(count, out.length + 500);
    while (out.length < end) out.push(signedOrder(signer, `${prefix}-${++serial}`, createdAt));
    onProgress?.(out.length);
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

/** Request bodies for POST /v1/links, serialized once. */
export const singleBodies = (links: SignedLink[]): Buffer[] => links.map((l) => Buffer.from(JSON.stringify(l.submission)));

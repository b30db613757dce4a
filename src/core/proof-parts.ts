// Checks shared by proof and bundle verification: link signatures against carried keys, a signed
// block header (layout, proof-of-work, notary signature), and disclosures.
import type { PublicKeyRecord, Signature } from '../generated/schemas.js';
import { fromHex, toHex } from './bytes.js';
import { fail } from './errors.js';
import { blockHash, decodeHeader, hasProofOfWork, leadingZeroBits, type HeaderFields } from './header.js';
import { verifyDisclosure } from './disclosure.js';
import type { Json } from './jcs.js';
import { type SignatureVerifier, blockMessage, linkMessage, publicKeyValid } from './signature.js';

export interface NotaryPin {
  keyId: string;
  publicKey: string;
  /** Whether the key was one the verifier pinned, rather than taken from the file. */
  pinned: boolean;
}

export function checkLinkSignatures(
  verifier: SignatureVerifier,
  linkHashHex: string,
  author: string,
  signatures: readonly Signature[],
  keys: readonly PublicKeyRecord[],
): { signer: string; keyId: string; alg: string }[] {
  const message = linkMessage(linkHashHex);
  const keyIds = new Set<string>();
  for (const k of keys) {
    const id = `${k.participant}/${k.keyId}`;
    if (keyIds.has(id)) fail('MALFORMED', `two keys named ${id}`);
    keyIds.add(id);
  }
  const seen = new Set<string>();
  for (const s of signatures) {
    const id = `${s.signer}/${s.keyId}`;
    if (seen.has(id)) fail('MALFORMED', `two signatures by ${id}`);
    seen.add(id);
    const key = keys.find((k) => k.participant === s.signer && k.keyId === s.keyId);
    if (!key) fail('KEY_UNKNOWN', `no key ${id} for the signature`);
    if (key.alg !== s.alg) fail('SIGNATURE_INVALID', `signature by ${id} is ${s.alg}, the key is ${key.alg}`);
    const publicKey = fromHex(key.publicKey);
    if (!publicKeyValid(key.alg, publicKey)) fail('KEY_INVALID', `key ${id} is not a valid ${key.alg} public key`);
    if (!verifier.verify(s.alg, publicKey, message, fromHex(s.sig))) {
      fail('SIGNATURE_INVALID', `signature by ${id} does not verify`);
    }
  }
  if (!signatures.some((s) => s.signer === author)) fail('SIGNATURE_MISSING', `the author ${author} did not sign`);
  return signatures.map((s) => ({ signer: s.signer, keyId: s.keyId, alg: s.alg }));
}

export interface CheckedHeader {
  fields: HeaderFields;
  hash: string;
}

export function checkSignedHeader(
  verifier: SignatureVerifier,
  signed: { header: string; notarySig: string },
  notaryPublicKey: string,
  minDifficulty = 0,
): CheckedHeader {
  const bytes = fromHex(signed.header);
  const fields = decodeHeader(bytes);
  const hashBytes = blockHash(bytes);
  const hash = toHex(hashBytes);
  if (!hasProofOfWork(hashBytes, fields.difficulty)) {
    fail('POW_INSUFFICIENT', `block ${fields.height}: ${leadingZeroBits(hashBytes)} leading zero bits, header requires ${fields.difficulty}`);
  }
  // A header records its own difficulty; a verifier that knows what the notary promised demands it.
  // Fails closed: a minimum that is not a whole number of bits (NaN, 1.5) refuses every header.
  if (!Number.isInteger(minDifficulty)) fail('POW_INSUFFICIENT', `the demanded minimum difficulty ${String(minDifficulty)} is not a whole number of bits`);
  if (fields.difficulty < minDifficulty) {
    fail('POW_INSUFFICIENT', `block ${fields.height}: difficulty ${fields.difficulty}, below the ${minDifficulty} this verifier demands`);
  }
  if (!verifier.verify('ed25519', fromHex(notaryPublicKey), blockMessage(hash), fromHex(signed.notarySig))) {
    fail('NOTARY_SIGNATURE_INVALID', `notary signature on block ${fields.height} does not verify`);
  }
  return { fields, hash };
}

/** Each disclosure checked against the digests; one field may be disclosed only once. */
export function disclosedFields(disclosures: readonly string[], digests: readonly string[]): { field: string; value: Json }[] {
  const fields = new Set<string>();
  const salts = new Set<string>();
  return disclosures.map((d) => {
    const disclosed = verifyDisclosure(d, digests);
    if (fields.has(disclosed.field)) fail('DISCLOSURE_INVALID', `field "${disclosed.field}" is disclosed twice`);
    // §3: a fresh salt per field (the salt is not named: it is private).
    const salt = (JSON.parse(d) as [string])[0];
    if (salts.has(salt)) fail('DISCLOSURE_INVALID', `field "${disclosed.field}" reuses the salt of another field`);
    fields.add(disclosed.field);
    salts.add(salt);
    return disclosed;
  });
}

/** The notary key must be a valid Ed25519 key (checked before any notary signature). */
export function checkNotaryKey(publicKey: string): void {
  if (!publicKeyValid('ed25519', fromHex(publicKey))) fail('KEY_INVALID', 'the notary key is not a valid Ed25519 public key');
}

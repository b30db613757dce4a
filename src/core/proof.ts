// Offline verification of a pop/proof/v1 (docs/protocol.md §8). Nothing in the proof is trusted
// unverified: shape, link hash, signatures, inclusion, header layout, proof-of-work, the notary's
// signatures, the history proof and disclosures are each checked, in that order, and the first
// failure throws a VerificationError with its code. Anchor evidence, if present, is verified offline
// (SPV, anchor.ts) against the proof's latest block; whether the Bitcoin block is on the best chain
// is the one question left to an outside source, and the result says it was not checked.
import type { ProofV1 } from '../generated/schemas.js';
import { type AnchorResult, verifyAnchor } from './anchor.js';
import { fromHex } from './bytes.js';
import { fail } from './errors.js';
import { type HeaderFields } from './header.js';
import { checkLink, linkHash } from './link.js';
import { type NotaryPin, checkLinkSignatures, checkNotaryKey, checkSignedHeader, disclosedFields } from './proof-parts.js';
import { leafHash, verifyInclusion } from './rfc6962.js';
import { SCHEMA_IDS, assertSchema } from './schema.js';
import type { SignatureVerifier } from './signature.js';
import type { Json } from './jcs.js';

export type { ProofV1 };
export const PROOF_TYPE = 'pop/proof/v1';

export interface VerifyOptions {
  verifier: SignatureVerifier;
  /** Notary public keys (hex) the verifier trusts; without them the proof's own key is used and reported. */
  notaryKeys?: readonly string[];
  /** Refuse blocks whose header demands fewer leading zero bits than this (default 0: the header's own). */
  minDifficulty?: number;
}

export interface ProofResult {
  /** True when every check ran and held (anchor included, if the proof carries one). */
  ok: boolean;
  status: 'verified';
  linkHash: string;
  link: ProofV1['link'];
  signers: { signer: string; keyId: string; alg: string }[];
  block: { height: number; hash: string; timestamp: number; difficulty: number };
  /** The later block the history proof ties this block to, if any. */
  history?: { height: number; hash: string };
  notary: NotaryPin;
  anchor: 'absent' | 'verified';
  /** The verified anchor, when the proof carries one. */
  anchored?: AnchorResult;
  disclosed: { field: string; value: Json }[];
}

function versionOf(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string'
    ? value.type
    : undefined;
}

export function verifyProof(value: unknown, opts: VerifyOptions): ProofResult {
  const type = versionOf(value);
  if (type !== undefined && type !== PROOF_TYPE && type.startsWith('pop/proof/')) {
    fail('UNSUPPORTED_VERSION', `${type} is not ${PROOF_TYPE}`);
  }
  assertSchema<ProofV1>(SCHEMA_IDS.proof, value, 'proof');
  const proof = value;

  const link = checkLink(proof.link);
  const hash = linkHash(link);
  if (hash !== proof.linkHash) fail('LINK_HASH_MISMATCH', `linkHash is ${proof.linkHash}, the link hashes to ${hash}`);

  const signers = checkLinkSignatures(opts.verifier, hash, link.author, proof.signatures, proof.keys);

  const notary = { keyId: proof.notary.keyId, publicKey: proof.notary.publicKey };
  const pin = pinNotary(notary.publicKey, opts.notaryKeys);
  checkNotaryKey(notary.publicKey);
  const block = checkSignedHeader(opts.verifier, proof.block, notary.publicKey, opts.minDifficulty);

  const { leafIndex, treeSize, path } = proof.inclusion;
  if (treeSize !== block.fields.leafCount) {
    fail('INCLUSION_INVALID', `inclusion tree size ${treeSize} is not the block's leaf count ${block.fields.leafCount}`);
  }
  verifyInclusion(leafIndex, treeSize, leafHash(fromHex(hash)), path.map((h) => fromHex(h)), fromHex(block.fields.linksRoot));

  let history: ProofResult['history'];
  if (proof.history) {
    const later = checkSignedHeader(opts.verifier, proof.history.block, notary.publicKey, opts.minDifficulty);
    history = checkHistory(block.fields, block.hash, later.fields, later.hash, proof.history.path);
  }

  const disclosed = disclosedFields(proof.disclosures ?? [], link.digests);
  // The anchor commits to the latest block of the proof: the history block if there is one.
  const anchored = proof.anchor === undefined ? undefined : verifyAnchor(proof.anchor, history?.hash ?? block.hash);
  return {
    ok: true,
    status: 'verified',
    linkHash: hash,
    link,
    signers,
    block: {
      height: block.fields.height,
      hash: block.hash,
      timestamp: block.fields.timestamp,
      difficulty: block.fields.difficulty,
    },
    ...(history ? { history } : {}),
    notary: { ...notary, pinned: pin },
    anchor: anchored ? 'verified' : 'absent',
    ...(anchored ? { anchored } : {}),
    disclosed,
  };
}

function pinNotary(publicKey: string, trusted: readonly string[] | undefined): boolean {
  if (trusted === undefined) return false;
  if (!trusted.includes(publicKey)) fail('NOTARY_KEY_MISMATCH', `notary key ${publicKey} is not one of the pinned keys`);
  return true;
}

/** Block `fields` is an ancestor of `later`: its hash is leaf `height` of the later history tree. */
export function checkHistory(
  fields: HeaderFields,
  hash: string,
  later: HeaderFields,
  laterHash: string,
  path: readonly string[],
): { height: number; hash: string } {
  if (later.height <= fields.height) {
    fail('HISTORY_INVALID', `history block ${later.height} is not later than block ${fields.height}`);
  }
  try {
    verifyInclusion(fields.height, later.height, leafHash(fromHex(hash)), path.map((h) => fromHex(h)), fromHex(later.historyRoot));
  } catch (e) {
    fail('HISTORY_INVALID', `block ${fields.height} is not in the history of block ${later.height}: ${(e as Error).message}`);
  }
  return { height: later.height, hash: laterHash };
}


// The pure core of Proof of Process: formats, hashing, signatures, RFC 6962 trees, block headers and
// proof-of-work, disclosures and offline verification. No I/O, no environment, no clock: it runs in
// Node and in browsers, and it is all an auditor's verifier needs (with schemas/).
export * from './bytes.js';
export * from './errors.js';
export * from './hash.js';
export * from './jcs.js';
export * from './signature.js';
export * from './noble-verifier.js';
export * from './rfc6962.js';
export * from './merkle.js';
export * from './history.js';
export * from './header.js';
export * from './pow.js';
export * from './disclosure.js';
export * from './link.js';
export * from './schema.js';
export * from './schema-bounds.js';
export { verifyProof, checkHistory, PROOF_TYPE, type ProofV1, type ProofResult, type VerifyOptions } from './proof.js';
export * from './proof-parts.js';
export * from './bitcoin.js';
export * from './anchor.js';
export * from './bundle.js';
export * from './async-verify.js';
export type { BundleV1, ProcessDefinition, PublicKeyRecord } from '../generated/schemas.js';

// Every failure has a name (house style §2). Verifiers throw VerificationError with a code from this
// closed union; callers (CLI exit codes, HTTP problem types, console) switch on the code, never on
// the message.

export const VERIFICATION_CODES = [
  'MALFORMED', // the object does not match its JSON Schema or is not I-JSON
  'UNSUPPORTED_VERSION', // a version tag this verifier does not know
  'LINK_HASH_MISMATCH', // the stated linkHash is not SHA-256(JCS(link))
  'SIGNATURE_MISSING', // the link's author did not sign
  'SIGNATURE_INVALID', // a signature does not verify under the stated key
  'KEY_UNKNOWN', // a signature names a key the proof does not carry
  'KEY_INVALID', // a public key is not a valid point of its curve (or is of small order)
  'INCLUSION_INVALID', // the RFC 6962 inclusion proof does not lead to the block's links root
  'CONSISTENCY_INVALID', // an RFC 6962 consistency proof does not hold
  'HEADER_INVALID', // the block header is not the fixed binary layout
  'POW_INSUFFICIENT', // the header hash has fewer leading zero bits than its recorded difficulty
  'NOTARY_SIGNATURE_INVALID', // a notary signature (over a block hash, or a bundle's manifest) does not verify
  'NOTARY_KEY_MISMATCH', // the proof's notary key is not the one the verifier pinned
  'HISTORY_INVALID', // the history proof does not tie the block to the later header
  'DISCLOSURE_INVALID', // a disclosure is malformed, not canonical, or not among the link's digests
  'ANCHOR_INVALID', // anchor evidence does not verify
  // Appended for bundles (docs/protocol.md §10); new codes go at the end so exit codes keep their numbers.
  'MANIFEST_INVALID', // a bundle's manifest does not match its links (count, digest), or a link is outside its scope or missing from it
  'PROCESS_INVALID', // a bundled process version does not hash to its stated hash, or is not a usable definition
  'RULE_VIOLATION', // a link breaks the rules of its bundled process version (step, meta schema, roles, transitions)
] as const;

export type VerificationCode = (typeof VERIFICATION_CODES)[number];

export class VerificationError extends Error {
  readonly code: VerificationCode;
  constructor(code: VerificationCode, message: string) {
    super(message);
    this.name = 'VerificationError';
    this.code = code;
  }
}

export function fail(code: VerificationCode, message: string): never {
  throw new VerificationError(code, message);
}

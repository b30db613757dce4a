// Messages between the page and the verifier worker. Only data crosses: the file's text in, the
// core's result (or its named failure) out, with which backend checked the signatures.
import type { BundleResult } from '../../core/bundle.js';
import type { ProofResult } from '../../core/proof.js';
import type { Backends, SignatureUse } from './webcrypto.js';

export interface VerifyRequest {
  id: number;
  text: string;
  /** Notary public keys (hex) to pin; none = the file's own key is used and reported as such. */
  notaryKeys?: string[];
}

export interface Failure {
  code: string;
  message: string;
}

export type VerifyResponse =
  /** The worker is ready; `backends` says which library verifies each algorithm in this browser. */
  | { id: number; kind: 'ready'; backends: Backends }
  | { id: number; kind: 'progress'; done: number; total: number }
  | { id: number; kind: 'proof'; ms: number; signatures: SignatureUse[]; result: ProofResult }
  | { id: number; kind: 'bundle'; ms: number; signatures: SignatureUse[]; result: BundleResult }
  /** A proof that failed, a file that is not JSON, or a verifier fault. */
  | { id: number; kind: 'failed'; ms: number; type: string | null; signatures: SignatureUse[]; failure: Failure };

export type VerifyOutcome = Exclude<VerifyResponse, { kind: 'ready' } | { kind: 'progress' }>;

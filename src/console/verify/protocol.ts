// Messages between the page and the verifier worker. Only data crosses: the file's text in, the
// core's result (or its named failure) out.
import type { BundleResult } from '../../core/bundle.js';
import type { ProofResult } from '../../core/proof.js';

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
  | { id: number; kind: 'ready' }
  | { id: number; kind: 'progress'; done: number; total: number }
  | { id: number; kind: 'proof'; ms: number; result: ProofResult }
  | { id: number; kind: 'bundle'; ms: number; result: BundleResult }
  /** A proof that failed, a file that is not JSON, or a verifier fault. */
  | { id: number; kind: 'failed'; ms: number; type: string | null; failure: Failure };

export type VerifyOutcome = Exclude<VerifyResponse, { kind: 'ready' } | { kind: 'progress' }>;

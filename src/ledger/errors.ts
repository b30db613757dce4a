import { isRfc3339Utc } from '../core/link.js';
// Every refusal the ledger makes has a name; http/plugins/problems.ts maps each to an HTTP status and
// an RFC 9457 problem type https://proof-of-process.dev/problems/<code>. Messages never include
// private data: they name fields, steps and keys, not values.

export const LEDGER_ERRORS = {
  malformed: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  gone: 410,
  'too-large': 413,
  'unsupported-media-type': 415,
  'rate-limited': 429,
  conflict: 409,
  'stale-head': 409,
  'process-invalid': 422,
  'unknown-process': 422,
  'unknown-step': 422,
  'schema-violation': 422,
  'private-schema-violation': 422,
  'disclosure-invalid': 422,
  'hash-mismatch': 422,
  'signature-invalid': 422,
  'unknown-key': 422,
  'key-revoked': 422,
  'key-expired': 422,
  'key-invalid': 422,
  'author-not-allowed': 422,
  'signer-missing': 422,
  'transition-not-allowed': 422,
  'unknown-ref': 422,
  'clock-skew': 422,
  'unknown-participant': 422,
  unavailable: 503,
} as const;

export type LedgerCode = keyof typeof LEDGER_ERRORS;

export class LedgerError extends Error {
  readonly code: LedgerCode;
  /** Extra members for the problem document (e.g. the failing batch index, schema paths). */
  readonly details: Record<string, unknown>;
  constructor(code: LedgerCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'LedgerError';
    this.code = code;
    this.details = details;
  }
}

/** An RFC 3339 UTC instant that exists and that PostgreSQL can store (year 1 or later). */
export function isStorableInstant(text: string): boolean {
  return isRfc3339Utc(text) && !text.startsWith('0000');
}

export function refuse(code: LedgerCode, message: string, details?: Record<string, unknown>): never {
  throw new LedgerError(code, message, details);
}

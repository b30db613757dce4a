// Exit codes of the `pop` command, documented in README.md. Verification failures get one code each
// (10 + the code's position in VERIFICATION_CODES), so scripts can branch without parsing output.
import { VERIFICATION_CODES, type VerificationCode } from '../core/errors.js';

export const EXIT = {
  ok: 0,
  usage: 2, // bad arguments, unreadable or non-JSON input
  notChecked: 3, // everything checked held, but part of the file could not be checked yet
  refused: 4, // the service answered with a problem (4xx/5xx); the message names its type
  unreachable: 5, // the service at POP_URL could not be reached
} as const;

export function exitCodeFor(code: VerificationCode): number {
  return 10 + VERIFICATION_CODES.indexOf(code);
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

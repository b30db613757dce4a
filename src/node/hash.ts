// SHA-256 by node:crypto for the server and the CLI: the same digests as core's portable one
// (@noble/hashes), several times faster. Core takes it where a caller passes a hash function.
import { hash } from 'node:crypto';

export const nodeSha256 = (data: Uint8Array): Uint8Array => hash('sha256', data, 'buffer');

/** SHA-256 of a string's UTF-8 bytes, as lowercase hex. */
export const nodeSha256Hex = (text: string): string => hash('sha256', text, 'hex');

// Private data and selective disclosure (spec §3, SD-JWT's idea applied to links). For each top-level
// field k of the private payload: disclosure = JCS([saltHex, k, value]) with a fresh 32-byte salt,
// digest = SHA-256(disclosure). The link carries the sorted digests; handing over one disclosure
// reveals one field, and erasing the payload and salts leaves every proof valid.
import { toHex } from './bytes.js';
import { fail } from './errors.js';
import { sha256Hex } from './hash.js';
import { type Json, canonicalJson } from './jcs.js';

export const SALT_BYTES = 32;
const SALT = /^[0-9a-f]{64}$/;

export interface Disclosure {
  field: string;
  value: Json;
  salt: string;
  disclosure: string;
  digest: string;
}

export function makeDisclosure(salt: string, field: string, value: Json): Disclosure {
  if (!SALT.test(salt)) throw new TypeError('salt must be 32 bytes of lowercase hex');
  const disclosure = canonicalJson([salt, field, value]);
  return { field, value, salt, disclosure, digest: sha256Hex(disclosure) };
}

/**
 * Disclosures for every top-level field, and the sorted digests for the link. The random source is
 * passed in (core owns none); a source that repeats a salt is refused, since equal salts would let a
 * reader link equal values across fields.
 */
export function createDisclosures(
  data: Record<string, Json>,
  random: (n: number) => Uint8Array,
): { disclosures: Disclosure[]; digests: string[] } {
  const salts = new Set<string>();
  const disclosures = Object.keys(data)
    .sort()
    .map((field) => {
      const salt = toHex(random(SALT_BYTES));
      if (salt.length !== SALT_BYTES * 2 || salts.has(salt)) throw new Error('random source repeated a salt');
      salts.add(salt);
      return makeDisclosure(salt, field, data[field]!);
    });
  return { disclosures, digests: disclosures.map((d) => d.digest).sort() };
}

/**
 * Parses a disclosure string and checks it is canonical; throws DISCLOSURE_INVALID. `hashHex` is
 * SHA-256 to hex: the service passes node:crypto's (faster than the portable default).
 */
export function parseDisclosure(disclosure: string, hashHex: (text: string) => string = sha256Hex): Disclosure {
  let parsed: unknown;
  try {
    parsed = JSON.parse(disclosure);
  } catch {
    return fail('DISCLOSURE_INVALID', 'disclosure is not JSON');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) fail('DISCLOSURE_INVALID', 'disclosure is not [salt, field, value]');
  const [salt, field, value] = parsed as [unknown, unknown, Json];
  if (typeof salt !== 'string' || !SALT.test(salt)) fail('DISCLOSURE_INVALID', 'salt is not 32 bytes of lowercase hex');
  if (typeof field !== 'string') fail('DISCLOSURE_INVALID', 'field name is not a string');
  let canonical: string;
  try {
    canonical = canonicalJson(parsed);
  } catch {
    return fail('DISCLOSURE_INVALID', 'disclosure is not I-JSON');
  }
  // A non-canonical spelling (spaces, duplicate keys, escapes) would give another digest for the same
  // content; only the exact canonical bytes are accepted.
  if (canonical !== disclosure) fail('DISCLOSURE_INVALID', 'disclosure is not in canonical (RFC 8785) form');
  return { field, value, salt, disclosure, digest: hashHex(disclosure) };
}

/** Checks a disclosure against a link's digests; returns the disclosed field and value. */
export function verifyDisclosure(disclosure: string, digests: readonly string[]): { field: string; value: Json } {
  const d = parseDisclosure(disclosure);
  if (!digests.includes(d.digest)) fail('DISCLOSURE_INVALID', `disclosure of "${d.field}" is not among the link's digests`);
  return { field: d.field, value: d.value };
}

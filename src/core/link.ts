// Links: identity (linkHash = SHA-256(JCS(link))) and the checks a schema cannot express.
import type { Link, Signature } from '../generated/schemas.js';
import { fromHex } from './bytes.js';
import { fail } from './errors.js';
import { sha256Hex } from './hash.js';
import { canonicalJson } from './jcs.js';
import { SCHEMA_IDS, assertSchema } from './schema.js';
import { type Alg, type SignatureVerifier, linkMessage } from './signature.js';

export type { Link, Signature };

export function linkHash(link: Link): string {
  return sha256Hex(canonicalJson(link));
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?Z$/;

/** A real calendar instant (the schema checks only the shape); leap seconds are refused. */
export function isRfc3339Utc(text: string): boolean {
  const m = RFC3339.exec(text);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  const days = new Uint8Array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (mo === 2 && leap ? 29 : days[mo - 1]!);
}

/** Schema plus semantic checks; throws MALFORMED. Returns the link, typed. */
export function checkLink(value: unknown): Link {
  return checkLinkCanonical(value).link;
}

/** checkLink, also returning JCS(link): the text whose SHA-256 is the link's hash (computed once). */
export function checkLinkCanonical(value: unknown): { link: Link; canonical: string } {
  assertSchema<Link>(SCHEMA_IDS.link, value, 'link');
  const canonical = canonicalJson(value); // also refuses non-I-JSON content (lone surrogates, huge nesting) in meta
  if (!isRfc3339Utc(value.createdAt)) fail('MALFORMED', `link: createdAt ${value.createdAt} is not a real instant`);
  for (let i = 1; i < value.digests.length; i++) {
    if (value.digests[i - 1]! >= value.digests[i]!) fail('MALFORMED', 'link: digests must be sorted and unique');
  }
  return { link: value, canonical };
}

/** Verifies one signature over a link hash with a given key. */
export function verifyLinkSignature(
  verifier: SignatureVerifier,
  linkHashHex: string,
  alg: Alg,
  publicKeyHex: string,
  sigHex: string,
): boolean {
  return verifier.verify(alg, fromHex(publicKeyHex), linkMessage(linkHashHex), fromHex(sigHex));
}

// RFC 8785 (JCS) canonical JSON via the `canonicalize` package. The package is lenient where JSON.stringify
// is (it drops `undefined`, calls toJSON, turns Dates into strings); anything we hash must be plain
// I-JSON, so we check that first and refuse the rest instead of silently transforming it.
import canonicalize from 'canonicalize';
import { utf8 } from './bytes.js';
import { fail } from './errors.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const MAX_DEPTH = 64;

function assertPlainJson(value: unknown, depth: number, path: string): void {
  if (depth > MAX_DEPTH) fail('MALFORMED', `${path}: nested deeper than ${MAX_DEPTH}`);
  switch (typeof value) {
    case 'boolean':
      return;
    case 'string':
      return; // lone surrogates are refused by canonicalize itself
    case 'number':
      if (!Number.isFinite(value)) fail('MALFORMED', `${path}: number is not finite`);
      return;
    case 'object': {
      if (value === null) return;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) fail('MALFORMED', `${path}: not a plain array`);
        if (Reflect.ownKeys(value).length !== value.length + 1) fail('MALFORMED', `${path}: array with extra properties`);
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) fail('MALFORMED', `${path}[${i}]: hole in array`);
          assertPlainJson(value[i], depth + 1, `${path}[${i}]`);
        }
        return;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) fail('MALFORMED', `${path}: not a plain object`);
      if (Object.getOwnPropertySymbols(value).length > 0) fail('MALFORMED', `${path}: symbol-keyed property`);
      if ('toJSON' in value) fail('MALFORMED', `${path}: object with toJSON`);
      for (const [k, v] of Object.entries(value)) assertPlainJson(v, depth + 1, `${path}.${k}`);
      return;
    }
    default:
      fail('MALFORMED', `${path}: ${typeof value} is not JSON`);
  }
}

/** The RFC 8785 canonical form of a plain JSON value, as a string. */
export function canonicalJson(value: unknown): string {
  assertPlainJson(value, 0, '$');
  try {
    return canonicalize(value) as string;
  } catch (e) {
    return fail('MALFORMED', `not I-JSON: ${(e as Error).message}`);
  }
}

/** The RFC 8785 canonical form as UTF-8 bytes: what gets hashed. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}

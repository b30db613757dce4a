import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createDisclosures, parseDisclosure, sha256Hex, verifyDisclosure, type Json } from '../../src/core/index.js';

let counter = 0;
const random = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + counter++) & 255);
const jsonValue = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as Json);

describe('selective disclosure', () => {
  test('every field disclosed alone verifies against the sorted digests, and nothing else does', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), jsonValue, { maxKeys: 6 }), (data) => {
        const { disclosures, digests } = createDisclosures(data, random);
        expect(digests).toEqual([...digests].sort());
        expect(digests).toHaveLength(Object.keys(data).length);
        for (const d of disclosures) {
          expect(d.digest).toBe(sha256Hex(d.disclosure));
          expect(verifyDisclosure(d.disclosure, digests)).toEqual({ field: d.field, value: data[d.field] });
          expect(() => verifyDisclosure(d.disclosure, digests.filter((x) => x !== d.digest))).toThrow(/not among/);
        }
      }),
    );
  });

  test('the disclosure is JCS([salt, field, value])', () => {
    const salt = 'ab'.repeat(32);
    const { disclosures } = createDisclosures({ b: { z: 1, a: [true, null] } }, () => Uint8Array.from({ length: 32 }, () => 0xab));
    expect(disclosures[0]!.disclosure).toBe(`["${salt}","b",{"a":[true,null],"z":1}]`);
  });

  test('a random source that repeats a salt is refused', () => {
    expect(() => createDisclosures({ a: 1, b: 2 }, (n) => new Uint8Array(n))).toThrow(/salt/);
  });

  test.each([
    ['not JSON', '["ab'],
    ['not an array', '{"a":1}'],
    ['two elements', `["${'ab'.repeat(32)}","a"]`],
    ['short salt', '["abcd","a",1]'],
    ['uppercase salt', `["${'AB'.repeat(32)}","a",1]`],
    ['field not a string', `["${'ab'.repeat(32)}",1,1]`],
    ['whitespace', `["${'ab'.repeat(32)}", "a",1]`],
    ['unsorted keys', `["${'ab'.repeat(32)}","a",{"b":1,"a":2}]`],
    ['duplicate keys', `["${'ab'.repeat(32)}","a",{"a":1,"a":2}]`],
    ['escaped letter', `["${'ab'.repeat(32)}","\\u0061",1]`],
  ])('refuses a disclosure that is %s', (_, text) => {
    expect(() => parseDisclosure(text)).toThrow(expect.objectContaining({ code: 'DISCLOSURE_INVALID' }));
  });
});

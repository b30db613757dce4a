import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { BodyError, MAX_DEPTH, MAX_MEMBERS, parseStrictJson } from '../../src/http/json-body.js';

describe('strict JSON bodies', () => {
  test('parses what JSON.parse parses when names are unique', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (v) => {
        const text = JSON.stringify(v);
        expect(parseStrictJson(text)).toEqual(JSON.parse(text));
      }),
    );
  });

  test.each([
    ['{"a":1,"a":2}'],
    ['{"x":{"meta":{"k":1,"k":1}}}'],
    ['{"a":1,"\\u0061":2}'],
    ['[{"a":1},{"b":2,"b":3}]'],
  ])('refuses duplicate member names: %s', (text) => {
    expect(() => parseStrictJson(text)).toThrow(BodyError);
  });

  test('equal names in different objects, and strings that look like names, are fine', () => {
    expect(parseStrictJson('{"a":{"a":1},"b":[{"a":2},{"a":3}],"c":"\\"a\\":1,\\"a\\""}')).toBeTruthy();
    expect(parseStrictJson('{"k":"{\\"k\\":1}","v":[",","{"]}')).toBeTruthy();
  });

  test('bounds nesting and members per object', () => {
    expect(() => parseStrictJson('['.repeat(MAX_DEPTH + 1) + ']'.repeat(MAX_DEPTH + 1))).toThrow(/deeper/);
    expect(parseStrictJson('['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH))).toBeTruthy();
    const many = Object.fromEntries(Array.from({ length: MAX_MEMBERS + 1 }, (_, i) => [`k${i}`, i]));
    expect(() => parseStrictJson(JSON.stringify(many))).toThrow(/members/);
  });

  test('not JSON is a BodyError, not a crash', () => {
    for (const text of ['', '{', '{"a":}', 'nul', '"\\ud800"x']) expect(() => parseStrictJson(text)).toThrow(BodyError);
  });
});

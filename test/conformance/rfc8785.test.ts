// RFC 8785 (JCS) against cyberphone/json-canonicalization's testdata (input → output, with outhex the
// authoritative bytes), the examples printed in RFC 8785 itself, and the values that are not I-JSON
// and must be refused (MALFORMED) rather than silently transformed.
import { basename } from 'node:path';
import { describe, expect, test } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/core/bytes.js';
import { VerificationError } from '../../src/core/errors.js';
import { canonicalBytes, canonicalJson } from '../../src/core/jcs.js';
import { describeVectors, listVectorFiles, readVector } from '../helpers/vectors.js';

const inputs = listVectorFiles('jcs/input', '.json');

/** outhex: whitespace-separated hex bytes. */
function parseOuthex(text: string): Uint8Array {
  return fromHex(text.split(/\s+/).filter(Boolean).join('').toLowerCase());
}

function expectMalformed(value: unknown): void {
  let caught: unknown;
  try {
    canonicalJson(value);
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a VerificationError').toBeInstanceOf(VerificationError);
  expect((caught as VerificationError).code).toBe('MALFORMED');
  expect(() => canonicalBytes(value)).toThrow(VerificationError);
}

describeVectors('conformance: RFC 8785 (JCS) - cyberphone/json-canonicalization testdata', () => {
  test('the loader found the input files, each with an output and an outhex', () => {
    expect(inputs.length).toBeGreaterThanOrEqual(6);
    for (const file of inputs) {
      const name = basename(file, '.json');
      expect(() => readVector(`jcs/output/${name}.json`)).not.toThrow();
      expect(() => readVector(`jcs/outhex/${name}.txt`)).not.toThrow();
    }
  });

  test.each(inputs)('%s', (file) => {
    const name = basename(file, '.json');
    const input = readVector(file);
    const output = readVector(`jcs/output/${name}.json`);
    const expectedBytes = parseOuthex(readVector(`jcs/outhex/${name}.txt`));
    // The output file may end with one newline that is not part of the canonical form; outhex decides.
    const keepNewline = expectedBytes[expectedBytes.length - 1] === 0x0a;
    const expectedText = output.endsWith('\n') && !keepNewline ? output.slice(0, -1) : output;
    expect(toHex(utf8(expectedText))).toBe(toHex(expectedBytes));

    const parsed: unknown = JSON.parse(input);
    expect(canonicalJson(parsed)).toBe(expectedText);
    expect(toHex(canonicalBytes(parsed))).toBe(toHex(expectedBytes));
    // canonical output is a fixed point
    expect(canonicalJson(JSON.parse(expectedText))).toBe(expectedText);
  });
});

describe('conformance: RFC 8785 (JCS) - examples from the RFC text', () => {
  // §3.2.2.3 and Appendix B: ECMAScript number serialisation.
  test.each([
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [-1, '-1'],
    [1e21, '1e+21'],
    [1e20, '100000000000000000000'],
    [0.000001, '0.000001'],
    [1e-7, '1e-7'],
    // eslint-disable-next-line no-loss-of-precision -- the RFC's example: the literal rounds to the nearest double
    [333333333.33333329, '333333333.3333333'],
    [1e30, '1e+30'],
    [4.5, '4.5'],
    [2e-3, '0.002'],
    [0.000000000000000000000000001, '1e-27'],
    [9007199254740992, '9007199254740992'],
    [9007199254740994, '9007199254740994'],
    [295147905179352830000, '295147905179352830000'],
    [5e-324, '5e-324'],
    [-5e-324, '-5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [-1.7976931348623157e308, '-1.7976931348623157e+308'],
    [9.999999999999997e-7, '9.999999999999997e-7'],
    [999999999999999700000, '999999999999999700000'],
    [1e23, '1e+23'],
    [0.1, '0.1'],
  ])('number %s serialises as %s', (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
    expect(canonicalJson([value])).toBe(`[${expected}]`);
  });

  test('Appendix B: numbers given as IEEE 754 bit patterns', () => {
    const cases: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [bits, expected] of cases) {
      const value = new DataView(fromHex(bits).buffer).getFloat64(0);
      expect(canonicalJson(value), bits).toBe(expected);
    }
  });

  test('§3.2.3 sorting: by UTF-16 code units, recursively, arrays keep their order', () => {
    // The RFC's example keys: "\u20ac" (Euro), "\r", "\ufb33" (Hebrew), "1", "\ud83d\ude00" (Smiley), "\u0080", "\u00f6".
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalJson(value)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    expect(canonicalJson({ b: [3, { z: 1, y: 2 }], a: null })).toBe('{"a":null,"b":[3,{"y":2,"z":1}]}');
  });

  test('§3.2.2.2 strings: only the mandatory escapes, short forms where JSON has them, otherwise UTF-8 as is', () => {
    expect(canonicalJson('\u20ac$\u000f\nA\'B"\\\\"/')).toBe('"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"');
    expect(canonicalJson('\b\f\n\r\t\u0000\u001f\u007f')).toBe('"\\b\\f\\n\\r\\t\\u0000\\u001f\u007f"');
    expect(canonicalJson('</script>')).toBe('"</script>"');
    expect(toHex(canonicalBytes('\u00e9\ud83d\ude02'))).toBe('22c3a9f09f988222');
  });

  test('§3.2.1 the §3.2.4 example in full', () => {
    const input =
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
      ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}';
    expect(canonicalJson(JSON.parse(input))).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  test('plain objects without a prototype are plain JSON too', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
    expect(canonicalJson(bare)).toBe('{"a":2,"b":1}');
  });
});

describe('conformance: RFC 8785 (JCS) - values that are not I-JSON are refused (MALFORMED)', () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  class WithToJSON {
    toJSON(): unknown {
      return { replaced: true };
    }
  }

  test.each<[string, () => unknown]>([
    ['NaN', () => NaN],
    ['Infinity', () => Infinity],
    ['-Infinity', () => -Infinity],
    ['NaN inside an array', () => [1, NaN]],
    ['Infinity inside an object', () => ({ a: { b: Infinity } })],
    ['undefined', () => undefined],
    ['an undefined property value', () => ({ a: 1, b: undefined })],
    ['undefined inside an array', () => [1, undefined]],
    ['a hole in an array', () => [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['a function', () => () => 1],
    ['a function as a property value', () => ({ f() {} })],
    ['a toJSON method on a plain object', () => ({ a: 1, toJSON: () => 'x' })],
    ['a Date', () => new Date(0)],
    ['a Date inside an object', () => ({ at: new Date(0) })],
    ['a lone high surrogate', () => '\ud800'],
    ['a lone low surrogate', () => 'a\udc00b'],
    ['a reversed surrogate pair', () => '\ude00\ud83d'],
    ['a lone surrogate in an object key', () => ({ '\ud83d': 1 })],
    ['a lone surrogate deep inside', () => ({ a: [{ b: 'x\udbff' }] })],
    ['a class instance', () => new Point(1, 2)],
    ['a class instance with toJSON', () => new WithToJSON()],
    ['a class instance inside an array', () => [new Point(1, 2)]],
    ['a Map', () => new Map([['a', 1]])],
    ['a Set', () => new Set([1])],
    ['a RegExp', () => /a/],
    ['a Uint8Array', () => new Uint8Array([1, 2])],
    ['a boxed string', () => new String('a')],
    ['a boxed number', () => new Number(1)],
    ['a bigint', () => 1n],
    ['a symbol', () => Symbol('s')],
    ['a symbol property value', () => ({ s: Symbol('s') })],
    ['an object nested 1000 deep', () => JSON.parse('['.repeat(1000) + ']'.repeat(1000)) as unknown],
    [
      'a cycle',
      () => {
        const o: Record<string, unknown> = {};
        o['self'] = o;
        return o;
      },
    ],
    // An array is checked element by element, but canonicalize calls an array's toJSON: the hashed
    // bytes would then be those of another value.
    [
      'an array carrying a toJSON method',
      () => Object.assign([1, 2], { toJSON: () => 'replaced' }),
    ],
    [
      'an instance of an Array subclass with toJSON',
      () => {
        class Replacing extends Array<number> {
          toJSON(): unknown {
            return 'replaced';
          }
        }
        return Replacing.from([1, 2]);
      },
    ],
  ])('%s', (_name, make) => {
    expectMalformed(make());
  });
});

// The step-schema bounds shared by the service and every verifier (src/core/schema-bounds.ts): a
// $ref is counted through only when it is a local JSON pointer, so anything else is refused —
// otherwise a fan-out through URI refs would escape the expansion bound and stall validation.
import { describe, expect, test } from 'vitest';
import { compileStepSchema, schemaBoundsViolation } from '../../src/core/schema-bounds.js';

/** 30 levels of allOf [d(n+1), d(n+1)]: 2^30 paths once expanded. */
function fanOut(ref: (i: number) => string, def: (i: number, body: object) => object = (_, b) => b, root: object = {}): object {
  const $defs: Record<string, object> = {};
  for (let i = 0; i < 30; i++) $defs[`d${i}`] = def(i, i === 29 ? { type: 'string' } : { allOf: [{ $ref: ref(i + 1) }, { $ref: ref(i + 1) }] });
  return { ...root, type: 'object', properties: { s: { $ref: ref(0) } }, $defs };
}

describe('schema bounds', () => {
  test('a fan-out through local pointers is refused by its expanded size', () => {
    expect(schemaBoundsViolation(fanOut((i) => `#/$defs/d${i}`))).toMatch(/expands to more than/);
  });

  test("a fan-out through the root $id's base URI is refused (not a local pointer)", () => {
    const schema = fanOut((i) => `https://example.test/root.json#/$defs/d${i}`, undefined, { $id: 'https://example.test/root.json' });
    expect(schemaBoundsViolation(schema)).toMatch(/not a local JSON pointer/);
  });

  test('a fan-out through nested $id (or $anchor) is refused', () => {
    expect(schemaBoundsViolation(fanOut((i) => `d${i}.json`, (i, b) => ({ $id: `d${i}.json`, ...b })))).toMatch(/declares \$id below its root|not a local JSON pointer/);
    expect(schemaBoundsViolation({ type: 'object', $defs: { a: { $id: 'a.json', type: 'string' } } })).toMatch(/declares \$id below its root/);
    expect(schemaBoundsViolation(fanOut((i) => `#a${i}`, (i, b) => ({ $anchor: `a${i}`, ...b })))).toMatch(/declares \$anchor below its root|not a local JSON pointer/);
  });

  test('$dynamicRef is refused; a $ref to nothing is refused', () => {
    expect(schemaBoundsViolation({ $dynamicRef: '#meta' })).toMatch(/\$dynamicRef/);
    expect(schemaBoundsViolation({ properties: { a: { $ref: '#/$defs/missing' } } })).toMatch(/not a local JSON pointer/);
  });

  test('ordinary schemas pass: local refs, a root $id, properties named like keywords', () => {
    const ok = {
      $id: 'https://example.test/step.json',
      type: 'object',
      properties: { a: { $ref: '#/$defs/amount' }, $id: { type: 'string' }, $ref: { type: 'integer' } },
      $defs: { amount: { type: 'number', minimum: 0 } },
    };
    expect(schemaBoundsViolation(ok)).toBeUndefined();
    const validate = compileStepSchema(ok);
    expect(validate({ a: 1, $id: 'x', $ref: 2 })).toBe(true);
    expect(validate({ a: -1 })).toBe(false);
  });
});

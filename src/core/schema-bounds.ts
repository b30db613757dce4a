// Step schemas are input from strangers: a partner's process definition at registration, and any
// bundled definition in an offline verifier (pop verify, the console). Compiling one, and running it
// over a link's meta, must not be able to stall either. So the service and every verifier share
// these rules (docs/protocol.md §10 step 6):
//   - `pattern` and `patternProperties` run on RE2 (re2js: linear time, no catastrophic
//     backtracking); ECMAScript-only syntax such as look-arounds and backreferences does not compile;
//   - a schema's size is bounded, counted with every $ref expanded, so that shared references that
//     fan out exponentially are caught;
//   - `uniqueItems` (quadratic) needs a `maxItems` of at most MAX_UNIQUE_ITEMS beside it.
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { RegExpEngine, ValidateFunction } from 'ajv/dist/types/index.js';
import { RE2JS } from 're2js';
import { AJV_OPTIONS } from './schema.js';

/** A process definition's size limit (as JSON text, in UTF-16 code units). */
export const MAX_DEFINITION_CHARS = 256 * 1024;
export const MAX_SCHEMA_NODES = 5_000;
export const MAX_EXPANDED_NODES = 50_000;
export const MAX_UNIQUE_ITEMS = 1_000;
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples']);
const ANCHOR_KEYWORDS = new Set(['$id', '$anchor', '$dynamicAnchor', '$recursiveAnchor']);

/** Ajv's regExp engine on RE2. Ajv caches compiled patterns under toString(): it names the pattern. */
export const re2RegExp: RegExpEngine = Object.assign(
  (pattern: string) => {
    const compiled = RE2JS.compile(pattern);
    return { test: (input: string) => compiled.matcher(input).find(), toString: () => `re2:${pattern}` };
  },
  { code: 're2RegExp' },
);

/** Ajv options for step schemas: core's (strict, never transforming), no remote refs, RE2 patterns. */
export const STEP_AJV_OPTIONS = { ...AJV_OPTIONS, allErrors: false, loadSchema: undefined, code: { regExp: re2RegExp } } as const;

/** A fresh Ajv for step schemas (check schemaBoundsViolation first). */
export function createStepAjv(): Ajv2020 {
  return new Ajv2020({ ...STEP_AJV_OPTIONS });
}

// One Ajv for all step schemas: each schema is compiled and then removed again, so that one step's
// $id can neither clash with nor be referenced by another's — as with a fresh instance per step —
// while the 2020-12 meta-schema is compiled once, not per step (a fresh Ajv per step spent ~93% of
// each compile on the meta-schema: 11 step schemas 306–504 ms, this way 14–16 ms).
// removeSchema does not free what Ajv's code generation keeps per compile (≈ 160 KiB for a large
// schema), so the instance is replaced every STEP_AJV_COMPILES compiles: validators already made
// keep working through their own closures.
let stepAjv: Ajv2020 | undefined;
let stepAjvCompiles = 0;
const STEP_AJV_COMPILES = 200;

/** Compiles a step schema (check schemaBoundsViolation first); throws Ajv's error if it does not compile. */
export function compileStepSchema(schema: object): ValidateFunction {
  if (stepAjv === undefined || ++stepAjvCompiles > STEP_AJV_COMPILES) {
    stepAjv = createStepAjv();
    stepAjvCompiles = 1;
  }
  try {
    return stepAjv.compile(schema);
  } finally {
    stepAjv.removeSchema(schema);
  }
}

function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined; // not a pointer Ajv can resolve either: it refuses the schema
    }
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * Why a step schema is out of bounds (e.g. "has more than 5000 subschemas"), or undefined when it is
 * within them. Pure and linear in the schema's size: each subschema is sized once (memoised), and a
 * $ref cycle counts once, since recursion follows the data, whose size the caller bounds.
 */
export function schemaBoundsViolation(schema: object): string | undefined {
  const memo = new Map<object, number>();
  const onPath = new Set<object>();
  let nodes = 0;
  let violation: string | undefined;
  const size = (node: unknown): number => {
    if (violation !== undefined || typeof node !== 'object' || node === null) return 0;
    const cached = memo.get(node);
    if (cached !== undefined) return cached;
    if (onPath.has(node)) return 1;
    if (++nodes > MAX_SCHEMA_NODES) {
      violation = `has more than ${MAX_SCHEMA_NODES} subschemas`;
      return 0;
    }
    onPath.add(node);
    const obj = node as Record<string, unknown>;
    if (obj['uniqueItems'] === true && !(typeof obj['maxItems'] === 'number' && obj['maxItems'] <= MAX_UNIQUE_ITEMS)) {
      violation = `uses uniqueItems without a maxItems of at most ${MAX_UNIQUE_ITEMS} beside it`;
      return 0;
    }
    let total = 1;
    for (const [key, value] of Object.entries(obj)) {
      if (DATA_KEYWORDS.has(key)) continue;
      // Only local JSON pointers are counted through, so only they are allowed: a $ref by URI (the
      // root's own $id, a nested $id or $anchor) or a dynamic ref would escape the expansion bound.
      if ((key === '$dynamicRef' || key === '$recursiveRef') && typeof value === 'string') {
        violation = `uses ${key}: only $ref to a local JSON pointer ("#/…") is allowed`;
        return 0;
      }
      if (ANCHOR_KEYWORDS.has(key) && typeof value === 'string' && node !== schema) {
        violation = `declares ${key} below its root: only $ref to a local JSON pointer ("#/…") is allowed`;
        return 0;
      }
      if (key === '$ref' && typeof value === 'string') {
        const target = value === '#' || value.startsWith('#/') ? resolvePointer(schema, value) : undefined;
        if (target === undefined) {
          violation = `has a $ref (${JSON.stringify(value.slice(0, 100))}) that is not a local JSON pointer ("#/…") to a part of the schema`;
          return 0;
        }
        total += size(target);
      } else if (Array.isArray(value)) for (const item of value) total += size(item);
      else total += size(value);
      if (violation !== undefined) return 0;
      if (total > MAX_EXPANDED_NODES) {
        violation = `expands to more than ${MAX_EXPANDED_NODES} subschemas (through its $refs)`;
        return 0;
      }
    }
    onPath.delete(node);
    memo.set(node, total);
    return total;
  };
  size(schema);
  return violation;
}

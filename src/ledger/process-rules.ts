// Process definitions (taxonomies): checked against schemas/process.json, then for consistency
// (roles and steps that exist, a step that starts a map), then every step schema is compiled. A bad
// definition is refused with the step and schema path at fault. Compiled validators are cached per
// (process, version): versions are immutable, so the cache never goes stale.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { RE2JS } from 're2js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { AJV_OPTIONS, SCHEMA_IDS, createAjv, describeErrors } from '../core/schema.js';
import type { ProcessDefinition } from '../core/index.js';
import { refuse } from './errors.js';

export type { ProcessDefinition };
export type StepDefinition = ProcessDefinition['steps'][string];

export interface CompiledStep {
  definition: StepDefinition;
  meta: ValidateFunction | undefined;
  private: ValidateFunction | undefined;
}

export interface CompiledProcess {
  id: string;
  version: number;
  hash: string;
  definition: ProcessDefinition;
  steps: Map<string, CompiledStep>;
}

const MAX_DEFINITION_BYTES = 256 * 1024;
const metaAjv = createAjv();

// Taxonomies are user input: a step schema must not be able to stall the service. `pattern` runs on
// RE2 (linear time; ECMAScript-only syntax such as look-arounds and backreferences is refused), and a
// schema's size — counted with every $ref expanded, so shared references that fan out exponentially
// are caught — is bounded, as is `uniqueItems` (quadratic) by a `maxItems` beside it.
const MAX_SCHEMA_NODES = 5_000;
const MAX_EXPANDED_NODES = 50_000;
const MAX_UNIQUE_ITEMS = 1_000;
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples']);

function re2(pattern: string): { test: (s: string) => boolean; toString: () => string } {
  const compiled = RE2JS.compile(pattern);
  // Ajv caches compiled patterns under toString(): it must name the pattern, or all patterns collide.
  return { test: (input: string) => compiled.matcher(input).find(), toString: () => `re2:${pattern}` };
}

/** A fresh Ajv for user-supplied step schemas: strict, never transforming, no remote refs, RE2 patterns. */
function stepAjv(): Ajv2020 {
  return new Ajv2020({ ...AJV_OPTIONS, allErrors: false, loadSchema: undefined, code: { regExp: re2 as never } });
}

function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Refuses step schemas too large, too expensive to expand, or with unbounded quadratic keywords. */
export function checkSchemaBounds(step: string, which: string, schema: object): void {
  const fail = (why: string): never => refuse('process-invalid', `step ${step}: the ${which} schema ${why}`, { step, schema: which, schemaPath: `/steps/${step}/${which}` });
  const memo = new Map<object, number>();
  const onPath = new Set<object>();
  let nodes = 0;
  const size = (node: unknown): number => {
    if (typeof node !== 'object' || node === null) return 0;
    const cached = memo.get(node);
    if (cached !== undefined) return cached;
    if (onPath.has(node)) return 1; // recursion follows the data, which the body limits bound
    if (++nodes > MAX_SCHEMA_NODES) fail(`has more than ${MAX_SCHEMA_NODES} subschemas`);
    onPath.add(node);
    const obj = node as Record<string, unknown>;
    if (obj['uniqueItems'] === true && !(typeof obj['maxItems'] === 'number' && obj['maxItems'] <= MAX_UNIQUE_ITEMS)) {
      fail(`uses uniqueItems without a maxItems of at most ${MAX_UNIQUE_ITEMS} beside it`);
    }
    let total = 1;
    for (const [key, value] of Object.entries(obj)) {
      if (DATA_KEYWORDS.has(key)) continue;
      if (key === '$ref' && typeof value === 'string') total += size(resolvePointer(schema, value));
      else if (Array.isArray(value)) for (const item of value) total += size(item);
      else total += size(value);
      if (total > MAX_EXPANDED_NODES) fail(`expands to more than ${MAX_EXPANDED_NODES} subschemas (through its $refs)`);
    }
    onPath.delete(node);
    memo.set(node, total);
    return total;
  };
  size(schema);
}

export function checkDefinition(value: unknown): ProcessDefinition {
  if (JSON.stringify(value)?.length > MAX_DEFINITION_BYTES) {
    refuse('too-large', `a process definition may not exceed ${MAX_DEFINITION_BYTES} bytes`);
  }
  // Bound the lists before the meta-schema runs: uniqueItems over a huge list is quadratic.
  const steps0 = (value as { steps?: unknown })?.steps;
  if (typeof steps0 === 'object' && steps0 !== null) {
    for (const [name, st] of Object.entries(steps0 as Record<string, unknown>)) {
      for (const list of ['authors', 'signers', 'after']) {
        const v = (st as Record<string, unknown> | null)?.[list];
        if (Array.isArray(v) && v.length > 128) refuse('process-invalid', `step ${name}: ${list} lists more than 128 entries`, { step: name });
      }
    }
  }
  const validate = metaAjv.getSchema(SCHEMA_IDS.process)!;
  if (!validate(value)) {
    refuse('process-invalid', `process definition: ${describeErrors(validate.errors)}`, { errors: publicErrors(validate.errors) });
  }
  const def = value as ProcessDefinition;
  const roles = new Set(def.roles);
  const steps = Object.entries(def.steps);
  for (const [name, step] of steps) {
    for (const role of [...step.authors, ...step.signers]) {
      if (!roles.has(role)) refuse('process-invalid', `step ${name}: role ${role} is not among the process roles`, { step: name });
    }
    for (const before of step.after) {
      if (!(before in def.steps)) refuse('process-invalid', `step ${name}: follows unknown step ${before}`, { step: name });
      if (def.steps[before]!.final) refuse('process-invalid', `step ${name}: follows ${before}, which is final`, { step: name });
    }
  }
  if (!steps.some(([, s]) => s.after.length === 0)) refuse('process-invalid', 'no step starts a map (a step with "after": [])');
  return def;
}

export function compileProcess(id: string, version: number, hash: string, definition: ProcessDefinition): CompiledProcess {
  const steps = new Map<string, CompiledStep>();
  for (const [name, step] of Object.entries(definition.steps)) {
    steps.set(name, {
      definition: step,
      meta: compileStepSchema(name, 'meta', step.meta),
      private: compileStepSchema(name, 'private', step.private),
    });
  }
  return { id, version, hash, definition, steps };
}

function compileStepSchema(step: string, which: 'meta' | 'private', schema: object | undefined): ValidateFunction | undefined {
  if (schema === undefined) return undefined;
  checkSchemaBounds(step, which, schema);
  try {
    return stepAjv().compile(schema);
  } catch (e) {
    return refuse('process-invalid', `step ${step}: the ${which} schema does not compile: ${(e as Error).message}`, {
      step,
      schema: which,
      schemaPath: `/steps/${step}/${which}`,
    });
  }
}

/** Validation errors safe to return: paths and keywords, never the offending values. */
export function publicErrors(errors: ErrorObject[] | null | undefined): { path: string; keyword: string; message: string }[] {
  return (errors ?? []).slice(0, 10).map((e) => ({ path: e.instancePath || '/', keyword: e.keyword, message: e.message ?? 'invalid' }));
}

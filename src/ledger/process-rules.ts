// Process definitions (taxonomies): checked against schemas/process.json, then for consistency
// (roles and steps that exist, a step that starts a map), then every step schema is compiled. A bad
// definition is refused with the step and schema path at fault. Compiled validators are cached per
// (process, version): versions are immutable, so the cache never goes stale.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { SCHEMA_IDS, createAjv, describeErrors } from '../core/schema.js';
import { MAX_DEFINITION_CHARS, compileStepSchema as compileBounded, schemaBoundsViolation } from '../core/schema-bounds.js';
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

const metaAjv = createAjv();

// Taxonomies are user input: a step schema must not be able to stall the service. The rules (RE2
// patterns, bounded size with $refs expanded, bounded uniqueItems) live in core/schema-bounds.ts,
// shared with the offline verifiers, which re-compile bundled definitions.

/** Refuses step schemas too large, too expensive to expand, or with unbounded quadratic keywords. */
export function checkSchemaBounds(step: string, which: string, schema: object): void {
  const violation = schemaBoundsViolation(schema);
  if (violation !== undefined) {
    refuse('process-invalid', `step ${step}: the ${which} schema ${violation}`, { step, schema: which, schemaPath: `/steps/${step}/${which}` });
  }
}

export function checkDefinition(value: unknown): ProcessDefinition {
  if (JSON.stringify(value)?.length > MAX_DEFINITION_CHARS) {
    refuse('too-large', `a process definition may not exceed ${MAX_DEFINITION_CHARS} bytes`);
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
    return compileBounded(schema);
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

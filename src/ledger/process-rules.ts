// Process definitions (taxonomies): checked against schemas/process.json, then for consistency
// (roles and steps that exist, a step that starts a map), then every step schema is compiled. A bad
// definition is refused with the step and schema path at fault. Compiled validators are cached per
// (process, version): versions are immutable, so the cache never goes stale.
import { Ajv2020 } from 'ajv/dist/2020.js';
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

/** A fresh Ajv for user-supplied step schemas: strict, never transforming, no remote refs. */
function stepAjv(): Ajv2020 {
  return new Ajv2020({ ...AJV_OPTIONS, allErrors: false, loadSchema: undefined });
}

export function checkDefinition(value: unknown): ProcessDefinition {
  if (JSON.stringify(value)?.length > MAX_DEFINITION_BYTES) {
    refuse('too-large', `a process definition may not exceed ${MAX_DEFINITION_BYTES} bytes`);
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

// The one Ajv configuration for anything hashed or signed: validate, never transform. No type
// coercion, no defaults, no property removal (Fastify's defaults do all three), strict schemas.
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { allSchemas, bundleSchema, linkSchema, processSchema, proofSchema } from '../generated/schemas.js';
import { fail } from './errors.js';

export const AJV_OPTIONS = {
  strict: true,
  allErrors: false,
  coerceTypes: false,
  useDefaults: false,
  removeAdditional: false,
  allowUnionTypes: true,
  validateFormats: false,
} as const;

/** A fresh Ajv instance with the protocol's options and schemas registered. */
export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ ...AJV_OPTIONS });
  for (const schema of allSchemas) ajv.addSchema(schema as object);
  return ajv;
}

let shared: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

function validator(id: string): ValidateFunction {
  let v = compiled.get(id);
  if (!v) {
    shared ??= createAjv();
    v = shared.getSchema(id);
    if (!v) throw new Error(`schema ${id} not registered`);
    compiled.set(id, v);
  }
  return v;
}

export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'invalid';
  const where = e.instancePath || '/';
  const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params['additionalProperty'])})` : '';
  return `${where} ${e.message ?? 'is invalid'}${extra}`;
}

/** Throws MALFORMED (naming the first failing path) unless `value` matches the schema. */
export function assertSchema<T>(schemaId: string, value: unknown, what: string): asserts value is T {
  const v = validator(schemaId);
  if (!v(value)) fail('MALFORMED', `${what}: ${describeErrors(v.errors)}`);
}

export const SCHEMA_IDS = {
  link: linkSchema.$id,
  process: processSchema.$id,
  proof: proofSchema.$id,
  bundle: bundleSchema.$id,
} as const;

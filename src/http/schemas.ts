// Route schemas: what Fastify validates (bodies with the strict, non-transforming Ajv) and what
// OpenAPI documents. Signed objects are re-validated by core against schemas/*.json.
export const name = { type: 'string', pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$' } as const;
export const hash = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
export const keyId = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' } as const;
export const mapId = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' } as const;
export const timestamp = {
  type: 'string',
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{1,9})?Z$',
} as const;

export const problem = {
  type: 'object',
  description: 'RFC 9457 problem details (application/problem+json)',
  properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' } },
} as const;

export const page = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    cursor: { type: 'string', maxLength: 512 },
  },
} as const;

export const signature = {
  type: 'object',
  additionalProperties: false,
  required: ['signer', 'keyId', 'alg', 'sig'],
  properties: {
    signer: name,
    keyId,
    alg: { enum: ['ed25519', 'ecdsa-secp256k1', 'ecdsa-p256'] },
    sig: { type: 'string', pattern: '^[0-9a-f]{128}$' },
  },
} as const;

export const submission = {
  type: 'object',
  additionalProperties: false,
  required: ['link', 'signatures'],
  properties: {
    link: { type: 'object', description: 'A link (schemas/link.json), exactly as signed' },
    signatures: { type: 'array', minItems: 1, maxItems: 16, items: signature },
    private: {
      type: 'object',
      additionalProperties: false,
      required: ['disclosures'],
      properties: {
        disclosures: {
          type: 'array',
          maxItems: 256,
          description: 'One disclosure JCS([salt, field, value]) per digest of the link',
          items: { type: 'string', maxLength: 262144 },
        },
      },
    },
  },
} as const;

export const newKey = {
  type: 'object',
  additionalProperties: false,
  required: ['keyId', 'alg', 'publicKey'],
  properties: {
    keyId,
    alg: { enum: ['ed25519', 'ecdsa-secp256k1', 'ecdsa-p256'] },
    publicKey: { type: 'string', pattern: '^[0-9a-f]{64,66}$' },
    expiresAt: timestamp,
  },
} as const;

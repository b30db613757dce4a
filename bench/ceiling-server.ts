// The ceiling: the irreducible work of accepting one signed link, with the service's libraries and
// none of its logic. Fastify parses the body, Ajv (2020, validate-only options) checks it against
// schemas/link.json and a signature shape, canonicalize gives the RFC 8785 bytes, node:crypto hashes
// them and verifies one Ed25519 signature (the KeyObject built once), and one INSERT stores the link
// on the same database (autocommit: one durable commit per link). Run as a child of bench/main.ts.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import canonicalize from 'canonicalize';
import Fastify from 'fastify';
import pg from 'pg';

const databaseUrl = process.env['BENCH_DATABASE_URL']!;
const table = process.env['BENCH_TABLE']!;
const publicKey = createPublicKey({
  key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(process.env['BENCH_PUBLIC_KEY']!, 'hex')]),
  format: 'der',
  type: 'spki',
});

const schema = (name: string) => JSON.parse(readFileSync(new URL(`../schemas/${name}`, import.meta.url), 'utf8')) as { $id: string };
const link = schema('link.json');
const signature = schema('signature.json');
const ajv = new Ajv2020({ strict: false, allErrors: false, coerceTypes: false, useDefaults: false, removeAdditional: false, allowUnionTypes: true, validateFormats: false });
ajv.addSchema(link);
ajv.addSchema(signature);
const body = {
  type: 'object',
  additionalProperties: false,
  required: ['link', 'signatures'],
  properties: {
    link: { $ref: link.$id },
    signatures: { type: 'array', minItems: 1, maxItems: 16, items: { $ref: signature.$id } },
    private: { type: 'object', required: ['disclosures'], properties: { disclosures: { type: 'array', items: { type: 'string' } } } },
  },
};

interface Body {
  link: unknown;
  signatures: { sig: string }[];
}

const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
const app = Fastify({ logger: false });
app.setValidatorCompiler(({ schema: s }) => ajv.compile(s));
app.post('/ceiling', { schema: { body } }, async (request, reply) => {
  const b = request.body as Body;
  const canonical = canonicalize(b.link) as string;
  const hash = createHash('sha256').update(canonical).digest('hex');
  if (!verify(null, Buffer.from(`pop:link:v1:${hash}`), publicKey, Buffer.from(b.signatures[0]!.sig, 'hex'))) {
    return reply.code(422).send({ error: 'signature' });
  }
  await pool.query(`INSERT INTO ${table} (hash, canonical, signatures) VALUES ($1, $2, $3)`, [hash, canonical, JSON.stringify(b.signatures)]);
  return reply.code(201).send({ linkHash: hash });
});

const address = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`ceiling listening on ${address}`);
const close = () => void app.close().then(() => pool.end()).then(() => process.exit(0));
process.on('SIGTERM', close);
process.on('SIGINT', close);

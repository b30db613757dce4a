// Hostile input, property-based (issue 9, item 2).
//
// Part 1 fuzzes every operation of the OpenAPI document the app generates (GET /docs/json): for each
// operation and for an admin key and a participant key, fast-check builds requests from the
// operation's own schemas (a valid example body, then mutated: wrong types, extra and missing members,
// huge strings and arrays, deep nesting, non-I-JSON numbers, unicode edge cases, invalid UTF-8 bytes,
// odd content types), odd path parameters and hostile query strings. Whatever arrives: never a 5xx,
// every 4xx is application/problem+json with a problem type, and every answer comes within a few
// seconds. Runs are seeded: FUZZ_SEED=<n> replays, FUZZ_RUNS=<n> runs per operation and key,
// FUZZ_SHRINK=1 shrinks a failure to a smaller input (slower).
//
// Part 2 registers hostile taxonomies (catastrophic regular expressions, enormous enums, deep and
// exponential $ref graphs, schemas huge in breadth, quadratic uniqueItems) on a real service running
// in a child process, so that a stalled event loop makes a test fail instead of hanging the run: the
// child's event loop is watched by a 20 ms heartbeat and /healthz is polled while each request runs.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Json, publicKeyFor, secretKeyFrom, toHex } from '../../src/core/index.js';
import { migrate } from '../../src/db/migrate.js';
import { type TestDatabase, createTestDatabase } from '../helpers/db.js';
import { type Party, ORDER_TO_CASH, VALID, makeSubmission, startTestService } from '../helpers/service.js';

const PROBLEM = 'https://proof-of-process.dev/problems/';
const envInt = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const SEED = envInt('FUZZ_SEED', 20_260_917);
const RUNS = envInt('FUZZ_RUNS', 15);
const SHRINK = process.env['FUZZ_SHRINK'] === '1';
/** Part 1: a request may take this long (generous: CI machines are slow and these bodies are big). */
const REQUEST_BUDGET_MS = envInt('FUZZ_REQUEST_MS', 5_000);
/** Part 2: a hostile taxonomy request must be answered this fast... */
const ANSWER_BUDGET_MS = envInt('FUZZ_ANSWER_MS', 2_000);
/** ...and the service's event loop may never be blocked longer than this meanwhile (a legitimate
 * 2 MB parse or a 200 KB schema compile takes ~0.3 s alone, up to ~1 s on a busy 2-core machine). */
const LOOP_BUDGET_MS = envInt('FUZZ_LOOP_MS', 1_500);

type Schema = Record<string, unknown>;
interface Param { name: string; in: 'path' | 'query'; schema: Schema }
interface Operation { method: string; path: string; params: Param[]; body: Schema | undefined; label: string }
type Key = 'admin' | 'participant';
interface FuzzRequest {
  key: Key;
  method: string;
  url: string;
  payload?: string | Buffer;
  contentType?: string;
  describe: string;
}

// ---------------------------------------------------------------------------------------------------
// Part 1 setup. The service starts at collection time: the tests are generated from its OpenAPI.

const svc = await startTestService();
const customer = svc.parties['customer']!;
const retailer = svc.parties['retailer']!;

const seeded = makeSubmission(customer, { step: 'order', mapId: 'fuzz-seed-1', ...VALID['order'] });
{
  const r = await svc.request('POST', '/v1/links', { body: seeded.body });
  if (r.status !== 201) throw new Error(`seeding a link: ${r.body}`);
  await svc.sealer({ difficulty: 4 }).sealOnce();
}
// Keys the fuzzer may revoke or delete without weakening the rest of the run.
const spareApiKey = await svc.request('POST', '/v1/api-keys', { body: { role: 'auditor', label: 'fuzz: may be deleted' } });
const spareApiKeyId = spareApiKey.json['id'] as string;
await svc.request('POST', '/v1/participants/customer/keys', { body: { keyId: 'customer-2', alg: 'ed25519', publicKey: retailer.publicKey } });
/** Signed submissions for the link routes to start from (signed once: signing is not what is fuzzed). */
const submissions = Array.from({ length: 4 }, (_, i) => makeSubmission(customer, { step: 'order', mapId: `fuzz-base-${i}`, ...VALID['order'] }).body);

const openapi = (await svc.request('GET', '/docs/json', { key: null })).json as { paths: Record<string, Record<string, { parameters?: Param[]; requestBody?: { content: Record<string, { schema: Schema }> } }>> };
const operations: Operation[] = Object.entries(openapi.paths ?? {}).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, o]) => ({
    method: method.toUpperCase(),
    path,
    params: (o.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query'),
    body: o.requestBody?.content['application/json']?.schema,
    label: `${method.toUpperCase()} ${path}`,
  })),
);

// ---------------------------------------------------------------------------------------------------
// Valid examples, from the schemas (and the few opaque bodies the schemas only name).

const PATTERN_EXAMPLES: Record<string, string> = {
  '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$': 'customer',
  '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$': 'fuzz-key-1',
  '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$': 'fuzz-seed-1',
  '^[0-9a-f]{64,66}$': retailer.publicKey,
  '^[0-9a-f]{64}$': seeded.hash,
  '^[0-9a-f]{128}$': 'ab'.repeat(64),
  '^key_[0-9a-f]{16}$': spareApiKeyId,
};

function example(schema: Schema | undefined): Json {
  if (!schema) return {};
  if ('const' in schema) return schema['const'] as Json;
  if (Array.isArray(schema['enum'])) return schema['enum'][0] as Json;
  const type = Array.isArray(schema['type']) ? schema['type'][0] : schema['type'];
  switch (type) {
    case 'object': {
      const out: Record<string, Json> = {};
      for (const [k, s] of Object.entries((schema['properties'] ?? {}) as Record<string, Schema>)) out[k] = example(s);
      return out;
    }
    case 'array':
      return Array.from({ length: Math.max(1, Number(schema['minItems'] ?? 1)) }, () => example(schema['items'] as Schema));
    case 'integer':
    case 'number':
      return Number(schema['minimum'] ?? 1);
    case 'boolean':
      return true;
    case 'string': {
      const pattern = schema['pattern'] as string | undefined;
      if (pattern && /\[0-9\]\{4\}-/.test(pattern)) return '2099-01-01T00:00:00Z';
      return pattern ? (PATTERN_EXAMPLES[pattern] ?? 'x') : 'fuzz';
    }
    default:
      return {};
  }
}

function baseBodies(op: Operation): Json[] {
  if (op.path === '/v1/processes') return [ORDER_TO_CASH as Json, { ...(ORDER_TO_CASH as Record<string, Json>), id: 'fuzz-process' }];
  if (op.path === '/v1/processes/{id}/versions') return [ORDER_TO_CASH as Json];
  if (op.path === '/v1/links') return submissions as unknown as Json[];
  if (op.path === '/v1/links/batch') return [{ links: submissions } as unknown as Json, { links: [submissions[0]!] } as unknown as Json];
  if (op.path.endsWith('/revoke')) return [{ reason: 'fuzz' }, {}];
  if (op.path.endsWith('/disclosures')) return [{ reader: spareApiKeyId, fields: ['name'] }];
  return [example(op.body)];
}

function validParam(op: Operation, p: Param): string {
  if (p.in === 'path') {
    if (p.name === 'id') return op.path.startsWith('/v1/processes') ? 'order-to-cash' : op.path.startsWith('/v1/api-keys') ? spareApiKeyId : 'customer';
    if (p.name === 'keyId') return 'customer-2';
    if (p.name === 'hash') return seeded.hash;
    if (p.name === 'process') return 'order-to-cash';
    if (p.name === 'mapId') return 'fuzz-seed-1';
    if (p.name === 'height') return '0';
  }
  if (p.name === 'limit') return '10';
  if (p.name === 'version') return '1';
  if (p.name === 'process') return 'order-to-cash';
  if (p.name === 'cursor') return Buffer.from(JSON.stringify('a')).toString('base64url');
  const v = example(p.schema);
  return encodeURIComponent(String(Array.isArray(v) ? v[0] : v));
}

// ---------------------------------------------------------------------------------------------------
// Hostile values. Tokens that JSON.stringify cannot produce (non-I-JSON numbers, raw escapes) and raw
// bytes that are not UTF-8 travel as sentinel strings, swapped in after serialization.

const RAW_TOKENS = [
  '-0', '1e308', '-1e308', '1e400', '-1e400', '1e-400', '5e-324', '123456789012345678901234567890', '9007199254740993', '1E+2', '0.1e1',
  'NaN', 'Infinity', '-Infinity', 'undefined', '0x10', '01', '+1', '.5', '"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"a\\u0000b"',
  '"\\uFFFF"', '"\\/"', "'single'", '"\\x41"', '"\\u12"',
];
const INVALID_UTF8 = [
  [0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0x80],
  [0xbf, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], [0x00], [0xef, 0xbb, 0xbf],
].map((b) => Buffer.from(b));
const rawToken = (i: number) => `@@RAW:${i}@@`;
const bytesToken = (i: number) => `@@BYTES:${i}@@`;

const UNICODE = [
  '\ud800', '\udc00', '\udbff', 'a\ud800b', '\udfff\ud800', '\u0000', 'a\u0000', '\u200f', '\u202e', '\u2066abc\u2069', '\ufeff', '\u2028\u2029',
  '👩‍👩‍👧‍👦', '🏳️‍🌈', 'e\u0301', 'ﷺ', '\uffff', '\ufffe', '\ufdd0', 'İ', 'ß', '\u0085', '\u007f', '\u001b[31m', '%00', '${7*7}', '{{7*7}}',
  '<script>alert(1)</script>', "'; DROP TABLE links;--", '../../etc/passwd', 'Ω', '\u3000',
];

const unicodeString = fc.oneof(
  fc.constantFrom(...UNICODE),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.array(fc.constantFrom(...UNICODE), { minLength: 2, maxLength: 8 }).map((a) => a.join('')),
);

const hugeString = fc
  .tuple(fc.constantFrom(1_000, 100_000, 1_000_000, 3_000_000), fc.constantFrom('a', 'é', '😀', '\ud800', '\u0000', '"', '\\', ' '))
  .map(([n, c]) => c.repeat(n));

const hugeArray: fc.Arbitrary<Json> = fc
  .tuple(fc.constantFrom(1_000, 10_000, 100_000), fc.constantFrom('zero', 'ints', 'strings', 'objects', 'arrays'))
  .map(([n, kind]) =>
    Array.from({ length: n }, (_, i): Json => (kind === 'zero' ? 0 : kind === 'ints' ? i : kind === 'strings' ? `s${i}` : kind === 'objects' ? { i } : [i])),
  );

const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, -2147483649, 2 ** 53 + 2, '', '0', '-1', 'true', 'null', 'NaN', '1e308', '[]', '{}'),
  fc.nat({ max: RAW_TOKENS.length - 1 }).map(rawToken),
  fc.nat({ max: INVALID_UTF8.length - 1 }).map(bytesToken),
  unicodeString,
  fc.double(),
  fc.integer(),
);

const deepNest: fc.Arbitrary<Json> = fc
  .tuple(fc.integer({ min: 1, max: 100 }), fc.constantFrom('object', 'array', 'mixed'), scalar)
  .map(([depth, kind, leaf]) => {
    let v: Json = leaf;
    for (let i = 0; i < depth; i++) v = kind === 'array' || (kind === 'mixed' && i % 2) ? [v] : { a: v };
    return v;
  });

const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  { arbitrary: scalar, weight: 6 },
  { arbitrary: fc.constantFrom<Json>([], {}, [null], { '': null }, [[]], [{}]), weight: 2 },
  { arbitrary: hugeString, weight: 1 },
  { arbitrary: hugeArray, weight: 1 },
  { arbitrary: deepNest, weight: 2 },
  { arbitrary: fc.json({ maxDepth: 4 }).map((s) => JSON.parse(s) as Json), weight: 2 },
);

const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', '', ' ', 'toString', 'hasOwnProperty', '$ref', 'extra', 'a'.repeat(10_000)),
  unicodeString,
);

type Mutation =
  | { kind: 'replace'; at: number; value: Json }
  | { kind: 'add'; at: number; key: string; value: Json }
  | { kind: 'delete'; at: number }
  /** Shape-preserving: a string of the body replaced by, or extended with, a unicode edge case. */
  | { kind: 'unicode'; at: number; text: string; append: boolean };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: hostileValue }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: hostileKey, value: hostileValue }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('unicode' as const), at: fc.nat(), text: fc.constantFrom(...UNICODE), append: fc.boolean() }), weight: 3 },
);

type Path = (string | number)[];
function paths(v: Json, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (out.length > 2_000) return out; // bases are small; mutated bodies may not be
  if (Array.isArray(v)) v.slice(0, 50).forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

function setOwn(o: Record<string, Json> | Json[], key: string | number, value: Json): void {
  // defineProperty, so that "__proto__" becomes a real member and not the prototype.
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function at(v: Json, path: Path): Json {
  return path.reduce<Json>((x, step) => (x as Record<string, Json>)[step as string]!, v);
}

/** The paths a mutation may land on: any, or for a unicode mutation only those holding a string. */
function targets(base: Json, m: Mutation): Path[] {
  const all = paths(base);
  if (m.kind !== 'unicode') return all;
  const strings = all.filter((p) => typeof at(base, p) === 'string');
  return strings.length ? strings : all;
}

/** Where a mutation lands, as a JSON pointer (for the failure report). */
function pointer(base: Json, m: Mutation): string {
  const all = targets(base, m);
  return all[m.at % all.length]!.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1').slice(0, 40)}`).join('') || '/';
}

function mutate(base: Json, m: Mutation): Json {
  const all = targets(base, m);
  const path = all[m.at % all.length]!;
  const root = structuredClone(base);
  if (m.kind === 'unicode') {
    const old = at(root, path);
    const value = m.append && typeof old === 'string' ? old + m.text : m.text;
    if (path.length === 0) return value;
    setOwn(at(root, path.slice(0, -1)) as Record<string, Json>, path[path.length - 1]!, value);
    return root;
  }
  if (m.kind === 'add') {
    const target = at(root, path);
    if (Array.isArray(target)) target.push(m.value);
    else if (target && typeof target === 'object') setOwn(target, m.key, m.value);
    else {
      // a scalar becomes an object holding the new member
      const holder: Record<string, Json> = {};
      setOwn(holder, m.key, m.value);
      if (path.length === 0) return holder;
      setOwn(at(root, path.slice(0, -1)) as Record<string, Json>, path[path.length - 1]!, holder);
    }
    return root;
  }
  if (path.length === 0) return m.kind === 'replace' ? m.value : {};
  const parent = at(root, path.slice(0, -1)) as Record<string, Json> | Json[];
  const last = path[path.length - 1]!;
  if (m.kind === 'replace') setOwn(parent, last, m.value);
  else if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete parent[last as string];
  return root;
}

/** JSON text with the sentinels swapped for their raw tokens, or a Buffer when bytes are involved. */
function serialize(value: Json, spliceBytes: { at: number; bytes: number } | null): string | Buffer {
  const text = JSON.stringify(value).replace(/"@@RAW:(\d+)@@"/g, (_, i: string) => RAW_TOKENS[Number(i)]!);
  const parts = text.split(/@@BYTES:(\d+)@@/);
  if (parts.length === 1 && !spliceBytes) return text;
  const bufs = parts.map((p, i) => (i % 2 ? INVALID_UTF8[Number(p)]! : Buffer.from(p, 'utf8')));
  let out = Buffer.concat(bufs);
  if (spliceBytes) {
    const at = spliceBytes.at % (out.length + 1);
    out = Buffer.concat([out.subarray(0, at), INVALID_UTF8[spliceBytes.bytes % INVALID_UTF8.length]!, out.subarray(at)]);
  }
  return out;
}

const WHOLE_BODIES = ['null', '[]', '""', '0', 'true', '{}', '[{}]', ' ', '\ufeff{}', '{', '}', '[[[[[[[[[[', '{"__proto__":{"admin":true}}', '{"a":1}x', '\u0000'];
const CONTENT_TYPES = [
  'application/json', 'application/json', 'application/json', 'application/json', 'application/json', 'application/json; charset=utf-8',
  'application/json;charset=UTF-8', 'application/json; charset="utf-8"', 'application/json; charset=latin1', 'APPLICATION/JSON',
  'application/json; charset=utf-16', 'application/problem+json', 'text/plain', 'application/json; boundary=x',
];

function bodyArb(op: Operation): fc.Arbitrary<{ payload: string | Buffer; contentType: string; describe: string }> {
  const mutated = fc
    .record({
      base: fc.constantFrom(...baseBodies(op)),
      mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      splice: fc.oneof({ arbitrary: fc.constant(null), weight: 5 }, { arbitrary: fc.record({ at: fc.nat(), bytes: fc.nat() }), weight: 1 }),
    })
    .map(({ base, mutations, splice }) => {
      const steps: string[] = [];
      const value = mutations.reduce((v, m) => (steps.push(describeMutation(m, pointer(v, m))), mutate(v, m)), base);
      return { payload: serialize(value, splice), describe: `mutations:\n    ${steps.join('\n    ')}${splice ? `\n    + invalid UTF-8 bytes spliced at offset ${splice.at}` : ''}` };
    });
  const whole = fc.constantFrom(...WHOLE_BODIES).map((payload) => ({ payload, describe: `whole body ${JSON.stringify(payload)}` }));
  return fc
    .tuple(fc.oneof({ arbitrary: mutated, weight: 9 }, { arbitrary: whole, weight: 1 }), fc.constantFrom(...CONTENT_TYPES))
    .map(([b, contentType]) => ({ ...b, contentType }));
}

function describeMutation(m: Mutation, where: string): string {
  const v = 'value' in m ? JSON.stringify(m.value) : '';
  const short = v.length > 160 ? `${v.slice(0, 140)}…(${v.length} chars)` : v;
  if (m.kind === 'unicode') return `${m.append ? 'append to' : 'replace'} the string at ${where} ${m.append ? '' : 'with '}${JSON.stringify(m.text)}`;
  return m.kind === 'delete' ? `delete ${where}` : m.kind === 'add' ? `add to ${where} the member ${JSON.stringify(m.key.slice(0, 40))}: ${short}` : `replace ${where} with ${short}`;
}

// Path parameters and query strings.

const pctEncode = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');

const hostileSegment = fc.oneof(
  fc.constantFrom(
    '', '..', '.', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%2F', '%zz', '%', '%E0%A4%A', '%ED%A0%80', '%C0%AF', '%FF%FE', '%E2%80%AE',
    '%EF%BB%BF', '%F0%9F%91%A9%E2%80%8D%F0%9F%91%A9', '-1', '-0', '1e308', '9007199254740992', '99999999999999999999999', '0x10', '1.5',
    'NaN', 'Infinity', '%201', 'A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), '%20', '%09', 'null', 'undefined', '__proto__', 'constructor',
    '%24%7B7*7%7D', "'%20OR%201=1--", '%0d%0aX-Injected:%201', '%2500', ';', 'a;b=c', 'a?b', 'key_', 'key_0123456789ABCDEF',
  ),
  fc.integer({ min: 60, max: 6_000 }).map((n) => 'a'.repeat(n)),
  fc.string({ unit: 'binary', maxLength: 40 }).map(pctEncode),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent),
);

const JUNK_VALUES = [
  '', '-1', '0', '-0', '1e308', '-1e308', '1e400', '99999999999999999999999', '9007199254740993', '1.5', 'NaN', 'Infinity', '0x10', '%201',
  'true', 'null', '[]', '{}', '%zz', '%E0%A4%A', '%ED%A0%80', '%FF', '%E2%80%AE', 'a'.repeat(600), 'asc,desc', 'DESC', '%2C', '%26', '%3D',
];

function queryArb(op: Operation): fc.Arbitrary<string> {
  const names = op.params.filter((p) => p.in === 'query').map((p) => p.name);
  const key = fc.oneof(
    { arbitrary: names.length ? fc.constantFrom(...names) : fc.constant('limit'), weight: 4 },
    { arbitrary: fc.constantFrom('__proto__', 'constructor', 'a[]', 'limit[]', 'limit[0]', 'cursor[x]', '', '%E2%80%AE', 'x'.repeat(300), 'limit%00'), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 10 }).map(pctEncode), weight: 1 },
  );
  const value = fc.oneof(
    { arbitrary: fc.constantFrom(...JUNK_VALUES), weight: 4 },
    { arbitrary: fc.json({ maxDepth: 3 }).map((j) => Buffer.from(j).toString('base64url')), weight: 2 }, // a forged cursor
    { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map(pctEncode), weight: 1 },
    { arbitrary: fc.constant('@valid'), weight: 2 },
  );
  const pair = fc.tuple(key, value, fc.integer({ min: 1, max: 4 })).map(([k, v, n]) => {
    const val = v === '@valid' ? (op.params.find((p) => p.name === k) ? validParam(op, op.params.find((p) => p.name === k)!) : '1') : v;
    return Array.from({ length: n }, () => `${k}=${val}`).join('&');
  });
  return fc.oneof(
    { arbitrary: fc.constant(''), weight: 2 },
    { arbitrary: fc.array(pair, { minLength: 1, maxLength: 6 }).map((ps) => ps.join('&')), weight: 8 },
    { arbitrary: pair.map((p) => Array.from({ length: 2_000 }, () => p).join('&')), weight: 1 }, // repeated 2,000 times
  );
}

function requestArb(op: Operation, key: Key): fc.Arbitrary<FuzzRequest> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const segments = fc.tuple(...pathParams.map((p) => fc.oneof({ arbitrary: fc.constant(validParam(op, p)), weight: 2 }, { arbitrary: hostileSegment, weight: 3 })));
  const hasBody = op.body !== undefined || op.method === 'POST' || op.method === 'DELETE';
  const body = hasBody ? fc.option(bodyArb(op), { freq: op.body ? 12 : 2 }) : fc.constant(null);
  return fc.tuple(segments, queryArb(op), body).map(([values, query, b]) => {
    let i = 0;
    const path = op.path.replace(/\{[^}]+\}/g, () => values[i++]!);
    const url = query ? `${path}?${query}` : path;
    const bodyText = b ? (typeof b.payload === 'string' ? b.payload : b.payload.toString('latin1')) : '';
    return {
      key,
      method: op.method,
      url,
      ...(b ? { payload: b.payload, contentType: b.contentType } : {}),
      describe: `${op.method} ${url.length > 300 ? `${url.slice(0, 300)}…(${url.length} chars)` : url}` +
        (b ? `\n  content-type: ${b.contentType}\n  body (${b.payload.length} ${typeof b.payload === 'string' ? 'chars' : 'bytes'}): ${bodyText.slice(0, 400)}\n  ${b.describe}` : ''),
    };
  });
}

// Sending and checking.

const TIMEOUT = Symbol('timeout');
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<typeof TIMEOUT>((resolve) => (timer = setTimeout(() => resolve(TIMEOUT), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

interface Tally { requests: number; byStatus: Record<string, number>; slowestMs: number }
const problemTypes: Record<string, number> = {};
const tallies = new Map<string, Tally>();

/** Sends one request; returns what is wrong with the answer, or null. */
async function sendAndCheck(op: Operation, r: FuzzRequest): Promise<string | null> {
  const sse = op.path === '/v1/events';
  const started = performance.now();
  const logsBefore = svc.logs.length;
  const pending = svc.app.inject({
    method: r.method as 'GET',
    url: r.url,
    headers: {
      authorization: `Bearer ${r.key === 'admin' ? svc.adminKey : customer.apiKey}`,
      ...(r.contentType ? { 'content-type': r.contentType } : {}),
    },
    ...(r.payload !== undefined ? { payload: r.payload } : {}),
    ...(sse ? { payloadAsStream: true } : {}),
  });
  let res: LightMyRequestResponse | typeof TIMEOUT;
  try {
    res = await withTimeout(pending, REQUEST_BUDGET_MS);
  } catch (e) {
    return `the request failed without an answer: ${(e as Error).message}`;
  }
  let body = '';
  if (res !== TIMEOUT && sse) {
    if (res.statusCode === 200) {
      res.raw.res.req.emit('close'); // the client goes away: unsubscribe
      res.stream().destroy();
    } else {
      const chunks: Buffer[] = [];
      const read = (async () => {
        for await (const c of res.stream()) chunks.push(c as Buffer);
      })();
      if ((await withTimeout(read, REQUEST_BUDGET_MS)) === TIMEOUT) return `GET /v1/events answered ${res.statusCode} but its body never ended`;
      body = Buffer.concat(chunks).toString('utf8');
    }
  } else if (res !== TIMEOUT) body = res.body;
  const ms = performance.now() - started;
  const tally = tallies.get(op.label) ?? { requests: 0, byStatus: {}, slowestMs: 0 };
  tallies.set(op.label, tally);
  tally.requests++;
  tally.slowestMs = Math.max(tally.slowestMs, ms);
  if (res === TIMEOUT) {
    tally.byStatus['timeout'] = (tally.byStatus['timeout'] ?? 0) + 1;
    return `no answer within ${REQUEST_BUDGET_MS} ms`;
  }
  const status = res.statusCode;
  tally.byStatus[status] = (tally.byStatus[status] ?? 0) + 1;
  if (ms > REQUEST_BUDGET_MS) return `answered ${status} after ${Math.round(ms)} ms (the event loop was blocked: budget ${REQUEST_BUDGET_MS} ms)`;
  if (status >= 500) {
    const logged = svc.logs.slice(logsBefore).filter((l) => /"level":50/.test(l)).map((l) => l.slice(0, 600));
    return `answered ${status}: ${body.slice(0, 300)}\n  service log: ${logged.join('\n  ') || '(nothing logged)'}`;
  }
  if (status >= 400) {
    const type = String(res.headers['content-type'] ?? '');
    if (!type.startsWith('application/problem+json')) return `answered ${status} with content-type ${type || '(none)'}: ${body.slice(0, 300)}`;
    let problem: { type?: unknown; status?: unknown } = {};
    try {
      problem = JSON.parse(body) as typeof problem;
    } catch {
      return `answered ${status} with a problem that is not JSON: ${body.slice(0, 300)}`;
    }
    if (typeof problem.type !== 'string' || !problem.type.startsWith(PROBLEM)) return `answered ${status} with problem type ${String(problem.type)}: ${body.slice(0, 300)}`;
    if (problem.status !== status) return `answered ${status} but the problem says status ${String(problem.status)}`;
    const code = problem.type.slice(PROBLEM.length);
    problemTypes[code] = (problemTypes[code] ?? 0) + 1;
  }
  return null;
}

/** A stable per-operation seed, so one operation's failure replays alone. */
function seedFor(label: string): number {
  let h = SEED | 0;
  for (const c of label) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return h >>> 0;
}

/** The unicode edge cases every string of every body is swept with (part 1b). */
const SWEEP_TEXTS = ['\ud800', 'a\udc00\udbff', '\u0000', '\ufeff\u202e\u200f', '👩‍👩‍👧‍👦', '\uffff\ufdd0'];
const SWEEP_POSITIONS = 12;

/** Up to SWEEP_POSITIONS string positions of a body, spread evenly, plus the root for a new member. */
function sweepPositions(base: Json): Path[] {
  const strings = paths(base).filter((p) => typeof at(base, p) === 'string');
  const step = Math.max(1, strings.length / SWEEP_POSITIONS);
  return Array.from({ length: Math.min(SWEEP_POSITIONS, strings.length) }, (_, i) => strings[Math.floor(i * step)]!);
}

describe('fuzzing every operation of the OpenAPI document', () => {
  afterAll(async () => {
    const total = [...tallies.values()].reduce((n, t) => n + t.requests, 0);
    const lines = [...tallies.entries()].map(([op, t]) => `  ${op.padEnd(48)} ${String(t.requests).padStart(4)}  ${JSON.stringify(t.byStatus)}  slowest ${Math.round(t.slowestMs)} ms`);
    const types = Object.entries(problemTypes).sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n}`).join(', ');
    console.log(`fuzz: ${total} requests over ${tallies.size} operations (FUZZ_SEED=${SEED}, FUZZ_RUNS=${RUNS} per operation and key)\n${lines.join('\n')}\n  problem types: ${types}`);
  });

  test('the OpenAPI document lists the operations this suite expects', () => {
    const labels = operations.map((o) => o.label);
    expect(operations.length).toBeGreaterThanOrEqual(30);
    for (const l of ['POST /v1/processes', 'POST /v1/links', 'POST /v1/links/batch', 'GET /v1/links', 'GET /v1/maps/{process}/{mapId}', 'DELETE /v1/api-keys/{id}', 'GET /v1/blocks/{height}']) {
      expect(labels).toContain(l);
    }
  });

  // 1b. Deterministic and shape-preserving: each string of each operation's example body (up to 12,
  // spread evenly) replaced by each unicode edge case, and a new member named by it, so the values
  // reach the handlers instead of being stopped by the first schema check.
  for (const op of operations.filter((o) => o.body)) {
    test(`${op.label}: unicode edge cases in every string of the body`, async () => {
      const base = baseBodies(op)[0]!;
      const wrong = new Map<string, string[]>(); // what went wrong → the variants it went wrong for
      const url = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => validParam(op, op.params.find((p) => p.name === name)!));
      const variants: { value: Json; describe: string }[] = [];
      for (const text of SWEEP_TEXTS) {
        for (const path of sweepPositions(base)) {
          const m: Mutation = { kind: 'unicode', at: 0, text, append: false };
          const value = structuredClone(base);
          setOwn(at(value, path.slice(0, -1)) as Record<string, Json>, path[path.length - 1]!, text);
          variants.push({ value, describe: describeMutation(m, path.map((p) => `/${p}`).join('')) });
        }
        if (base && typeof base === 'object' && !Array.isArray(base)) {
          const value = structuredClone(base) as Record<string, Json>;
          setOwn(value, text, 'x');
          variants.push({ value, describe: `add to / the member ${JSON.stringify(text)}` });
        }
      }
      for (const v of variants) {
        const payload = JSON.stringify(v.value);
        const problem = await sendAndCheck(op, { key: 'admin', method: op.method, url, payload, contentType: 'application/json', describe: '' });
        if (!problem) continue;
        // one entry per distinct failure (status and logged error), with the variants that caused it
        const what = problem.replace(/"(time|pid|hostname|reqId)":[^,]*,/g, '').replace(/\s+/g, ' ');
        wrong.set(what, [...(wrong.get(what) ?? []), `${op.method} ${url}: ${v.describe}`]);
      }
      const failed = [...wrong.values()].reduce((n, v) => n + v.length, 0);
      const report = [...wrong.entries()].map(([what, vs]) => `${what}\n    for ${vs.length} variant(s), e.g.\n      ${vs.slice(0, 4).join('\n      ')}`);
      expect(report, `${failed} of ${variants.length} variants failed`).toEqual([]);
    }, 60_000);
  }

  for (const op of operations) {
    for (const key of ['admin', 'participant'] as const) {
      test(`${op.label} (${key} key)`, async () => {
        const seed = seedFor(`${op.label} ${key}`);
        let failure = '';
        const details = await fc.check(
          fc.asyncProperty(requestArb(op, key), async (r) => {
            const wrong = await sendAndCheck(op, r);
            if (wrong) {
              failure = `${wrong}\n  request (${key} key): ${r.describe}`;
              throw new Error(failure);
            }
          }),
          { seed, numRuns: RUNS, endOnFailure: !SHRINK, ...(SHRINK ? { interruptAfterTimeLimit: 40_000 } : {}) },
        );
        if (details.failed) {
          throw new Error(`${op.label} (${key} key) failed after ${details.numRuns} run(s): ${failure || (details.errorInstance as Error | undefined)?.message}\n` +
            `  replay: FUZZ_SEED=${SEED} (operation seed ${details.seed}, path ${details.counterexamplePath})`);
        }
      }, 60_000);
    }
  }
});

// ---------------------------------------------------------------------------------------------------
// Part 2: hostile taxonomies, against a service in a child process.

const CHILD_SCRIPT = `
const src = process.env.POP_FUZZ_SRC;
const { randomBytes } = await import('node:crypto');
const { buildApp } = await import(src + 'http/app.ts');
const { aesGcmCipher } = await import(src + 'node/cipher.ts');
const { ed25519Notary } = await import(src + 'node/notary.ts');
const { nodeVerifier } = await import(src + 'node/verifier.ts');
const built = await buildApp({
  databaseUrl: process.env.POP_FUZZ_DB,
  notary: ed25519Notary(randomBytes(32)),
  cipher: aesGcmCipher(randomBytes(32)),
  verifier: nodeVerifier,
  limits: { maxClockSkewMs: 300000, batchMax: 1000, bodyLimitBytes: 8 * 1024 * 1024, rateLimitPerMinute: 1000000 },
  poolSize: 4,
});
await built.ledger.apiKeys.ensureAdmin(process.env.POP_FUZZ_ADMIN);
await built.app.listen({ port: 0, host: '127.0.0.1' });
setInterval(() => process.send({ tick: Date.now() }), 20);
process.send({ port: built.app.server.address().port });
process.on('disconnect', () => process.exit(0));
`;

class ChildService {
  readonly proc: ChildProcess;
  readonly base: string;
  lastTick = Date.now();
  maxGap = 0;
  output = '';

  private constructor(proc: ChildProcess, port: number) {
    this.proc = proc;
    this.base = `http://127.0.0.1:${port}`;
    proc.on('message', (m: { tick?: number }) => {
      if (m.tick === undefined) return;
      const now = Date.now();
      this.maxGap = Math.max(this.maxGap, now - this.lastTick);
      this.lastTick = now;
    });
  }

  static async start(databaseUrl: string, adminKey: string): Promise<ChildService> {
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD_SCRIPT], {
      cwd: new URL('../../', import.meta.url),
      env: { ...process.env, POP_FUZZ_SRC: new URL('../../src/', import.meta.url).href, POP_FUZZ_DB: databaseUrl, POP_FUZZ_ADMIN: adminKey },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4_000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the child service did not start within 30 s:\n${output}`)), 30_000);
      proc.on('message', (m: { port?: number }) => m.port && (clearTimeout(timer), resolve(m.port)));
      proc.on('exit', (code) => (clearTimeout(timer), reject(new Error(`the child service exited (${code}):\n${output}`))));
    });
    const child = new ChildService(proc, port);
    proc.stdout!.on('data', (d: Buffer) => (child.output = (child.output + d.toString()).slice(-4_000)));
    proc.stderr!.on('data', (d: Buffer) => (child.output = (child.output + d.toString()).slice(-4_000)));
    return child;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGKILL');
    await exited;
  }
}

interface Answer { status: number | 'timeout' | 'error'; type?: string; detail?: string; ms: number }
interface Watched extends Answer { what: string; loopGapMs: number; healthz: { answered: number; failed: number; maxMs: number } }

async function call(child: ChildService, method: string, path: string, body: unknown, timeoutMs: number): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(child.base + path, {
      method,
      headers: { authorization: `Bearer ${hostileAdmin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: { type?: string; detail?: string } = {};
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      /* not JSON */
    }
    const ct = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      ...(res.status >= 400 ? { type: ct.startsWith('application/problem+json') ? (json.type ?? '(no type)').replace(PROBLEM, '') : `(content-type ${ct})` } : {}),
      ...(json.detail ? { detail: json.detail.slice(0, 160) } : {}),
      ms: Math.round(performance.now() - started),
    };
  } catch (e) {
    const timeout = (e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError';
    return { status: timeout ? 'timeout' : 'error', detail: timeout ? undefined : (e as Error).message, ms: Math.round(performance.now() - started) } as Answer;
  }
}

/** Runs one request while watching the child's event loop (heartbeat) and polling /healthz. */
async function watched(child: ChildService, what: string, method: string, path: string, body: unknown): Promise<Watched> {
  child.maxGap = 0;
  child.lastTick = Date.now();
  const health = { answered: 0, failed: 0, maxMs: 0 };
  let done = false;
  const poll = (async () => {
    while (!done) {
      const t0 = performance.now();
      const controller = new AbortController();
      const stop = setInterval(() => done && controller.abort(), 20);
      try {
        const r = await fetch(`${child.base}/healthz`, { signal: AbortSignal.any([controller.signal, AbortSignal.timeout(ANSWER_BUDGET_MS + 1_000)]) });
        await r.text();
        if (r.ok) health.answered++;
        else health.failed++;
      } catch {
        // cut short by the end of the window: a failure only if it was already late
        if (done && performance.now() - t0 < LOOP_BUDGET_MS) continue;
        health.failed++;
      } finally {
        clearInterval(stop);
      }
      health.maxMs = Math.max(health.maxMs, Math.round(performance.now() - t0));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const answer = await call(child, method, path, body, ANSWER_BUDGET_MS);
  done = true;
  await poll;
  const loopGapMs = Math.max(child.maxGap, Date.now() - child.lastTick);
  return { what, ...answer, loopGapMs, healthz: health };
}

// The database and the first two child services are prepared at load time, while part 1 runs: a
// stalled child is killed and the spare takes over at once (a fresh spare starts in the background).
const hostileDb: TestDatabase = await createTestDatabase();
{
  const pool = new pg.Pool({ connectionString: hostileDb.url, max: 1 });
  await migrate(pool);
  await pool.end();
}
const hostileAdmin = `fuzz-admin-${randomBytes(16).toString('hex')}`;
const authorKey = secretKeyFrom('ed25519', (n) => new Uint8Array(randomBytes(n)));
const author: Party = { id: 'hostile-author', role: 'author', keyId: 'ha-1', alg: 'ed25519', secretKey: authorKey, publicKey: toHex(publicKeyFor('ed25519', authorKey)), apiKey: '' };
const warm: Promise<ChildService>[] = [];
const startChild = () => {
  const p = ChildService.start(hostileDb.url, hostileAdmin);
  p.catch(() => {}); // awaited (and reported) when it is needed
  warm.push(p);
};
startChild();
startChild();
let child: ChildService | undefined;
const report: Watched[] = [];

afterAll(async () => {
  await svc.close();
  await child?.kill();
  for (const p of warm.splice(0)) await p.then((c) => c.kill(), () => {});
  await hostileDb.drop();
});

async function liveChild(): Promise<ChildService> {
  if (child?.alive) return child;
  if (warm.length === 0) startChild();
  child = await warm.shift()!;
  startChild(); // the next spare
  const p = await call(child, 'POST', '/v1/participants', { id: 'hostile-author', name: 'Hostile author', roles: ['author'], keys: [{ keyId: 'ha-1', alg: 'ed25519', publicKey: author.publicKey }] }, 10_000);
  if (p.status !== 201 && p.status !== 409) throw new Error(`registering the author: ${JSON.stringify(p)}`);
  return child;
}

const processWith = (id: string, meta: Schema, step: Record<string, unknown> = {}) => ({
  id,
  title: `hostile ${id}`,
  roles: ['author'],
  steps: { start: { authors: ['author'], signers: [], after: [], meta, ...step } },
});

interface HostileCase {
  name: string;
  definition: () => unknown;
  /** The link to append when the definition was accepted (its meta is what the hostile schema checks). */
  meta?: () => Record<string, Json>;
}

/** Registers the definition, then (when accepted) appends a link; every answer must be quick, the loop free. */
async function runHostile(c: HostileCase): Promise<void> {
  const steps: Watched[] = [];
  const svcChild = await liveChild();
  const definition = c.definition();
  const size = JSON.stringify(definition).length;
  const reg = await watched(svcChild, `${c.name}: POST /v1/processes (${size} bytes)`, 'POST', '/v1/processes', definition);
  steps.push(reg);
  if (typeof reg.status === 'number' && reg.status < 300 && c.meta && reg.loopGapMs <= LOOP_BUDGET_MS) {
    const id = (definition as { id: string }).id;
    const s = makeSubmission(author, { process: id, step: 'start', mapId: `m-${randomBytes(4).toString('hex')}`, meta: c.meta() });
    steps.push(await watched(svcChild, `${c.name}: POST /v1/links (${JSON.stringify(s.body).length} bytes)`, 'POST', '/v1/links', s.body));
  }
  report.push(...steps);
  const wrong = steps.filter(
    (s) => s.status === 'timeout' || s.status === 'error' || s.status >= 500 || (s.status >= 400 && s.type?.startsWith('(')) ||
      s.ms > ANSWER_BUDGET_MS || s.loopGapMs > LOOP_BUDGET_MS || s.healthz.failed > 0 || s.healthz.maxMs > LOOP_BUDGET_MS,
  );
  // A stalled service is killed (and a fresh one started for the next case): waiting costs minutes.
  if (wrong.length || !svcChild.alive) await svcChild.kill();
  expect(wrong.map(formatWatched), svcChild.output ? `child output:\n${svcChild.output.slice(-1_000)}` : undefined).toEqual([]);
}

function formatWatched(s: Watched): string {
  return `${s.what} → ${s.status}${s.type ? ` ${s.type}` : ''} in ${s.ms} ms; longest event-loop stall ${s.loopGapMs} ms; /healthz ${s.healthz.answered} answered, ${s.healthz.failed} failed, slowest ${s.healthz.maxMs} ms${s.detail ? ` (${s.detail})` : ''}`;
}

/** Distinct short names (a, b, …, 10, 11, …) that fit the process name pattern. */
const shortName = (i: number) => i.toString(36);

describe('hostile taxonomies (a service in a child process, its event loop watched)', () => {
  beforeAll(async () => {
    await liveChild();
  }, 60_000);

  afterAll(() => {
    console.log(`hostile taxonomies (answer budget ${ANSWER_BUDGET_MS} ms, event-loop budget ${LOOP_BUDGET_MS} ms):\n${report.map((s) => `  ${formatWatched(s)}`).join('\n')}`);
  });

  const cases: HostileCase[] = [
    {
      name: '(a) catastrophic pattern ^(a+)+$',
      definition: () => processWith('redos-pattern', { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } }),
      meta: () => ({ s: `${'a'.repeat(49)}!` }),
    },
    {
      name: '(a) catastrophic patternProperties ^(a+)+$',
      definition: () => processWith('redos-pattern-properties', { type: 'object', patternProperties: { '^(a+)+$': { type: 'string' } } }),
      meta: () => ({ [`${'a'.repeat(49)}!`]: 'x' }),
    },
    {
      name: '(b) enum of 200,000 entries',
      definition: () => processWith('enum-200k', { type: 'object', properties: { e: { enum: Array.from({ length: 200_000 }, (_, i) => `e${i}`) } } }),
      meta: () => ({ e: 'not-a-member' }),
    },
    {
      name: '(b) enum of 25,000 entries (under the 256 KiB definition limit)',
      definition: () => processWith('enum-25k', { type: 'object', properties: { e: { enum: Array.from({ length: 25_000 }, (_, i) => `e${i}`) } } }),
      meta: () => ({ e: 'not-a-member' }),
    },
    {
      name: '(c) $ref chain of 1,000 $defs',
      definition: () => {
        const $defs: Record<string, Schema> = {};
        for (let i = 0; i < 1_000; i++) $defs[`d${i}`] = i === 999 ? { type: 'string' } : { $ref: `#/$defs/d${i + 1}` };
        return processWith('ref-chain', { type: 'object', properties: { s: { $ref: '#/$defs/d0' } }, $defs });
      },
      meta: () => ({ s: 'x' }),
    },
    {
      name: '(c) $defs nested 1,000 deep',
      definition: () => {
        let schema: Schema = { type: 'string' };
        for (let i = 0; i < 1_000; i++) schema = { $defs: { n: schema } };
        return processWith('defs-nested', { type: 'object', properties: { s: schema } });
      },
      meta: () => ({ s: 'x' }),
    },
    {
      name: '(c) $ref cycle a → b → a',
      definition: () => processWith('ref-cycle', { type: 'object', properties: { s: { $ref: '#/$defs/a' } }, $defs: { a: { $ref: '#/$defs/b' }, b: { $ref: '#/$defs/a' } } }),
      meta: () => ({ s: 'x' }),
    },
    {
      name: '(c) $ref fan-out: 30 levels of anyOf [d(n+1), d(n+1)] (2^30 paths)',
      definition: () => {
        const $defs: Record<string, Schema> = {};
        for (let i = 0; i < 30; i++) $defs[`d${i}`] = i === 29 ? { type: 'string', minLength: 1 } : { anyOf: [{ $ref: `#/$defs/d${i + 1}` }, { $ref: `#/$defs/d${i + 1}` }] };
        return processWith('ref-fan-out', { type: 'object', properties: { s: { $ref: '#/$defs/d0' } }, $defs });
      },
      meta: () => ({ s: '' }),
    },
    {
      name: '(d) 10,000 properties in one object',
      definition: () => processWith('breadth-flat', { type: 'object', properties: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [shortName(i), { type: 'string' }])) }),
      meta: () => ({ a: 'x' }),
    },
    {
      name: '(d) 10,000 properties over 10 allOf branches of 1,000',
      definition: () => processWith('breadth-allof', {
        type: 'object',
        allOf: Array.from({ length: 10 }, () => ({ properties: Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [shortName(i), { type: 'string' }])) })),
      }),
      meta: () => ({ a: 'x' }),
    },
    {
      name: '(e) uniqueItems over 100,000 distinct arrays',
      definition: () => processWith('unique-items', { type: 'object', properties: { a: { type: 'array', uniqueItems: true } } }),
      meta: () => ({ a: Array.from({ length: 100_000 }, (_, i) => [i]) }),
    },
    {
      name: '(f) a step whose signers list 40,000 distinct roles (process.json uniqueItems, no maxItems)',
      definition: () => processWith('many-signers', { type: 'object' }, { signers: Array.from({ length: 40_000 }, (_, i) => shortName(i + 1_000)) }),
    },
  ];

  for (const c of cases) test(c.name, () => runHostile(c), 60_000);
});

// What the HTTP edge adds to every answer, pinned exactly: the security headers (helmet's
// defaults without its CSP), the rate-limit headers and 429 answers, the
// request metrics and the one log line per request. Over real HTTP where the bytes on the wire
// matter (header spelling and order).
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { type App, buildApp } from '../../src/http/app.js';
import { aesGcmCipher } from '../../src/node/cipher.js';
import { ed25519Notary } from '../../src/node/notary.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

const PROBLEM = 'https://proof-of-process.dev/problems/';

/** helmet 8's defaults without a CSP, spelt and ordered as it set them. */
const SECURITY = [
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Origin-Agent-Cluster', '?1'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'SAMEORIGIN'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
];

interface Raw {
  status: number;
  /** [name as sent, value]; Date and Keep-Alive values blanked. */
  headers: string[][];
  body: string;
}

function call(base: string, method: string, path: string, o: { key?: string; body?: string; stream?: boolean } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(base + path, {
      method,
      headers: { ...(o.key ? { authorization: `Bearer ${o.key}` } : {}), ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    }, (res) => {
      const headers: string[][] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const name = res.rawHeaders[i]!;
        headers.push([name, /^(date|keep-alive)$/i.test(name) ? '…' : res.rawHeaders[i + 1]!]);
      }
      if (o.stream) {
        req.destroy();
        return resolve({ status: res.statusCode!, headers, body: '' });
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers, body }));
    });
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

const valueOf = (r: Raw, name: string) => r.headers.find(([n]) => n!.toLowerCase() === name)?.[1];

let svc: TestService;
let base: string;
beforeAll(async () => {
  svc = await startTestService();
  base = await svc.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => svc?.close());

describe('headers', () => {
  test('a 201 of POST /v1/links: exactly these headers, in this order', async () => {
    const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'edge-1', ...VALID['order'] });
    const r = await call(base, 'POST', '/v1/links', { key: svc.parties['customer']!.apiKey, body: JSON.stringify(s.body) });
    expect(r.status, r.body).toBe(201);
    expect(r.headers).toEqual([
      ...SECURITY,
      ['x-ratelimit-limit', '1000000'],
      ['x-ratelimit-remaining', valueOf(r, 'x-ratelimit-remaining')],
      ['x-ratelimit-reset', valueOf(r, 'x-ratelimit-reset')],
      ['content-type', 'application/json; charset=utf-8'],
      ['content-length', String(Buffer.byteLength(r.body))],
      ['Date', '…'],
      ['Connection', 'keep-alive'],
      ['Keep-Alive', '…'],
    ]);
    expect(Number(valueOf(r, 'x-ratelimit-remaining'))).toBeLessThan(1_000_000);
    expect(Number(valueOf(r, 'x-ratelimit-reset'))).toBeGreaterThan(0);
    expect(Number(valueOf(r, 'x-ratelimit-reset'))).toBeLessThanOrEqual(60);
  });

  test('problem+json 4xx: the same security headers; rate-limit headers only once the key is accepted', async () => {
    const tail = (r: Raw) => [
      ['content-type', 'application/problem+json; charset=utf-8'],
      ['content-length', String(Buffer.byteLength(r.body))],
      ['Date', '…'],
      ['Connection', 'keep-alive'],
      ['Keep-Alive', '…'],
    ];
    const noKey = await call(base, 'POST', '/v1/links', { body: '{}' });
    expect(noKey.status).toBe(401);
    expect(JSON.parse(noKey.body)).toEqual({ type: `${PROBLEM}unauthenticated`, title: 'Authentication required', status: 401, detail: 'send an API key as "Authorization: Bearer <key>"' });
    expect(noKey.headers).toEqual([...SECURITY, ...tail(noKey)]);

    const invalid = await call(base, 'POST', '/v1/links', { key: svc.parties['customer']!.apiKey, body: '{"link":{}}' });
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body)).toMatchObject({ type: `${PROBLEM}malformed`, status: 400, detail: "body must have required property 'signatures'" });
    expect(invalid.headers).toEqual([
      ...SECURITY,
      ['x-ratelimit-limit', '1000000'],
      ['x-ratelimit-remaining', valueOf(invalid, 'x-ratelimit-remaining')],
      ['x-ratelimit-reset', valueOf(invalid, 'x-ratelimit-reset')],
      ...tail(invalid),
    ]);

    const missing = await call(base, 'GET', '/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.headers).toEqual([...SECURITY, ...tail(missing)]);

    // Refused by Fastify before routing (bad percent-encoding), before any hook runs.
    const garbled = await call(base, 'GET', '/v1/links/%zz');
    expect(garbled.status).toBe(400);
    expect(JSON.parse(garbled.body)).toMatchObject({ type: `${PROBLEM}malformed`, status: 400 });
    expect(garbled.headers).toEqual([...SECURITY, ...tail(garbled)]);
  });

  test('an answer written straight to the socket (a garbled request line) carries them too', async () => {
    const { hostname, port } = new URL(base);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(port), hostname, () => s.write('GARBAGE\r\n\r\n'));
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString('latin1')));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    const [head, body] = answer.split('\r\n\r\n');
    const [statusLine, ...lines] = head!.split('\r\n');
    expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(lines.map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)])).toEqual([
      ...SECURITY,
      ['Content-Type', 'application/problem+json'],
      ['Content-Length', String(Buffer.byteLength(body!))],
      ['Connection', 'close'],
    ]);
    expect(JSON.parse(body!)).toMatchObject({ type: `${PROBLEM}malformed`, status: 400 });
  });

  test('a hijacked answer (the event stream writes its own head) carries them too', async () => {
    const r = await call(base, 'GET', '/v1/events', { key: svc.adminKey, stream: true });
    expect(r.status).toBe(200);
    expect(r.headers.slice(0, SECURITY.length)).toEqual(SECURITY);
    expect(valueOf(r, 'content-type')).toBe('text/event-stream');
  });
});

describe('metrics and the request log', () => {
  const series = async () => {
    const body = (await svc.request('GET', '/metrics', { key: null })).body;
    return (line: string) => Number(body.split('\n').find((l) => l.startsWith(`${line} `))?.split(' ')[1] ?? 0);
  };

  test('requests are counted by method, route and status, timed by method and route, refusals by type', async () => {
    const before = await series();
    const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'edge-metrics', ...VALID['order'] });
    expect((await svc.request('POST', '/v1/links', { key: svc.parties['customer']!.apiKey, body: s.body })).status).toBe(201);
    for (let i = 0; i < 2; i++) expect((await svc.request('POST', '/v1/links', { key: null, body: s.body })).status).toBe(401);
    expect((await svc.request('GET', '/edge-nowhere', { key: null })).status).toBe(404);
    const after = await series();
    const delta = (line: string) => after(line) - before(line);
    expect(delta('pop_http_requests_total{method="POST",route="/v1/links",status="201"}')).toBe(1);
    expect(delta('pop_http_requests_total{method="POST",route="/v1/links",status="401"}')).toBe(2);
    expect(delta('pop_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(delta('pop_http_request_duration_seconds_count{method="POST",route="/v1/links"}')).toBe(3);
    expect(delta('pop_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/v1/links"}')).toBe(3);
    expect(delta('pop_http_request_duration_seconds_count{method="GET",route="unmatched"}')).toBe(1);
    expect(delta('pop_rejections_total{type="unauthenticated"}')).toBe(2);
    expect(delta('pop_rejections_total{type="not-found"}')).toBe(1);
    expect(delta('pop_links_accepted_total')).toBe(1);
  });

  test('one log line per request, when it is answered, with the path but not the query string', async () => {
    const from = svc.logs.length;
    expect((await svc.request('GET', '/healthz?secret=1', { key: null })).status).toBe(200);
    const lines = svc.logs.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, msg: 'request', method: 'GET', path: '/healthz', status: 200, ip: '127.0.0.1' });
    expect(typeof lines[0]!['ms']).toBe('number');
    expect(svc.logs.slice(from).join('')).not.toContain('secret');
  });
});

/** The app on a fresh database with these limits, listening, with an admin key. */
async function limitedApp(admin: string, limits: { rateLimitPerMinute: number; authFailuresPerMinute: number }): Promise<{ db: TestDatabase; app: App; url: string }> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  await migrate(pool);
  await pool.end();
  const app = await buildApp({
    databaseUrl: db.url,
    notary: ed25519Notary(randomBytes(32)),
    cipher: aesGcmCipher(randomBytes(32)),
    verifier: nodeVerifier,
    limits: { maxClockSkewMs: 300_000, batchMax: 10, bodyLimitBytes: 1 << 20, ...limits },
  });
  await app.ledger.apiKeys.ensureAdmin(admin);
  return { db, app, url: await app.app.listen({ port: 0, host: '127.0.0.1' }) };
}

describe('rate limit, as the app wires it', () => {
  let db: TestDatabase;
  let app: App;
  let url: string;
  const admin = `edge-admin-${randomBytes(8).toString('hex')}`;
  beforeAll(async () => {
    ({ db, app, url } = await limitedApp(admin, { rateLimitPerMinute: 2, authFailuresPerMinute: 5 }));
  });
  afterAll(async () => {
    await app?.app.close();
    await db?.drop();
  });

  test('two requests a minute per key, then 429 problem+json with retry-after; refused keys and URLs are not counted', async () => {
    // Refused before the limit is consulted: no rate-limit headers, nothing counted.
    for (let i = 0; i < 3; i++) {
      const unknown = await call(url, 'GET', '/v1/links', { key: 'edge-unknown-key-0123456789' });
      expect(unknown.status).toBe(401);
      expect(valueOf(unknown, 'x-ratelimit-limit')).toBeUndefined();
      const nul = await call(url, 'GET', '/v1/links/%00', { key: admin });
      expect(nul.status).toBe(400);
      expect(valueOf(nul, 'x-ratelimit-limit')).toBeUndefined();
      // /metrics is registered before the limit and 404s have no route: never counted.
      expect(valueOf(await call(url, 'GET', '/metrics'), 'x-ratelimit-limit')).toBeUndefined();
      expect(valueOf(await call(url, 'GET', '/edge-nowhere'), 'x-ratelimit-limit')).toBeUndefined();
    }
    const first = await call(url, 'GET', '/v1/links', { key: admin });
    expect(first.status).toBe(200);
    expect([valueOf(first, 'x-ratelimit-limit'), valueOf(first, 'x-ratelimit-remaining')]).toEqual(['2', '1']);
    expect(valueOf(await call(url, 'GET', '/healthz', { key: admin }), 'x-ratelimit-remaining')).toBe('0'); // one window for all routes
    const over = await call(url, 'GET', '/v1/links', { key: admin });
    expect(over.status).toBe(429);
    const reset = valueOf(over, 'x-ratelimit-reset')!;
    expect(Number(reset)).toBeGreaterThan(0);
    expect(Number(reset)).toBeLessThanOrEqual(60);
    expect(over.headers).toEqual([
      ...SECURITY,
      ['x-ratelimit-limit', '2'],
      ['x-ratelimit-remaining', '0'],
      ['x-ratelimit-reset', reset],
      ['retry-after', reset],
      ['content-type', 'application/problem+json; charset=utf-8'],
      ['content-length', String(Buffer.byteLength(over.body))],
      ['Date', '…'],
      ['Connection', 'keep-alive'],
      ['Keep-Alive', '…'],
    ]);
    expect(JSON.parse(over.body)).toEqual({ type: `${PROBLEM}rate-limited`, title: 'Too many requests', status: 429, detail: `rate limit of 2 requests per minute exceeded; retry in ${reset} s` });
    // Another key, and no key at all (the client address), have windows of their own.
    expect((await call(url, 'GET', '/healthz')).status).toBe(200);
    const metrics = (await call(url, 'GET', '/metrics')).body;
    expect(metrics).toContain('pop_rejections_total{type="rate-limited"} 1');
    expect(metrics).toContain('pop_http_requests_total{method="GET",route="/v1/links",status="429"} 1');
  });
});

describe('requests with unknown keys, per client address', () => {
  let db: TestDatabase;
  let app: App;
  let url: string;
  const admin = `edge-admin-${randomBytes(8).toString('hex')}`;
  let lookups = 0;
  beforeAll(async () => {
    ({ db, app, url } = await limitedApp(admin, { rateLimitPerMinute: 1_000_000, authFailuresPerMinute: 5 }));
    const authenticate = app.ledger.apiKeys.authenticate.bind(app.ledger.apiKeys);
    app.ledger.apiKeys.authenticate = async (secret: string) => {
      lookups++;
      return authenticate(secret);
    };
  });
  afterAll(async () => {
    await app?.app.close();
    await db?.drop();
  });

  test('five unknown keys a minute are looked up and answered 401; then 429 with Retry-After, nothing looked up; a key just used still works', async () => {
    expect((await call(url, 'GET', '/v1/links', { key: admin })).status).toBe(200); // now cached as valid
    const before = lookups;
    const invented = Array.from({ length: 5 }, (_, i) => `edge-invented-${i}-${randomBytes(8).toString('hex')}`);
    for (const key of invented) {
      const r = await call(url, 'GET', '/v1/links', { key });
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body)).toMatchObject({ type: `${PROBLEM}unauthenticated` });
    }
    expect(lookups - before).toBe(5);
    // Over the count: a new invented key, and one of the five again (known unknown), both 429.
    for (const key of [`edge-invented-6-${randomBytes(8).toString('hex')}`, invented[0]!]) {
      const over = await call(url, 'POST', '/v1/links', { key, body: '{}' });
      expect(over.status).toBe(429);
      const retry = valueOf(over, 'retry-after')!;
      expect(Number(retry)).toBeGreaterThan(0);
      expect(Number(retry)).toBeLessThanOrEqual(60);
      expect(valueOf(over, 'content-type')).toBe('application/problem+json; charset=utf-8');
      const problem = JSON.parse(over.body) as Record<string, unknown>;
      expect(problem).toMatchObject({ type: `${PROBLEM}rate-limited`, status: 429 });
      expect(problem['detail']).toBe(`more than 5 requests a minute with unknown or revoked API keys from this address; retry in ${retry} s`);
      expect(over.body).not.toContain(key); // a key, even an invented one, is never echoed
    }
    expect(lookups - before).toBe(5); // no lookup once the address is over
    expect((await call(url, 'GET', '/v1/links', { key: admin })).status).toBe(200);
    // Open routes need no key and are not concerned.
    expect((await call(url, 'GET', '/healthz')).status).toBe(200);
    // A malformed Authorization header costs no lookup: 401 as before, whatever the count.
    const malformed = await call(url, 'GET', '/v1/links', { key: 'short' });
    expect(malformed.status).toBe(401);
  });

  test('an IPv6 client is counted by its /64: rotating addresses within it does not buy new lookups', async () => {
    const invent = (from: string) =>
      app.app.inject({ method: 'GET', url: '/v1/links', remoteAddress: from, headers: { authorization: `Bearer edge-v6-${randomBytes(8).toString('hex')}` } });
    const before = lookups;
    for (let i = 1; i <= 5; i++) expect((await invent(`2001:db8:0:7::${i.toString(16)}`)).statusCode).toBe(401);
    expect(lookups - before).toBe(5);
    // The sixth from the same /64, another host part: over the count, no lookup.
    const over = await invent('2001:db8:0:7:ffff:1:2:3');
    expect(over.statusCode).toBe(429);
    expect(over.headers['retry-after']).toBeDefined();
    expect(lookups - before).toBe(5);
    // The neighbouring /64 and an IPv4 client have counts of their own.
    expect((await invent('2001:db8:0:8::1')).statusCode).toBe(401);
    expect((await invent('192.0.2.10')).statusCode).toBe(401);
    expect(lookups - before).toBe(7);
  });
});


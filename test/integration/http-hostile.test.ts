// Malformed and hostile input at the HTTP edge: whatever arrives, the answer is a 4xx
// application/problem+json with a stable type, never a 5xx and never a framework's own error shape.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Response, type TestService, ORDER_TO_CASH, VALID, makeSubmission, startTestService } from '../helpers/service.js';

const PROBLEM = 'https://proof-of-process.dev/problems/';

let svc: TestService;
const seen: { what: string; status: number }[] = [];
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => svc?.close());

/** One request, remembered for the final "never a 5xx" check. */
async function req(method: string, url: string, opts: Parameters<TestService['request']>[2] = {}): Promise<Response> {
  const r = await svc.request(method, url, opts);
  seen.push({ what: `${method} ${url.slice(0, 80)}`, status: r.status });
  return r;
}

/** A raw inject, for headers the helper does not set (content types, Authorization spellings). */
async function inject(method: string, url: string, headers: Record<string, string>, payload?: string): Promise<Response> {
  const res = await svc.app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) });
  let json: Response['json'] = {};
  try {
    json = JSON.parse(res.body) as Response['json'];
  } catch {
    /* not JSON */
  }
  seen.push({ what: `${method} ${url.slice(0, 80)}`, status: res.statusCode });
  return { status: res.statusCode, headers: res.headers, body: res.body, json };
}

function expectProblem(r: Response, status: number, code: string): void {
  expect(r.status, r.body.slice(0, 500)).toBe(status);
  expect(String(r.headers['content-type']), r.body.slice(0, 300)).toMatch(/^application\/problem\+json/);
  if (r.body !== '') {
    expect(r.json['type'], r.body.slice(0, 300)).toBe(PROBLEM + code);
    expect(r.json['status']).toBe(status);
  }
}

const admin = () => ({ authorization: `Bearer ${svc.adminKey}` });
const json = { 'content-type': 'application/json' };
let n = 0;
const goodBody = () => makeSubmission(svc.parties['customer']!, { step: 'order', mapId: `hostile-${++n}`, ...VALID['order'] }).body;

describe('request bodies', () => {
  test('a body that is not JSON → 400 malformed', async () => {
    for (const raw of ['{"link":', 'link=1', '{link: 1}', "{'a':1}", '{"a":1}}', '\ufeff{"link":{}}', 'NaN', '']) {
      expectProblem(await inject('POST', '/v1/links', { ...admin(), ...json }, raw === '' ? 'x' : raw), 400, 'malformed');
    }
  });

  test('an empty body on POST → 400', async () => {
    expectProblem(await inject('POST', '/v1/links', { ...admin(), ...json }, ''), 400, 'malformed');
    expectProblem(await inject('POST', '/v1/links', admin()), 400, 'malformed');
    expectProblem(await inject('POST', '/v1/links/batch', { ...admin(), ...json }, ''), 400, 'malformed');
    expectProblem(await inject('POST', '/v1/participants', { ...admin(), ...json }, ''), 400, 'malformed');
  });

  test('JSON that is not an object (null, array, string, number) → 400', async () => {
    for (const raw of ['null', '[]', '"link"', '42', 'true']) expectProblem(await inject('POST', '/v1/links', { ...admin(), ...json }, raw), 400, 'malformed');
  });

  test('a content type other than application/json → 415 unsupported-media-type', async () => {
    const body = JSON.stringify(goodBody());
    expectProblem(await inject('POST', '/v1/links', { ...admin(), 'content-type': 'application/xml' }, body), 415, 'unsupported-media-type');
    expectProblem(await inject('POST', '/v1/links', { ...admin(), 'content-type': 'application/x-www-form-urlencoded' }, 'a=1'), 415, 'unsupported-media-type');
    expectProblem(await inject('POST', '/v1/links', { ...admin(), 'content-type': 'multipart/form-data; boundary=x' }, '--x--'), 415, 'unsupported-media-type');
    expectProblem(await inject('POST', '/v1/links', admin(), body), 415, 'unsupported-media-type');
  });

  test('text/plain → 415 unsupported-media-type (not parsed as a string)', async () => {
    const body = JSON.stringify(goodBody());
    expectProblem(await inject('POST', '/v1/links', { ...admin(), 'content-type': 'text/plain' }, body), 415, 'unsupported-media-type');
    expectProblem(await inject('POST', '/v1/processes', { ...admin(), 'content-type': 'text/plain; charset=utf-8' }, JSON.stringify(ORDER_TO_CASH)), 415, 'unsupported-media-type');
  });

  test('duplicate member names anywhere in the body → 400', async () => {
    const body = JSON.stringify(goodBody());
    const cases = [
      body.replace('{"link":', '{"signatures":[],"link":'),
      body.replace('"meta":{', '"meta":{"lines":7,'),
      body.replace('"meta":{', '"meta":{"\\u006cines":7,'),
      body.replace('"v":1', '"v":1,"v":1'),
      '{"a":1,"a":1}',
    ];
    for (const raw of cases) {
      const r = await inject('POST', '/v1/links', { ...admin(), ...json }, raw);
      expectProblem(r, 400, 'malformed');
    }
    const twice = await inject('POST', '/v1/links', { ...admin(), ...json }, cases[1]!);
    expect(twice.json['detail']).toMatch(/twice/);
  });

  test('nesting deeper than 32 → 400, however deep', async () => {
    const nest = (d: number) => `{"link":{"meta":${'['.repeat(d - 2)}${']'.repeat(d - 2)}}}`;
    for (const depth of [33, 40, 1000, 200_000]) {
      const r = await inject('POST', '/v1/links', { ...admin(), ...json }, nest(depth));
      expectProblem(r, 400, 'malformed');
    }
    const atLimit = await inject('POST', '/v1/links', { ...admin(), ...json }, nest(32));
    expect(atLimit.status).toBe(400);
    expect(atLimit.json['detail']).not.toMatch(/nested deeper/);
  });

  test('a body over the limit (8 MiB in tests) → 413 too-large', async () => {
    const big = JSON.stringify({ link: { meta: { x: 'a'.repeat(8 * 1024 * 1024) } }, signatures: [] });
    expectProblem(await inject('POST', '/v1/links', { ...admin(), ...json }, big), 413, 'too-large');
    const bigBatch = JSON.stringify({ links: [{ link: { pad: 'b'.repeat(9 * 1024 * 1024) } }] });
    expectProblem(await inject('POST', '/v1/links/batch', { ...admin(), ...json }, bigBatch), 413, 'too-large');
  });

  test('a large body under the limit is refused by the rules, not by a crash', async () => {
    const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'hostile-large', meta: { ...VALID['order']!.meta, pad: 'p'.repeat(6 * 1024 * 1024) }, private: VALID['order']!.private! });
    const r = await req('POST', '/v1/links', { body: s.body });
    expectProblem(r, 422, 'schema-violation');
    expect(r.body.length).toBeLessThan(10_000);
  });

  test('unknown members (submission, signature, private, batch) → 400', async () => {
    const b = goodBody();
    expectProblem(await req('POST', '/v1/links', { body: { ...b, extra: 1 } }), 400, 'malformed');
    expectProblem(await req('POST', '/v1/links', { body: { ...b, signatures: [{ ...b.signatures[0]!, note: 'x' }] } }), 400, 'malformed');
    expectProblem(await req('POST', '/v1/links', { body: { ...b, private: { ...b.private!, fields: {} } } }), 400, 'malformed');
    expectProblem(await req('POST', '/v1/links', { body: { ...b, link: { ...b.link, extra: true } } }), 400, 'malformed');
    expectProblem(await inject('POST', '/v1/links', { ...admin(), ...json }, JSON.stringify({ ...b, __proto__: { x: 1 } }).replace('{', '{"__proto__":{"x":1},')), 400, 'malformed');
  });

  test('uppercase hex (link hashes, digests, signatures) → 400', async () => {
    const b = goodBody();
    expectProblem(await req('POST', '/v1/links', { body: { ...b, link: { ...b.link, prev: ['A'.repeat(64)] } } }), 400, 'malformed');
    expectProblem(await req('POST', '/v1/links', { body: { ...b, link: { ...b.link, digests: b.link.digests.map((d) => d.toUpperCase()) } } }), 400, 'malformed');
    expectProblem(await req('POST', '/v1/links', { body: { ...b, signatures: [{ ...b.signatures[0]!, sig: b.signatures[0]!.sig.toUpperCase() }] } }), 400, 'malformed');
  });

  test('values that are not I-JSON (1e400, a lone surrogate, U+0000 in a tag) → 400', async () => {
    const body = JSON.stringify(goodBody());
    expectProblem(await inject('POST', '/v1/links', { ...admin(), ...json }, body.replace('"total":129.9', '"total":1e400')), 400, 'malformed');
    expectProblem(await inject('POST', '/v1/links', { ...admin(), ...json }, body.replace('"currency":"EUR"', '"currency":"\\ud800"')), 400, 'malformed');
    expectProblem(await inject('POST', '/v1/links', { ...admin(), ...json }, body.replace('"tags":[]', '"tags":["a\\u0000b"]')), 400, 'malformed');
  });

  test('"__proto__" inside meta is a plain member: refused by the schema, no crash', async () => {
    const body = JSON.stringify(goodBody()).replace('"meta":{', '"meta":{"__proto__":{"polluted":1},');
    expectProblem(await inject('POST', '/v1/links', { ...admin(), ...json }, body), 422, 'schema-violation');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  test('too many signatures (17) → 400', async () => {
    const b = goodBody();
    expectProblem(await req('POST', '/v1/links', { body: { ...b, signatures: Array.from({ length: 17 }, (_, i) => ({ ...b.signatures[0]!, keyId: `k${i}` })) } }), 400, 'malformed');
  });

  test('U+0000 in stored free text (API key label, participant name, revoke reason, process title) → 4xx, not a database error', async () => {
    const cases: [string, string, unknown][] = [
      ['POST', '/v1/api-keys', { role: 'auditor', label: 'a\u0000b' }],
      ['POST', '/v1/participants', { id: 'nul-name', name: 'a\u0000b', roles: ['customer'] }],
      ['POST', '/v1/participants/retailer/keys/retailer-1/revoke', { reason: 'a\u0000b' }],
      ['POST', '/v1/processes', { ...ORDER_TO_CASH, id: 'nul-title', title: 'a\u0000b' }],
    ];
    const wrong: string[] = [];
    for (const [method, url, body] of cases) {
      const r = await req(method, url, { body });
      if (!(r.status >= 400 && r.status < 500) || !String(r.headers['content-type']).startsWith('application/problem+json')) wrong.push(`${r.status} ${method} ${url}`);
    }
    expect(wrong).toEqual([]);
    // the revoke above must not have revoked the key
    const retailer = await req('GET', '/v1/participants/retailer');
    expect((retailer.json['keys'] as { revokedAt: string | null }[])[0]!.revokedAt).toBeNull();
  });

  test('a key expiry that matches the timestamp pattern but is not a real instant → 400, not a database error', async () => {
    const publicKey = svc.parties['retailer']!.publicKey;
    const wrong: string[] = [];
    for (const expiresAt of ['2099-02-30T00:00:00Z', '2099-13-01T00:00:00Z', '2099-01-01T25:00:00Z']) {
      const r = await req('POST', '/v1/participants/retailer/keys', { body: { keyId: `bad-expiry-${expiresAt.slice(5, 7)}`, alg: 'ed25519', publicKey, expiresAt } });
      if (!(r.status >= 400 && r.status < 500)) wrong.push(`${r.status} expiresAt ${expiresAt}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('query strings and path parameters', () => {
  const lists = ['/v1/links', '/v1/maps', '/v1/processes', '/v1/participants'];

  test('a cursor that does not decode → 400 on every list', async () => {
    const b64 = (v: string) => Buffer.from(v).toString('base64url');
    const bad = ['!!!', 'a b', '%00', 'x'.repeat(600), b64('not json'), b64('{"x":1}'), b64('[1,2,3]'), b64('null'), b64('-1')];
    for (const list of [...lists, '/v1/maps/order-to-cash/nope']) {
      for (const c of bad) {
        const r = await req('GET', `${list}?cursor=${encodeURIComponent(c)}`);
        expect([400, 404], `${list} ${c.slice(0, 20)}: ${r.body}`).toContain(r.status);
        expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
      }
    }
  });

  test('a forged cursor that decodes (out-of-range position, U+0000) → 400, not a database error', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const cases: [string, string][] = [
      ['/v1/links', b64('9999999999999999999')],
      ['/v1/maps', b64(['a\u0000', 'b'])],
      ['/v1/participants', b64('a\u0000')],
      ['/v1/processes', b64('a\u0000')],
    ];
    const wrong: string[] = [];
    for (const [list, cursor] of cases) {
      const r = await req('GET', `${list}?cursor=${cursor}`);
      if (r.status !== 400 || r.json['type'] !== `${PROBLEM}malformed`) wrong.push(`${r.status} ${list}?cursor=${Buffer.from(cursor, 'base64url').toString()}`);
    }
    expect(wrong).toEqual([]);
  });

  test('limit=0, limit=100000, negative, fractional, not a number, repeated → 400; limit=500 is fine', async () => {
    for (const list of lists) {
      for (const limit of ['0', '100000', '-1', '1.5', 'abc', '10&limit=20', '']) {
        expectProblem(await req('GET', `${list}?limit=${limit}`), 400, 'malformed');
      }
      expect((await req('GET', `${list}?limit=500`)).status).toBe(200);
    }
  });

  test('unknown or bad search filters → 400', async () => {
    expectProblem(await req('GET', '/v1/links?nope=1'), 400, 'malformed');
    expectProblem(await req('GET', '/v1/links?process=Order'), 400, 'malformed');
    expectProblem(await req('GET', `/v1/links?prev=${'A'.repeat(64)}`), 400, 'malformed');
    expectProblem(await req('GET', '/v1/links?from=yesterday'), 400, 'malformed');
    expectProblem(await req('GET', `/v1/links?${Array.from({ length: 9 }, (_, i) => `tag=t${i}`).join('&')}`), 400, 'malformed');
    expectProblem(await req('GET', '/v1/links?tag='), 400, 'malformed');
  });

  test('a time filter that matches the pattern but is not a real instant → 400, not a database error', async () => {
    const wrong: string[] = [];
    for (const t of ['2026-02-30T00:00:00Z', '2026-13-45T99:99:99Z', '0000-01-01T00:00:00Z']) {
      for (const f of ['from', 'to']) {
        const r = await req('GET', `/v1/links?${f}=${t}`);
        if (r.status !== 400 || r.json['type'] !== `${PROBLEM}malformed`) wrong.push(`${r.status} ${f}=${t}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('a tag filter holding U+0000 → 400, not a database error', async () => {
    expectProblem(await req('GET', '/v1/links?tag=a%00b'), 400, 'malformed');
  });

  test('bad path parameters → 400', async () => {
    const urls = [
      '/v1/links/xyz',
      `/v1/links/${'A'.repeat(64)}`,
      `/v1/links/${'a'.repeat(63)}`,
      `/v1/links/${'a'.repeat(65)}`,
      `/v1/links/${'g'.repeat(64)}/private`,
      '/v1/processes/Order-To-Cash',
      '/v1/processes/-x-/versions',
      '/v1/maps/order-to-cash/bad%20id',
      '/v1/maps/order-to-cash/a%00b',
      '/v1/maps/ORDER/m1',
      '/v1/participants/a_b',
    ];
    for (const url of urls) expectProblem(await req('GET', url), 400, 'malformed');
    expectProblem(await req('DELETE', '/v1/api-keys/not-a-key-id'), 400, 'malformed');
    expectProblem(await req('POST', '/v1/participants/a_b/keys', { body: {} }), 400, 'malformed');
    expectProblem(await req('POST', '/v1/participants/customer/keys/bad%20key/revoke', { body: {} }), 400, 'malformed');
  });

  test('a percent-encoding that does not decode → 400 problem+json', async () => {
    expectProblem(await req('GET', '/v1/links/%zz'), 400, 'malformed');
    expectProblem(await req('GET', '/v1/maps/order-to-cash/%E0%A4%A'), 400, 'malformed');
  });

  test('a path parameter longer than the router allows → 4xx problem+json', async () => {
    const r = await req('GET', `/v1/links/${'a'.repeat(300)}`);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(String(r.headers['content-type']), r.body.slice(0, 200)).toMatch(/^application\/problem\+json/);
  });

  test('unknown routes and methods → 404 problem, with or without a key', async () => {
    expectProblem(await req('GET', '/v1/nothing-here'), 404, 'not-found');
    expectProblem(await req('GET', '/v1/nothing-here', { key: null }), 404, 'not-found');
    expectProblem(await req('GET', '/v2/links'), 404, 'not-found');
    expectProblem(await req('PUT', '/v1/links', { body: {} }), 404, 'not-found');
    expectProblem(await req('DELETE', '/v1/processes/order-to-cash'), 404, 'not-found');
    expectProblem(await req('PATCH', '/v1/participants/customer', { body: {} }), 404, 'not-found');
  });

  test('a very long URL (100 KB) → 4xx problem+json', async () => {
    expectProblem(await req('GET', `/v1/links?mapId=${'a'.repeat(100_000)}`), 400, 'malformed');
    expectProblem(await req('GET', `/${'a'.repeat(100_000)}`), 404, 'not-found');
    expectProblem(await req('GET', `/v1/links?${'tag=x&'.repeat(20_000)}`), 400, 'malformed');
  });

  test('over a real socket, an oversized or garbled request line still gets a 4xx problem+json', async () => {
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = svc.app.server.address() as { port: number };
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const s = connect(port, '127.0.0.1', () => s.write(text));
        let out = '';
        s.on('data', (d: Buffer) => (out += d.toString('latin1')));
        s.on('end', () => resolve(out));
        s.on('error', () => resolve(out));
        s.setTimeout(5_000, () => (s.destroy(), resolve(out)));
      });
    const answers = {
      longUrl: await raw(`GET /v1/links?mapId=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      garbage: await raw('GARBAGE\r\n\r\n'),
    };
    for (const [what, answer] of Object.entries(answers)) {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
      seen.push({ what: `socket ${what}`, status });
      expect(status, `${what}: ${answer.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(status, `${what}: ${answer.slice(0, 200)}`).toBeLessThan(500);
      expect(answer.toLowerCase(), `${what}: ${answer.slice(0, 300)}`).toMatch(/content-type: application\/problem\+json/);
    }
  });
});

describe('the Authorization header', () => {
  test('every malformed or unknown credential → 401 problem+json', async () => {
    const key = svc.adminKey;
    const headers = [
      {},
      { authorization: '' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: `Basic ${Buffer.from(`admin:${key}`).toString('base64')}` },
      { authorization: `Token ${key}` },
      { authorization: `${key}` },
      { authorization: 'Bearer short' },
      { authorization: `Bearer ${key} extra` },
      { authorization: `Bearer  ${key}` },
      { authorization: `Bearer\t${key}` },
      { authorization: `Bearer ${key}é` },
      { authorization: `Bearer ${'x'.repeat(257)}` },
      { authorization: `Bearer ${'x'.repeat(10_000)}` },
      { authorization: 'Bearer pop_this-key-was-never-issued-by-anyone' },
      { authorization: `Bearer ${key.slice(0, -1)}` },
    ];
    for (const h of headers) {
      const r = await inject('GET', '/v1/processes', h as Record<string, string>);
      expectProblem(r, 401, 'unauthenticated');
      expect(r.body).not.toContain(key);
    }
  });

  test('a revoked API key → 401 at once (the revocation clears the key cache)', async () => {
    const created = await req('POST', '/v1/api-keys', { body: { role: 'auditor', label: 'to be revoked' } });
    expect(created.status, created.body).toBe(201);
    const { id, secret } = created.json as { id: string; secret: string };
    expect((await req('GET', '/v1/processes', { key: secret })).status).toBe(200);
    expect((await req('GET', '/v1/processes', { key: secret })).status).toBe(200); // now cached
    expect((await req('DELETE', `/v1/api-keys/${id}`)).status).toBe(204);
    expectProblem(await req('GET', '/v1/processes', { key: secret }), 401, 'unauthenticated');
    expectProblem(await req('DELETE', `/v1/api-keys/${id}`), 404, 'not-found');
  });

  test('a revoked participant key cannot append links', async () => {
    const created = await req('POST', '/v1/api-keys', { body: { role: 'participant', participantId: 'customer' } });
    const { id, secret } = created.json as { id: string; secret: string };
    expect((await req('DELETE', `/v1/api-keys/${id}`)).status).toBe(204);
    expectProblem(await req('POST', '/v1/links', { key: secret, body: goodBody() }), 401, 'unauthenticated');
  });
});

/** Every route the app serves, read from its route tree, with parameters filled in. */
function allRoutes(): { method: string; url: string }[] {
  const out: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of svc.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)(?:├── |└── )(.+?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const path = (stack[depth - 1] ?? '') + m[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of m[3]!.split(', ')) out.push({ method, url: path });
  }
  const fill: Record<string, string> = {
    ':id': 'customer',
    ':hash': 'ab'.repeat(32),
    ':keyId': 'customer-1',
    ':process': 'order-to-cash',
    ':mapId': 'm-1',
    '*': 'anything',
  };
  return out.map((r) => ({ method: r.method, url: r.url.replace(/:[A-Za-z]+|\*/g, (p) => fill[p] ?? p).replace('/api-keys/customer', '/api-keys/key_0123456789abcdef') }));
}

describe('anonymous requests', () => {
  // /v1/notary is open on purpose: verifiers fetch and pin the notary's public key.
  // The console (/ and its hashed /assets) is public static code; it holds no data.
  const OPEN = /^\/(healthz|readyz|metrics|docs|v1\/notary|assets|)(\/|$)/;

  test('the route table is what this suite expects (so a new route cannot slip past the check below)', () => {
    const urls = new Set(allRoutes().map((r) => `${r.method} ${r.url}`));
    for (const expected of [
      'POST /v1/processes', 'GET /v1/processes', 'GET /v1/processes/customer', 'POST /v1/processes/customer/versions', 'GET /v1/processes/customer/versions',
      'POST /v1/participants', 'GET /v1/participants', 'GET /v1/participants/customer', 'POST /v1/participants/customer/keys',
      'POST /v1/participants/customer/keys/customer-1/revoke', 'POST /v1/api-keys', 'DELETE /v1/api-keys/key_0123456789abcdef',
      'POST /v1/links', 'GET /v1/links', 'POST /v1/links/batch', `GET /v1/links/${'ab'.repeat(32)}`, `GET /v1/links/${'ab'.repeat(32)}/private`,
      'GET /v1/maps', 'GET /v1/maps/order-to-cash/m-1', 'GET /v1/events', 'GET /healthz', 'GET /readyz', 'GET /metrics',
    ]) expect(urls, expected).toContain(expected);
  });

  test('every route but /healthz, /readyz, /metrics, /docs*, /v1/notary and the console answers 401 problem+json without a key', async () => {
    const routes = allRoutes();
    expect(routes.length).toBeGreaterThan(30);
    for (const { method, url } of routes) {
      const body = method === 'POST' ? { links: [] } : undefined;
      const r = await req(method, url, { key: null, ...(body ? { body } : {}) });
      if (OPEN.test(url)) {
        expect(r.status, `${method} ${url}`).not.toBe(401);
        expect(r.status, `${method} ${url}`).toBeLessThan(500);
      } else {
        expect(r.status, `${method} ${url}: ${r.body}`).toBe(401);
        expect(String(r.headers['content-type']), `${method} ${url}`).toMatch(/^application\/problem\+json/);
        if (method !== 'HEAD') expect(r.json['type']).toBe(`${PROBLEM}unauthenticated`);
      }
    }
  });

  test('the open routes answer without a key', async () => {
    expect((await req('GET', '/healthz', { key: null })).status).toBe(200);
    expect((await req('GET', '/readyz', { key: null })).status).toBe(200);
    const metrics = await req('GET', '/metrics', { key: null });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/# TYPE/);
    expect((await req('GET', '/docs/json', { key: null })).status).toBe(200);
  });
});

describe('after all of the above', () => {
  test('no request in this file got a 5xx answer', () => {
    const bad = seen.filter((s) => !(s.status < 500));
    expect(bad, bad.map((b) => `${b.status} ${b.what}`).join('\n')).toEqual([]);
    expect(seen.length).toBeGreaterThan(150);
  });
});

// Who may do what: every /v1 route × every kind of caller, against the policy the code states
// (http/auth.ts, routes/*, ledger/queries.ts): admins do everything; participants write the links
// they author, manage their own keys, and read links, maps and processes of the processes in which
// they hold a role (others are 404 to them); auditors and regulators read public parts; private data
// is for an admin and the link's author only. Then a scan: no private value in any public answer,
// in the event stream, or in the service's logs.
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publicKeyFor, secretKeyFrom, toHex } from '../../src/core/index.js';
import { type Party, type TestService, ORDER_TO_CASH, VALID, makeSubmission, startTestService } from '../helpers/service.js';

const rnd = (n: number) => new Uint8Array(randomBytes(n));
const ACTORS = ['admin', 'customer', 'retailer', 'outsider', 'auditor', 'regulator', 'anonymous'] as const;
type Actor = (typeof ACTORS)[number];

/** A second process whose only role no order-to-cash party holds. */
const AUDIT_TRAIL = {
  id: 'audit-trail',
  title: 'Audit trail',
  roles: ['auditor-firm'],
  steps: {
    note: {
      authors: ['auditor-firm'],
      signers: [],
      after: [],
      meta: { type: 'object', required: ['topic'], properties: { topic: { type: 'string' } } },
      private: { type: 'object', properties: { memo: { type: 'string' } } },
    },
  },
};

const PRIVATE_VALUES = [
  ...Object.values(VALID).flatMap((v) => Object.values(v.private ?? {}).filter((x): x is string => typeof x === 'string')),
  'OUTSIDER-MEMO-3318',
];

let svc: TestService;
let P: Record<string, Party>;
let outsider: Party;
const keys = {} as Record<Actor, string | null>;
/** Public answers (everything except private data handed to its rightful reader), scanned at the end. */
const publicBodies: string[] = [];
const salts: string[] = [];
const ctx = {
  orderHash: '',
  chain: [] as string[],
  noteHash: '',
  revokeKeys: {} as Record<string, string>,
  apiKeyIds: {} as Record<string, string>,
  openOrder: '',
};

const newPublicKey = () => toHex(publicKeyFor('ed25519', secretKeyFrom('ed25519', rnd)));

async function as(actor: Actor, method: string, url: string, body?: unknown) {
  return svc.request(method, url, { key: keys[actor], ...(body !== undefined ? { body } : {}) });
}

beforeAll(async () => {
  svc = await startTestService();
  P = svc.parties;
  await svc.app.listen({ port: 0, host: '127.0.0.1' });

  expect((await svc.request('POST', '/v1/processes', { body: AUDIT_TRAIL })).status).toBe(201);
  expect((await svc.request('POST', '/v1/processes', { body: { ...ORDER_TO_CASH, id: 'authz-versioned' } })).status).toBe(201);
  const secretKey = secretKeyFrom('ed25519', rnd);
  const publicKey = toHex(publicKeyFor('ed25519', secretKey));
  const added = await svc.request('POST', '/v1/participants', {
    body: { id: 'outsider', name: 'An audit firm', roles: ['auditor-firm'], keys: [{ keyId: 'outsider-1', alg: 'ed25519', publicKey }] },
  });
  expect(added.status, added.body).toBe(201);
  const apiKey = async (body: object) => {
    const r = await svc.request('POST', '/v1/api-keys', { body });
    expect(r.status, r.body).toBe(201);
    return r.json['secret'] as string;
  };
  outsider = { id: 'outsider', role: 'auditor-firm', keyId: 'outsider-1', alg: 'ed25519', secretKey, publicKey, apiKey: await apiKey({ role: 'participant', participantId: 'outsider' }) };
  Object.assign(keys, {
    admin: svc.adminKey,
    customer: P['customer']!.apiKey,
    retailer: P['retailer']!.apiKey,
    outsider: outsider.apiKey,
    auditor: await apiKey({ role: 'auditor', label: 'an auditor' }),
    regulator: await apiKey({ role: 'regulator', label: 'a regulator' }),
    anonymous: null,
  });

  // A whole order with every kind of private data, and a note in the other process.
  const cast: [string, string, string[]][] = [
    ['order', 'customer', []],
    ['confirm', 'retailer', []],
    ['produce', 'manufacturer', ['retailer']],
    ['ship', 'delivery', []],
    ['deliver', 'delivery', ['customer']],
    ['pay', 'payment-provider', ['customer']],
  ];
  for (const [step, author, cos] of cast) {
    const s = makeSubmission(P[author]!, { step, mapId: 'authz-1', prev: ctx.chain.slice(-1), ...VALID[step] }, cos.map((c) => P[c]!));
    const r = await svc.request('POST', '/v1/links', { key: P[author]!.apiKey, body: s.body });
    expect(r.status, r.body).toBe(201);
    publicBodies.push(r.body);
    for (const d of s.body.private?.disclosures ?? []) salts.push((JSON.parse(d) as string[])[0]!);
    ctx.chain.push(s.hash);
  }
  ctx.orderHash = ctx.chain[0]!;
  const note = makeSubmission(outsider, { process: 'audit-trail', step: 'note', mapId: 'audit-1', meta: { topic: 'q3' }, private: { memo: 'OUTSIDER-MEMO-3318' } });
  const nr = await svc.request('POST', '/v1/links', { key: outsider.apiKey, body: note.body });
  expect(nr.status, nr.body).toBe(201);
  ctx.noteHash = note.hash;
  const open = makeSubmission(P['customer']!, { step: 'order', mapId: 'authz-open', ...VALID['order'] });
  expect((await svc.request('POST', '/v1/links', { body: open.body })).status).toBe(201);
  ctx.openOrder = open.hash;

  // Per-caller things to revoke or delete, so every caller's attempt acts on its own object.
  for (const a of ACTORS) {
    const keyId = `revoke-me-${a}`;
    const r = await svc.request('POST', '/v1/participants/customer/keys', { body: { keyId, alg: 'ed25519', publicKey: newPublicKey() } });
    expect(r.status, r.body).toBe(201);
    ctx.revokeKeys[a] = keyId;
    const k = await svc.request('POST', '/v1/api-keys', { body: { role: 'auditor', label: `delete me (${a})` } });
    ctx.apiKeyIds[a] = k.json['id'] as string;
  }
});
afterAll(async () => svc?.close());

/** Opens the event stream as `actor`; resolves with the status, then collects data until stop(). */
function openEvents(actor: Actor): Promise<{ status: number; contentType: string; data: () => string; stop: () => void }> {
  const { port } = svc.app.server.address() as { port: number };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/events', headers: keys[actor] ? { authorization: `Bearer ${keys[actor]}` } : {} }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), data: () => data, stop: () => req.destroy() });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    req.end();
  });
}

/** An exact status, or 'allowed': the role check lets the caller through (not 401/403; the answer may
 * still be 404 or 202 while nothing has been sealed yet), and it is no 5xx. */
type Want = number | 'allowed';
type Expect = Record<Actor, Want>;
const A = 'allowed' as const;
const E = (admin: Want, customer: Want, retailer: Want, outsider_: Want, auditor: Want, regulator: Want, anonymous: Want = 401): Expect => ({
  admin,
  customer,
  retailer,
  outsider: outsider_,
  auditor,
  regulator,
  anonymous,
});

interface Row {
  /** The route as Fastify names it, e.g. "GET /v1/links/:hash". */
  route: string;
  name: string;
  method: string;
  url: (a: Actor) => string;
  body?: (a: Actor) => unknown;
  expect: Expect;
  /** Answers that hold private data legitimately (not scanned). */
  private?: boolean;
}

const customerOrder = (a: Actor) => makeSubmission(P['customer']!, { step: 'order', mapId: `authz-post-${a}`, ...VALID['order'] }).body;

const ROWS: Row[] = [
  { route: 'POST /v1/processes', name: 'POST /v1/processes', method: 'POST', url: () => '/v1/processes', body: (a) => ({ ...ORDER_TO_CASH, id: `authz-new-${a}` }), expect: E(201, 403, 403, 403, 403, 403) },
  { route: 'POST /v1/processes/:id/versions', name: 'POST /v1/processes/:id/versions', method: 'POST', url: () => '/v1/processes/authz-versioned/versions', body: () => ({ ...ORDER_TO_CASH, id: 'authz-versioned' }), expect: E(201, 403, 403, 403, 403, 403) },
  { route: 'GET /v1/processes', name: 'GET /v1/processes', method: 'GET', url: () => '/v1/processes', expect: E(200, 200, 200, 200, 200, 200) },
  { route: 'GET /v1/processes/:id', name: 'GET /v1/processes/:id (order-to-cash)', method: 'GET', url: () => '/v1/processes/order-to-cash', expect: E(200, 200, 200, 404, 200, 200) },
  { route: 'GET /v1/processes/:id', name: 'GET /v1/processes/:id (audit-trail)', method: 'GET', url: () => '/v1/processes/audit-trail', expect: E(200, 404, 404, 200, 200, 200) },
  { route: 'GET /v1/processes/:id', name: 'GET /v1/processes/:id?version=1 (order-to-cash)', method: 'GET', url: () => '/v1/processes/order-to-cash?version=1', expect: E(200, 200, 200, 404, 200, 200) },
  { route: 'GET /v1/processes/:id/versions', name: 'GET /v1/processes/:id/versions (order-to-cash)', method: 'GET', url: () => '/v1/processes/order-to-cash/versions', expect: E(200, 200, 200, 404, 200, 200) },
  { route: 'GET /v1/processes/:id/versions', name: 'GET /v1/processes/:id/versions (audit-trail)', method: 'GET', url: () => '/v1/processes/audit-trail/versions', expect: E(200, 404, 404, 200, 200, 200) },
  {
    route: 'POST /v1/participants',
    name: 'POST /v1/participants',
    method: 'POST',
    url: () => '/v1/participants',
    body: (a) => ({ id: `new-party-${a}`, name: 'New', roles: ['customer'] }),
    expect: E(201, 403, 403, 403, 403, 403),
  },
  { route: 'GET /v1/participants', name: 'GET /v1/participants', method: 'GET', url: () => '/v1/participants', expect: E(200, 200, 200, 200, 200, 200) },
  { route: 'GET /v1/participants/:id', name: 'GET /v1/participants/:id', method: 'GET', url: () => '/v1/participants/customer', expect: E(200, 200, 200, 200, 200, 200) },
  {
    route: 'POST /v1/participants/:id/keys',
    name: 'POST /v1/participants/:id/keys (the customer)',
    method: 'POST',
    url: () => '/v1/participants/customer/keys',
    body: (a) => ({ keyId: `added-by-${a}`, alg: 'ed25519', publicKey: newPublicKey() }),
    expect: E(201, 201, 403, 403, 403, 403),
  },
  {
    route: 'POST /v1/participants/:id/keys/:keyId/revoke',
    name: 'POST /v1/participants/:id/keys/:keyId/revoke (the customer)',
    method: 'POST',
    url: (a) => `/v1/participants/customer/keys/${ctx.revokeKeys[a]}/revoke`,
    body: () => ({ reason: 'test' }),
    expect: E(200, 200, 403, 403, 403, 403),
  },
  { route: 'POST /v1/api-keys', name: 'POST /v1/api-keys', method: 'POST', url: () => '/v1/api-keys', body: () => ({ role: 'auditor' }), expect: E(201, 403, 403, 403, 403, 403) },
  { route: 'DELETE /v1/api-keys/:id', name: 'DELETE /v1/api-keys/:id', method: 'DELETE', url: (a) => `/v1/api-keys/${ctx.apiKeyIds[a]}`, expect: E(204, 403, 403, 403, 403, 403) },
  { route: 'POST /v1/links', name: 'POST /v1/links (authored by the customer)', method: 'POST', url: () => '/v1/links', body: customerOrder, expect: E(201, 201, 403, 403, 403, 403) },
  {
    route: 'POST /v1/links/batch',
    name: 'POST /v1/links/batch (authored by the customer)',
    method: 'POST',
    url: () => '/v1/links/batch',
    body: (a) => ({ links: [makeSubmission(P['customer']!, { step: 'order', mapId: `authz-batch-${a}`, ...VALID['order'] }).body] }),
    expect: E(201, 201, 403, 403, 403, 403),
  },
  { route: 'GET /v1/links', name: 'GET /v1/links', method: 'GET', url: () => '/v1/links?limit=500', expect: E(200, 200, 200, 200, 200, 200) },
  { route: 'GET /v1/links/:hash', name: 'GET /v1/links/:hash (order-to-cash)', method: 'GET', url: () => `/v1/links/${ctx.orderHash}`, expect: E(200, 200, 200, 404, 200, 200) },
  { route: 'GET /v1/links/:hash', name: 'GET /v1/links/:hash (audit-trail)', method: 'GET', url: () => `/v1/links/${ctx.noteHash}`, expect: E(200, 404, 404, 200, 200, 200) },
  { route: 'GET /v1/links/:hash', name: 'GET /v1/links/:hash (unknown)', method: 'GET', url: () => `/v1/links/${'ee'.repeat(32)}`, expect: E(404, 404, 404, 404, 404, 404) },
  { route: 'GET /v1/links/:hash/private', name: 'GET /v1/links/:hash/private (order by the customer)', method: 'GET', url: () => `/v1/links/${ctx.orderHash}/private`, expect: E(200, 200, 403, 404, 403, 403), private: true },
  { route: 'GET /v1/links/:hash/private', name: 'GET /v1/links/:hash/private (note by the outsider)', method: 'GET', url: () => `/v1/links/${ctx.noteHash}/private`, expect: E(200, 404, 404, 200, 403, 403), private: true },
  { route: 'GET /v1/maps', name: 'GET /v1/maps', method: 'GET', url: () => '/v1/maps?limit=500', expect: E(200, 200, 200, 200, 200, 200) },
  { route: 'GET /v1/maps/:process/:mapId', name: 'GET /v1/maps/:process/:mapId (order-to-cash)', method: 'GET', url: () => '/v1/maps/order-to-cash/authz-1', expect: E(200, 200, 200, 404, 200, 200) },
  { route: 'GET /v1/maps/:process/:mapId', name: 'GET /v1/maps/:process/:mapId (audit-trail)', method: 'GET', url: () => '/v1/maps/audit-trail/audit-1', expect: E(200, 404, 404, 200, 200, 200) },
  { route: 'GET /v1/events', name: 'GET /v1/events', method: 'SSE', url: () => '/v1/events', expect: E(200, 200, 200, 200, 200, 200) },
  { route: 'GET /v1/notary', name: 'GET /v1/notary (open: verifiers pin the key)', method: 'GET', url: () => '/v1/notary', expect: E(200, 200, 200, 200, 200, 200, 200) },
  { route: 'GET /v1/links/:hash/proof', name: 'GET /v1/links/:hash/proof (order-to-cash)', method: 'GET', url: () => `/v1/links/${ctx.orderHash}/proof`, expect: E(A, A, A, 404, A, A) },
  { route: 'GET /v1/links/:hash/proof', name: 'GET /v1/links/:hash/proof (audit-trail)', method: 'GET', url: () => `/v1/links/${ctx.noteHash}/proof`, expect: E(A, 404, 404, A, A, A) },
  { route: 'GET /v1/blocks', name: 'GET /v1/blocks', method: 'GET', url: () => '/v1/blocks', expect: E(A, A, A, A, A, A) },
  { route: 'GET /v1/blocks/tip', name: 'GET /v1/blocks/tip', method: 'GET', url: () => '/v1/blocks/tip', expect: E(A, A, A, A, A, A) },
  { route: 'GET /v1/blocks/:height', name: 'GET /v1/blocks/:height', method: 'GET', url: () => '/v1/blocks/0', expect: E(A, A, A, A, A, A) },
  { route: 'GET /v1/blocks/:height/links', name: 'GET /v1/blocks/:height/links', method: 'GET', url: () => '/v1/blocks/0/links', expect: E(A, A, A, A, A, A) },
  { route: 'GET /v1/history/consistency', name: 'GET /v1/history/consistency', method: 'GET', url: () => '/v1/history/consistency?from=1&to=1', expect: E(A, A, A, A, A, A) },
  { route: 'GET /v1/bundles', name: 'GET /v1/bundles (map)', method: 'GET', url: () => '/v1/bundles?process=order-to-cash&mapId=authz-1', expect: E(200, 403, 403, 403, 200, 200) },
  { route: 'POST /v1/links/:hash/disclosures', name: 'POST /v1/links/:hash/disclosures (no such link)', method: 'POST', url: () => `/v1/links/${'0'.repeat(64)}/disclosures`, body: () => ({ reader: 'key_0000000000000000', fields: ['name'] }), expect: E(A, A, A, A, 403, 403) },
  { route: 'POST /v1/maps/:process/:mapId/disclosures', name: 'POST /v1/maps/:process/:mapId/disclosures (no such reader)', method: 'POST', url: () => '/v1/maps/order-to-cash/authz-1/disclosures', body: () => ({ reader: 'key_0000000000000000', fields: ['name'] }), expect: E(A, A, A, A, 403, 403) },
  { route: 'GET /v1/links/:hash/disclosures', name: 'GET /v1/links/:hash/disclosures (order by the customer)', method: 'GET', url: () => `/v1/links/${ctx.orderHash}/disclosures`, expect: E(200, 200, 403, 404, 200, 200), private: true },
  { route: 'DELETE /v1/links/:hash/data', name: 'DELETE /v1/links/:hash/data (no such link)', method: 'DELETE', url: () => `/v1/links/${'0'.repeat(64)}/data`, body: () => ({ reason: 'test' }), expect: E(A, A, A, A, 403, 403) },
  { route: 'GET /v1/stats', name: 'GET /v1/stats', method: 'GET', url: () => '/v1/stats', expect: E(200, 200, 200, 200, 200, 200) },
  { route: 'GET /v1/anchors', name: 'GET /v1/anchors', method: 'GET', url: () => '/v1/anchors', expect: E(200, 200, 200, 200, 200, 200) },
  { route: 'GET /v1/anchors/status', name: 'GET /v1/anchors/status', method: 'GET', url: () => '/v1/anchors/status', expect: E(200, 200, 200, 200, 200, 200) },
];

/** Every /v1 route the app serves (method and Fastify path), read from its route tree; HEAD mirrors GET. */
function appRoutes(): string[] {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of svc.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)(?:├── |└── )(.+?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const path = (stack[depth - 1] ?? '') + m[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    if (!path.startsWith('/v1/')) continue;
    for (const method of m[3]!.split(', ')) if (method !== 'HEAD') out.add(`${method} ${path}`);
  }
  return [...out].sort();
}

describe('every route × every caller', () => {
  const cases = ROWS.flatMap((row) => ACTORS.map((actor) => ({ row, actor, status: row.expect[actor] })));
  for (const { row, actor, status } of cases) test(`${row.name} as ${actor} → ${status}`, async () => {
    if (row.method === 'SSE') {
      const stream = await openEvents(actor);
      stream.stop();
      expect(stream.status).toBe(status);
      expect(stream.contentType).toMatch(status === 200 ? /^text\/event-stream/ : /^application\/problem\+json/);
      return;
    }
    const r = await as(actor, row.method, row.url(actor), row.body?.(actor));
    if (status === 'allowed') {
      expect(r.status, r.body.slice(0, 400)).not.toBe(401);
      expect(r.status, r.body.slice(0, 400)).not.toBe(403);
      expect(r.status, r.body.slice(0, 400)).toBeLessThan(500);
    } else expect(r.status, r.body.slice(0, 400)).toBe(status);
    if (r.status >= 400) {
      expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
      const type = ({ 401: 'unauthenticated', 403: 'forbidden' } as Record<number, string>)[r.status] ?? (status === 404 ? 'not-found' : undefined);
      if (type) expect(r.json['type']).toBe(`https://proof-of-process.dev/problems/${type}`);
    }
    if (!(row.private && r.status === 200)) publicBodies.push(r.body);
  });

  test('the table covers every /v1 route the app serves', () => {
    const covered = new Set(ROWS.map((r) => r.route));
    expect(appRoutes().filter((r) => !covered.has(r))).toEqual([]);
  });

  test('refused revocations left the keys alone; allowed ones revoked them', async () => {
    const customer = await svc.request('GET', '/v1/participants/customer');
    const byId = new Map((customer.json['keys'] as { keyId: string; revokedAt: string | null }[]).map((k) => [k.keyId, k.revokedAt]));
    for (const a of ACTORS) expect(byId.get(ctx.revokeKeys[a]!), a).toSatisfy((v: string | null) => (a === 'admin' || a === 'customer' ? v !== null : v === null));
    expect(byId.has('added-by-admin') && byId.has('added-by-customer')).toBe(true);
    expect(byId.has('added-by-retailer') || byId.has('added-by-outsider')).toBe(false);
  });
});

describe('what each caller sees', () => {
  const processesOf = (items: Record<string, unknown>[] | undefined, key: (i: Record<string, unknown>) => string) => new Set((items ?? []).map(key));
  const linkProcess = (i: Record<string, unknown>) => (i['link'] as { process: string }).process;

  test('a participant lists only the processes, links and maps of processes in which it holds a role', async () => {
    for (const [actor, mine, other] of [
      ['customer', 'order-to-cash', 'audit-trail'],
      ['retailer', 'order-to-cash', 'audit-trail'],
      ['outsider', 'audit-trail', 'order-to-cash'],
    ] as const) {
      const procs = await as(actor, 'GET', '/v1/processes?limit=500');
      const links = await as(actor, 'GET', '/v1/links?limit=500');
      const maps = await as(actor, 'GET', '/v1/maps?limit=500');
      const filtered = await as(actor, 'GET', `/v1/links?process=${other}`);
      publicBodies.push(procs.body, links.body, maps.body, filtered.body);
      expect(processesOf(procs.json.items, (i) => i['id'] as string)).toContain(mine);
      expect(processesOf(procs.json.items, (i) => i['id'] as string)).not.toContain(other);
      expect(processesOf(links.json.items, linkProcess)).toEqual(new Set([mine]));
      expect(processesOf(maps.json.items, (i) => i['process'] as string)).toEqual(new Set([mine]));
      expect(filtered.json.items).toEqual([]);
    }
  });

  test('auditors and regulators see every process, link and map (public parts)', async () => {
    for (const actor of ['auditor', 'regulator'] as const) {
      const links = await as(actor, 'GET', '/v1/links?limit=500');
      const maps = await as(actor, 'GET', '/v1/maps?limit=500');
      publicBodies.push(links.body, maps.body);
      expect(processesOf(links.json.items, linkProcess)).toEqual(new Set(['order-to-cash', 'audit-trail']));
      expect(processesOf(maps.json.items, (i) => i['process'] as string)).toEqual(new Set(['order-to-cash', 'audit-trail']));
      const map = await as(actor, 'GET', '/v1/maps/order-to-cash/authz-1');
      publicBodies.push(map.body);
      expect((map.json.items ?? []).map((i) => i['linkHash'])).toEqual(ctx.chain);
    }
  });

  test('a participant of one process cannot write into another it holds no role in', async () => {
    const s = makeSubmission(outsider, { step: 'order', mapId: 'authz-intrude', ...VALID['order'] });
    const r = await as('outsider', 'POST', '/v1/links', s.body);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    publicBodies.push(r.body);
    expect((await svc.request('GET', '/v1/maps/order-to-cash/authz-intrude')).status).toBe(404);
  });

  test('the event stream tells a participant only about processes in which it holds a role', async () => {
    const streams = { outsider: await openEvents('outsider'), customer: await openEvents('customer'), auditor: await openEvents('auditor') };
    try {
      const order = makeSubmission(P['customer']!, { step: 'order', mapId: 'authz-events', ...VALID['order'] });
      const note = makeSubmission(outsider, { process: 'audit-trail', step: 'note', mapId: 'audit-events', meta: { topic: 'events' }, private: { memo: 'OUTSIDER-MEMO-3318' } });
      expect((await as('customer', 'POST', '/v1/links', order.body)).status).toBe(201);
      expect((await as('outsider', 'POST', '/v1/links', note.body)).status).toBe(201);
      // The events come from the database after each commit: wait until each stream has its own.
      await expect.poll(() => [streams.auditor.data().includes(order.hash) && streams.auditor.data().includes(note.hash), streams.outsider.data().includes(note.hash), streams.customer.data().includes(order.hash)], { timeout: 15_000 }).toEqual([true, true, true]);
      const data = { outsider: streams.outsider.data(), customer: streams.customer.data(), auditor: streams.auditor.data() };
      publicBodies.push(...Object.values(data));
      expect(data.auditor).toContain(order.hash);
      expect(data.auditor).toContain(note.hash);
      expect(data.outsider).toContain(note.hash);
      expect(data.customer).toContain(order.hash);
      expect(data.outsider, 'the outsider hears of an order-to-cash link').not.toContain(order.hash);
      expect(data.customer, 'the customer hears of an audit-trail link').not.toContain(note.hash);
    } finally {
      for (const s of Object.values(streams)) s.stop();
    }
  });
});

describe('private data stays private', () => {
  test('the rightful readers do get it (so the scan below is meaningful)', async () => {
    const own = await as('customer', 'GET', `/v1/links/${ctx.orderHash}/private`);
    expect(own.json['fields']).toEqual(VALID['order']!.private);
    const all = await Promise.all(ctx.chain.map((h) => as('admin', 'GET', `/v1/links/${h}/private`)));
    const text = all.map((r) => r.body).join('\n');
    for (const v of PRIVATE_VALUES.filter((x) => !x.startsWith('OUTSIDER'))) expect(text).toContain(v);
  });

  test('refusals that involve private data do not echo it', async () => {
    const bad = makeSubmission(P['customer']!, { step: 'order', mapId: 'authz-bad-private', meta: VALID['order']!.meta, private: { name: 'Camille Martin', address: 'Rue de la Paix 1, Paris', extra: 'SECRET-TRACKING-7731' } });
    const r1 = await as('customer', 'POST', '/v1/links', bad.body);
    expect(r1.status).toBe(422);
    const pay = makeSubmission(P['payment-provider']!, { step: 'pay', mapId: 'authz-1', prev: ctx.chain.slice(-1), meta: VALID['pay']!.meta, private: { iban: 'FR7630006000011234567890189 ' } }, [P['customer']!]);
    const r2 = await as('admin', 'POST', '/v1/links', pay.body);
    expect(r2.status).toBe(422);
    const other = makeSubmission(P['customer']!, { step: 'order', mapId: 'authz-bad-private-2', ...VALID['order'] });
    // The first salt's first digit changed (to another digit: "0" stays "0" 1 time in 16), so its digest is not the link's.
    const r3 = await as('customer', 'POST', '/v1/links', { ...other.body, private: { disclosures: [...other.body.private!.disclosures].reverse().map((d, i) => (i === 0 ? d.replace(/^\["([0-9a-f])/, (_m, c: string) => `["${c === '0' ? '1' : '0'}`) : d)) } });
    expect(r3.status).toBe(422);
    publicBodies.push(r1.body, r2.body, r3.body);
  });

  test('no private value or salt appears in any public answer, event, or log line of this suite', () => {
    expect(publicBodies.length).toBeGreaterThan(150);
    const everything = publicBodies.join('\n');
    const logs = svc.logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const value of PRIVATE_VALUES) {
      expect(everything, `a public answer holds ${value}`).not.toContain(value);
      expect(logs, `a log line holds ${value}`).not.toContain(value);
    }
    for (const salt of salts) {
      expect(everything).not.toContain(salt);
      expect(logs).not.toContain(salt);
    }
    expect(logs).not.toContain(svc.adminKey);
  });
});

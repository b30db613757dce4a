// Every acceptance rule of spec §4, over real HTTP handling and a real database: for each rule a link
// that passes it and one that breaks it, with the exact HTTP status and RFC 9457 problem type.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type Alg,
  type Link,
  createDisclosures,
  linkHash,
  linkMessage,
  makeDisclosure,
  publicKeyFor,
  secretKeyFrom,
  sha256Hex,
  sign,
  toHex,
} from '../../src/core/index.js';
import { type LinkSpec, type Party, type Response, type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

const PROBLEM = 'https://proof-of-process.dev/problems/';
const rnd = (n: number) => new Uint8Array(randomBytes(n));

let svc: TestService;
let P: Record<string, Party>;
beforeAll(async () => {
  svc = await startTestService();
  P = svc.parties;
});
afterAll(async () => svc?.close());

function expectProblem(r: Response, status: number, code: string): void {
  expect(r.status, r.body).toBe(status);
  expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(r.json['type'], r.body).toBe(PROBLEM + code);
  expect(r.json['status']).toBe(status);
  expect(typeof r.json['title']).toBe('string');
}

let counter = 0;
const newMap = (label: string) => `rules-${label}-${++counter}`;

/** Who authors each step and who co-signs it in the example process. */
const CAST: Record<string, [string, string[]]> = {
  order: ['customer', []],
  confirm: ['retailer', []],
  produce: ['manufacturer', ['retailer']],
  ship: ['delivery', []],
  deliver: ['delivery', ['customer']],
  pay: ['payment-provider', ['customer']],
  cancel: ['customer', []],
};

/** A correct submission of `step` (valid meta/private, the right author and co-signers). */
function good(step: string, mapId: string, prev: string[] = [], extra: Partial<LinkSpec> = {}) {
  const [author, cos] = CAST[step]!;
  return makeSubmission(P[author]!, { step, mapId, prev, ...VALID[step], ...extra }, cos.map((c) => P[c]!));
}

const post = (body: unknown, key?: string) => svc.request('POST', '/v1/links', { body, ...(key === undefined ? {} : { key }) });

/** Appends the example chain up to and including `last`; returns the hashes in order. */
async function chain(mapId: string, last: string): Promise<string[]> {
  const order = ['order', 'confirm', 'produce', 'ship', 'deliver', 'pay'];
  const hashes: string[] = [];
  for (const step of order.slice(0, order.indexOf(last) + 1)) {
    const s = good(step, mapId, hashes.slice(-1));
    const r = await post(s.body);
    expect(r.status, r.body).toBe(201);
    hashes.push(s.hash);
  }
  return hashes;
}

/** A link signed by arbitrary parties, with arbitrary disclosures: for the cases makeSubmission cannot build. */
function craft(
  authorId: string,
  spec: LinkSpec,
  signers: { id: string; keyId: string; alg: Alg; secretKey: Uint8Array; sigAlg?: string }[],
  priv?: { disclosures: string[]; digests: string[] },
) {
  const created = priv ?? (() => {
    const d = createDisclosures(spec.private ?? {}, rnd);
    return { disclosures: d.disclosures.map((x) => x.disclosure), digests: d.digests };
  })();
  const link: Link = {
    v: 1,
    process: spec.process ?? 'order-to-cash',
    processVersion: spec.processVersion ?? 1,
    mapId: spec.mapId,
    step: spec.step,
    prev: spec.prev ?? [],
    refs: (spec.refs ?? []).map((h) => ({ linkHash: h })),
    meta: spec.meta ?? {},
    tags: spec.tags ?? [],
    digests: [...created.digests].sort(),
    author: authorId,
    createdAt: spec.createdAt ?? new Date(Date.now() + svc.clock.offsetMs).toISOString(),
  };
  const hash = linkHash(link);
  const signatures = signers.map((s) => ({ signer: s.id, keyId: s.keyId, alg: s.sigAlg ?? s.alg, sig: toHex(sign(s.alg, s.secretKey, linkMessage(hash))) }));
  return { hash, body: { link, signatures, ...(created.disclosures.length ? { private: { disclosures: created.disclosures } } : {}) } };
}

describe('the link parses and has the protocol shape (400 malformed)', () => {
  test('good: a well-formed link is accepted with 201 and a receipt', async () => {
    const s = good('order', newMap('shape'));
    const r = await post(s.body);
    expect(r.status, r.body).toBe(201);
    expect(r.json['linkHash']).toBe(s.hash);
    expect(r.json['status']).toBe('accepted');
  });

  const cases: [string, (link: Record<string, unknown>) => unknown][] = [
    ['a missing member (v)', ({ v: _v, ...rest }) => rest],
    ['an unknown member', (l) => ({ ...l, extra: 1 })],
    ['v = 2', (l) => ({ ...l, v: 2 })],
    ['uppercase hex in prev', (l) => ({ ...l, prev: ['AB'.repeat(32)] })],
    ['a 0x-prefixed hash in refs', (l) => ({ ...l, refs: [{ linkHash: `0x${'ab'.repeat(31)}` }] })],
    ['digests out of order', (l) => ({ ...l, digests: ['bb'.repeat(32), 'aa'.repeat(32)] })],
    ['a date that does not exist', (l) => ({ ...l, createdAt: '2026-02-30T10:00:00Z' })],
    ['a timestamp without Z', (l) => ({ ...l, createdAt: '2026-02-03T10:00:00+01:00' })],
    ['a bad map id', (l) => ({ ...l, mapId: '-bad map-' })],
    ['processVersion 0', (l) => ({ ...l, processVersion: 0 })],
    ['processVersion as a string', (l) => ({ ...l, processVersion: '1' })],
    ['meta as an array', (l) => ({ ...l, meta: [] })],
    ['duplicate tags', (l) => ({ ...l, tags: ['a', 'a'] })],
    ['the link is a string', () => 'not a link'],
  ];
  test.each(cases)('bad: %s → 400 malformed', async (_name, mutate) => {
    const s = good('order', newMap('shape'));
    const link = mutate(s.body.link as unknown as Record<string, unknown>);
    const r = await post({ ...s.body, link });
    expectProblem(r, 400, 'malformed');
  });

  test('bad: no signatures → 400 malformed', async () => {
    const s = good('order', newMap('shape'));
    expectProblem(await post({ ...s.body, signatures: [] }), 400, 'malformed');
  });

  test('bad: the same signer and key twice → 400 malformed', async () => {
    const s = good('order', newMap('shape'));
    expectProblem(await post({ ...s.body, signatures: [s.body.signatures[0], s.body.signatures[0]] }), 400, 'malformed');
  });
});

describe('the process version exists (422 unknown-process)', () => {
  test('bad: an unknown version of a known process', async () => {
    expectProblem(await post(good('order', newMap('pv'), [], { processVersion: 2 }).body), 422, 'unknown-process');
  });
  test('bad: an unknown process', async () => {
    expectProblem(await post(good('order', newMap('pv'), [], { process: 'no-such-process' }).body), 422, 'unknown-process');
  });
  test('good: version 2 once it is registered (version 1 stays valid)', async () => {
    const { ORDER_TO_CASH } = await import('../helpers/service.js');
    const v2 = await svc.request('POST', '/v1/processes/order-to-cash/versions', { body: { ...ORDER_TO_CASH, title: 'Order to cash, v2' } });
    expect(v2.status, v2.body).toBe(201);
    expect(v2.json['version']).toBe(2);
    const r = await post(good('order', newMap('pv'), [], { processVersion: 2 }).body);
    expect(r.status, r.body).toBe(201);
    expect((await post(good('order', newMap('pv'), [], { processVersion: 1 }).body)).status).toBe(201);
  });
});

describe('the step exists (422 unknown-step)', () => {
  test('bad: a step the process does not have', async () => {
    const s = makeSubmission(P['customer']!, { step: 'refund', mapId: newMap('step'), meta: {} });
    expectProblem(await post(s.body), 422, 'unknown-step');
  });
  test('good: a step the process has', async () => {
    expect((await post(good('order', newMap('step')).body)).status).toBe(201);
  });
});

describe("meta validates against the step's schema (422 schema-violation)", () => {
  test('bad: a value that breaks the schema is refused, and the answer does not echo it', async () => {
    const s = makeSubmission(P['customer']!, {
      step: 'order',
      mapId: newMap('meta'),
      meta: { currency: 'LEAKY-CURRENCY-4471', total: 10, lines: 1 },
      private: VALID['order']!.private!,
    });
    const r = await post(s.body);
    expectProblem(r, 422, 'schema-violation');
    expect(r.body).not.toContain('LEAKY-CURRENCY-4471');
    expect(r.json['errors']).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/currency' })]));
  });
  test('bad: a member the schema does not allow (its value is not echoed)', async () => {
    const s = makeSubmission(P['customer']!, {
      step: 'order',
      mapId: newMap('meta'),
      meta: { ...VALID['order']!.meta, note: 'LEAKY-NOTE-9912' },
      private: VALID['order']!.private!,
    });
    const r = await post(s.body);
    expectProblem(r, 422, 'schema-violation');
    expect(r.body).not.toContain('LEAKY-NOTE-9912');
  });
  test('bad: a missing required member', async () => {
    const s = makeSubmission(P['customer']!, { step: 'order', mapId: newMap('meta'), meta: { currency: 'EUR', total: 1 }, private: VALID['order']!.private! });
    expectProblem(await post(s.body), 422, 'schema-violation');
  });
  test('good: meta that matches', async () => {
    expect((await post(good('order', newMap('meta')).body)).status).toBe(201);
  });
});

describe("the disclosed private data validates against the step's private schema (422 private-schema-violation)", () => {
  test('bad: a required private field is missing (only name disclosed, no address)', async () => {
    const s = makeSubmission(P['customer']!, { step: 'order', mapId: newMap('priv'), meta: VALID['order']!.meta, private: { name: 'Camille Martin' } });
    const r = await post(s.body);
    expectProblem(r, 422, 'private-schema-violation');
    expect(r.body).not.toContain('Camille');
  });
  test('bad: a private value that breaks its pattern is refused and not echoed', async () => {
    const hashes = await chain(newMap('priv'), 'deliver');
    const mapId = (await svc.request('GET', `/v1/links/${hashes[0]}`)).json['link'] as { mapId: string };
    const s = makeSubmission(P['payment-provider']!, { step: 'pay', mapId: mapId.mapId, prev: hashes.slice(-1), meta: VALID['pay']!.meta, private: { iban: 'leaky-iban-5550' } }, [P['customer']!]);
    const r = await post(s.body);
    expectProblem(r, 422, 'private-schema-violation');
    expect(r.body).not.toContain('leaky-iban-5550');
    // and the good one then passes
    const ok = good('pay', mapId.mapId, hashes.slice(-1));
    expect((await post(ok.body)).status).toBe(201);
  });
  test('good: complete, valid private data; the author reads it back', async () => {
    const s = good('order', newMap('priv'));
    expect((await post(s.body)).status).toBe(201);
    const r = await svc.request('GET', `/v1/links/${s.hash}/private`);
    expect(r.json['fields']).toEqual(VALID['order']!.private);
  });
});

describe('disclosures match the digests exactly (422 disclosure-invalid)', () => {
  const order = () => createDisclosures(VALID['order']!.private!, rnd);
  const cust = () => P['customer']!;

  test('good: one canonical disclosure per digest', async () => {
    const d = order();
    const s = craft('customer', { step: 'order', mapId: newMap('disc'), meta: VALID['order']!.meta }, [cust()], {
      disclosures: d.disclosures.map((x) => x.disclosure),
      digests: d.digests,
    });
    expect((await post(s.body)).status).toBe(201);
  });
  test('bad: no disclosures at all for a link with digests', async () => {
    const s = good('order', newMap('disc'));
    const noPrivate = { link: s.body.link, signatures: s.body.signatures };
    expectProblem(await post(noPrivate), 422, 'disclosure-invalid');
  });
  test('bad: one of two disclosures missing', async () => {
    const d = order();
    const s = craft('customer', { step: 'order', mapId: newMap('disc'), meta: VALID['order']!.meta }, [cust()], {
      disclosures: [d.disclosures[0]!.disclosure],
      digests: d.digests,
    });
    expectProblem(await post(s.body), 422, 'disclosure-invalid');
  });
  test('bad: a disclosure that matches no digest (another salt)', async () => {
    const d = order();
    const other = makeDisclosure(toHex(rnd(32)), 'name', 'Camille Martin');
    const s = craft('customer', { step: 'order', mapId: newMap('disc'), meta: VALID['order']!.meta }, [cust()], {
      disclosures: [other.disclosure, d.disclosures.find((x) => x.field === 'address')!.disclosure],
      digests: d.digests,
    });
    const r = await post(s.body);
    expectProblem(r, 422, 'disclosure-invalid');
    expect(r.body).not.toContain('Camille');
  });
  test('bad: a non-canonical disclosure, even though its digest is in the link', async () => {
    const salt = toHex(rnd(32));
    const spaced = `["${salt}", "name", "Camille Martin"]`;
    const address = makeDisclosure(toHex(rnd(32)), 'address', 'Rue de la Paix 1, Paris');
    const s = craft('customer', { step: 'order', mapId: newMap('disc'), meta: VALID['order']!.meta }, [cust()], {
      disclosures: [spaced, address.disclosure],
      digests: [sha256Hex(spaced), address.digest],
    });
    const r = await post(s.body);
    expectProblem(r, 422, 'disclosure-invalid');
    expect(r.body).not.toContain('Camille');
  });
  test('bad: the same field disclosed twice (two salts, both digests in the link)', async () => {
    const a = makeDisclosure(toHex(rnd(32)), 'name', 'Camille Martin');
    const b = makeDisclosure(toHex(rnd(32)), 'name', 'Someone Else');
    const address = makeDisclosure(toHex(rnd(32)), 'address', 'Rue de la Paix 1, Paris');
    const s = craft('customer', { step: 'order', mapId: newMap('disc'), meta: VALID['order']!.meta }, [cust()], {
      disclosures: [a.disclosure, b.disclosure, address.disclosure],
      digests: [a.digest, b.digest, address.digest],
    });
    expectProblem(await post(s.body), 422, 'disclosure-invalid');
  });
  test('bad: a disclosure that is not [salt, field, value]', async () => {
    const notArray = JSON.stringify({ salt: toHex(rnd(32)) });
    const s = craft('customer', { step: 'order', mapId: newMap('disc'), meta: VALID['order']!.meta }, [cust()], {
      disclosures: [notArray],
      digests: [sha256Hex(notArray)],
    });
    expectProblem(await post(s.body), 422, 'disclosure-invalid');
  });
});

describe('signatures verify under a registered key of the signer', () => {
  test('good: ECDSA P-256, Ed25519 and secp256k1 signatures all verify', async () => {
    const hashes = await chain(newMap('sig'), 'pay'); // customer p256, retailer ed25519, payment-provider secp256k1
    expect(hashes).toHaveLength(6);
  });
  test('bad: a signature with one flipped bit → 422 signature-invalid', async () => {
    const s = good('order', newMap('sig'));
    const sig = s.body.signatures[0]!;
    const flipped = (parseInt(sig.sig.slice(-2), 16) ^ 1).toString(16).padStart(2, '0');
    const r = await post({ ...s.body, signatures: [{ ...sig, sig: sig.sig.slice(0, -2) + flipped }] });
    expectProblem(r, 422, 'signature-invalid');
  });
  test('bad: a signature over another link → 422 signature-invalid', async () => {
    const a = good('order', newMap('sig'));
    const b = good('order', newMap('sig'));
    expectProblem(await post({ ...a.body, signatures: b.body.signatures }), 422, 'signature-invalid');
  });
  test('bad: a key id the signer does not have → 422 unknown-key', async () => {
    const s = good('order', newMap('sig'));
    expectProblem(await post({ ...s.body, signatures: [{ ...s.body.signatures[0]!, keyId: 'customer-9' }] }), 422, 'unknown-key');
  });
  test('bad: a signer that is not a participant → 422 unknown-key', async () => {
    const s = good('order', newMap('sig'));
    const stranger = { ...P['customer']!, id: 'nobody-at-all' };
    const extra = { signer: stranger.id, keyId: stranger.keyId, alg: stranger.alg, sig: toHex(sign(stranger.alg, stranger.secretKey, linkMessage(s.hash))) };
    expectProblem(await post({ ...s.body, signatures: [...s.body.signatures, extra] }), 422, 'unknown-key');
  });
  test("bad: the signature's alg is not the key's alg → 422 signature-invalid", async () => {
    const s = good('order', newMap('sig'));
    expect(P['customer']!.alg).toBe('ecdsa-p256');
    expectProblem(await post({ ...s.body, signatures: [{ ...s.body.signatures[0]!, alg: 'ecdsa-secp256k1' }] }), 422, 'signature-invalid');
    expectProblem(await post({ ...s.body, signatures: [{ ...s.body.signatures[0]!, alg: 'ed25519' }] }), 422, 'signature-invalid');
  });
});

describe('keys are current: not revoked, not expired', () => {
  async function newCustomer(id: string, alg: Alg = 'ed25519', expiresAt?: string) {
    const secretKey = secretKeyFrom(alg, rnd);
    const publicKey = toHex(publicKeyFor(alg, secretKey));
    const r = await svc.request('POST', '/v1/participants', {
      body: { id, name: id, roles: ['customer'], keys: [{ keyId: `${id}-1`, alg, publicKey, ...(expiresAt ? { expiresAt } : {}) }] },
    });
    expect(r.status, r.body).toBe(201);
    const k = await svc.request('POST', '/v1/api-keys', { body: { role: 'participant', participantId: id } });
    expect(k.status, k.body).toBe(201);
    return { id, role: 'customer', keyId: `${id}-1`, alg, secretKey, publicKey, apiKey: k.json['secret'] as string } satisfies Party;
  }
  const orderBy = (p: Party, mapId: string, createdAt?: string) =>
    makeSubmission(p, { step: 'order', mapId, ...VALID['order'], ...(createdAt ? { createdAt } : {}) });

  test('revoked key: earlier links stay readable and idempotent; new links are refused (key-revoked); a new key works', async () => {
    const c = await newCustomer('customer-revoking');
    const before = orderBy(c, newMap('rev'));
    const first = await post(before.body, c.apiKey);
    expect(first.status, first.body).toBe(201);

    const revoked = await svc.request('POST', `/v1/participants/${c.id}/keys/${c.keyId}/revoke`, { key: c.apiKey, body: { reason: 'rotated' } });
    expect(revoked.status, revoked.body).toBe(200);
    expect(revoked.json['revokedAt']).toEqual(expect.any(String));

    const read = await svc.request('GET', `/v1/links/${before.hash}`);
    expect(read.status).toBe(200);
    expect(read.json['signatures']).toEqual(before.body.signatures);
    const again = await post(before.body, c.apiKey);
    expect(again.status, again.body).toBe(200);
    expect(again.json['receipt']).toEqual(first.json['receipt']);

    const after = orderBy(c, newMap('rev'));
    expectProblem(await post(after.body, c.apiKey), 422, 'key-revoked');

    const again2 = await svc.request('POST', `/v1/participants/${c.id}/keys/${c.keyId}/revoke`, { key: c.apiKey, body: {} });
    expectProblem(again2, 409, 'conflict');

    const secretKey = secretKeyFrom('ecdsa-secp256k1', rnd);
    const added = await svc.request('POST', `/v1/participants/${c.id}/keys`, {
      key: c.apiKey,
      body: { keyId: `${c.id}-2`, alg: 'ecdsa-secp256k1', publicKey: toHex(publicKeyFor('ecdsa-secp256k1', secretKey)) },
    });
    expect(added.status, added.body).toBe(201);
    const fresh = orderBy({ ...c, keyId: `${c.id}-2`, alg: 'ecdsa-secp256k1', secretKey }, newMap('rev'));
    const ok = await post(fresh.body, c.apiKey);
    expect(ok.status, ok.body).toBe(201);
  });

  test('a key can be revoked with no request body (the reason is optional)', async () => {
    const c = await newCustomer('customer-bodiless');
    const r = await svc.request('POST', `/v1/participants/${c.id}/keys/${c.keyId}/revoke`, { key: c.apiKey });
    expect(r.status, r.body).toBe(200);
    expect(r.json['revokedAt']).toEqual(expect.any(String));
  });

  test('revoking a key that does not exist → 404', async () => {
    expectProblem(await svc.request('POST', '/v1/participants/customer/keys/no-such-key/revoke', { body: {} }), 404, 'not-found');
  });

  test('expired key: accepted before expiry, refused after it (key-expired), while a current key of the same party works', async () => {
    const c = await newCustomer('customer-expiring');
    const secretKey = secretKeyFrom('ed25519', rnd);
    const expiresAt = new Date(Date.now() + svc.clock.offsetMs + 5_000).toISOString();
    const added = await svc.request('POST', `/v1/participants/${c.id}/keys`, {
      key: c.apiKey,
      body: { keyId: 'short-lived', alg: 'ed25519', publicKey: toHex(publicKeyFor('ed25519', secretKey)), expiresAt },
    });
    expect(added.status, added.body).toBe(201);
    expect(added.json['expiresAt']).toBe(expiresAt);
    const shortLived: Party = { ...c, keyId: 'short-lived', alg: 'ed25519', secretKey };

    const early = await post(orderBy(shortLived, newMap('exp')).body, c.apiKey);
    expect(early.status, early.body).toBe(201);

    const offset = 10 * 60_000;
    svc.clock.offsetMs = offset;
    try {
      const serviceNow = () => new Date(Date.now() + offset).toISOString();
      // createdAt on the wall clock is now 10 minutes behind the service clock: clock skew first.
      expectProblem(await post(orderBy(c, newMap('exp'), new Date().toISOString()).body, c.apiKey), 422, 'clock-skew');
      expectProblem(await post(orderBy(shortLived, newMap('exp'), serviceNow()).body, c.apiKey), 422, 'key-expired');
      const current = await post(orderBy(c, newMap('exp'), serviceNow()).body, c.apiKey);
      expect(current.status, current.body).toBe(201);
    } finally {
      svc.clock.offsetMs = 0;
    }
  });

  test('a key that has already expired cannot be added (422 key-invalid)', async () => {
    const secretKey = secretKeyFrom('ed25519', rnd);
    const r = await svc.request('POST', '/v1/participants/customer/keys', {
      body: { keyId: 'too-late', alg: 'ed25519', publicKey: toHex(publicKeyFor('ed25519', secretKey)), expiresAt: '2020-01-01T00:00:00Z' },
    });
    expectProblem(r, 422, 'key-invalid');
  });
});

describe('every required role signed', () => {
  test("bad: the author lacks the step's author role → 422 author-not-allowed", async () => {
    const s = makeSubmission(P['retailer']!, { step: 'order', mapId: newMap('role'), ...VALID['order'] });
    expectProblem(await post(s.body, P['retailer']!.apiKey), 422, 'author-not-allowed');
  });
  test('good: a step with two author roles accepts either (retailer cancels)', async () => {
    const mapId = newMap('role');
    const [o] = await chain(mapId, 'order');
    const s = makeSubmission(P['retailer']!, { step: 'cancel', mapId, prev: [o!], ...VALID['cancel'] });
    const r = await post(s.body, P['retailer']!.apiKey);
    expect(r.status, r.body).toBe(201);
  });
  test('bad: the co-signer role is missing → 422 signer-missing', async () => {
    const mapId = newMap('role');
    const [, confirm] = await chain(mapId, 'confirm');
    const s = makeSubmission(P['manufacturer']!, { step: 'produce', mapId, prev: [confirm!], ...VALID['produce'] });
    expectProblem(await post(s.body), 422, 'signer-missing');
    const cosignedByWrongRole = makeSubmission(P['manufacturer']!, { step: 'produce', mapId, prev: [confirm!], ...VALID['produce'] }, [P['delivery']!]);
    expectProblem(await post(cosignedByWrongRole.body), 422, 'signer-missing');
    const ok = makeSubmission(P['manufacturer']!, { step: 'produce', mapId, prev: [confirm!], ...VALID['produce'] }, [P['retailer']!]);
    expect((await post(ok.body)).status).toBe(201);
  });
  test('bad: the author does not sign (only the co-signer does) → 422 signer-missing', async () => {
    const mapId = newMap('role');
    const [, confirm] = await chain(mapId, 'confirm');
    const s = craft('manufacturer', { step: 'produce', mapId, prev: [confirm!], ...VALID['produce'] }, [P['retailer']!]);
    expectProblem(await post(s.body), 422, 'signer-missing');
  });
});

describe('prev names the current head (409 stale-head, never a silent fork)', () => {
  test('bad: prev names an older link of the map; the problem carries the current heads', async () => {
    const mapId = newMap('head');
    const [order, confirm] = await chain(mapId, 'confirm');
    const s = good('produce', mapId, [order!]);
    const r = await post(s.body);
    expectProblem(r, 409, 'stale-head');
    expect(r.json['heads']).toEqual([confirm]);
    const ok = await post(good('produce', mapId, [confirm!]).body);
    expect(ok.status, ok.body).toBe(201);
  });
  test('bad: a second root for an existing map → 409 with the heads', async () => {
    const mapId = newMap('head');
    const [order] = await chain(mapId, 'order');
    const r = await post(good('order', mapId, [], { meta: { currency: 'USD', total: 5, lines: 1 } }).body);
    expectProblem(r, 409, 'stale-head');
    expect(r.json['heads']).toEqual([order]);
    const map = await svc.request('GET', `/v1/maps/order-to-cash/${mapId}`);
    expect(map.json['links']).toBe(1);
  });
  test('bad: a root under another version of the same process: still the same map → 409', async () => {
    const mapId = newMap('head');
    await chain(mapId, 'order');
    const r = await post(good('order', mapId, [], { processVersion: 2 }).body);
    expectProblem(r, 409, 'stale-head');
  });
});

describe('the step may follow the previous step (422 transition-not-allowed)', () => {
  test('bad: ship right after order', async () => {
    const mapId = newMap('trans');
    const [order] = await chain(mapId, 'order');
    expectProblem(await post(good('ship', mapId, [order!]).body), 422, 'transition-not-allowed');
  });
  test('bad: any step after the final pay', async () => {
    const mapId = newMap('trans');
    const hashes = await chain(mapId, 'pay');
    for (const step of ['pay', 'cancel', 'ship', 'confirm']) {
      expectProblem(await post(good(step, mapId, hashes.slice(-1)).body), 422, 'transition-not-allowed');
    }
  });
  test('bad: confirm with prev [] (it cannot start a map)', async () => {
    expectProblem(await post(good('confirm', newMap('trans')).body), 422, 'transition-not-allowed');
  });
  test('bad: prev names a link of another map', async () => {
    const [otherOrder] = await chain(newMap('trans'), 'order');
    const mapId = newMap('trans');
    await chain(mapId, 'order');
    expectProblem(await post(good('confirm', mapId, [otherOrder!]).body), 422, 'transition-not-allowed');
  });
  test('bad: prev names a link that does not exist, on a map that does not exist', async () => {
    expectProblem(await post(good('confirm', newMap('trans'), ['ab'.repeat(32)]).body), 422, 'transition-not-allowed');
  });
  test('good: confirm after order, cancel after confirm', async () => {
    const mapId = newMap('trans');
    const [, confirm] = await chain(mapId, 'confirm');
    const r = await post(good('cancel', mapId, [confirm!]).body);
    expect(r.status, r.body).toBe(201);
  });
});

describe('refs exist (422 unknown-ref)', () => {
  test('bad: a ref to a link that does not exist', async () => {
    expectProblem(await post(good('order', newMap('ref'), [], { refs: ['cd'.repeat(32)] }).body), 422, 'unknown-ref');
  });
  test('good: a ref to a link of another map; search by ref finds it', async () => {
    const [other] = await chain(newMap('ref'), 'order');
    const s = good('order', newMap('ref'), [], { refs: [other!] });
    const r = await post(s.body);
    expect(r.status, r.body).toBe(201);
    const found = await svc.request('GET', `/v1/links?ref=${other}`);
    expect((found.json.items ?? []).map((i) => i['linkHash'])).toEqual([s.hash]);
  });
});

describe('createdAt is within the allowed clock skew (422 clock-skew)', () => {
  const at = (ms: number) => new Date(Date.now() + ms).toISOString();
  test('bad: 10 minutes in the future', async () => {
    expectProblem(await post(good('order', newMap('skew'), [], { createdAt: at(10 * 60_000) }).body), 422, 'clock-skew');
  });
  test('bad: 10 minutes in the past', async () => {
    expectProblem(await post(good('order', newMap('skew'), [], { createdAt: at(-10 * 60_000) }).body), 422, 'clock-skew');
  });
  test('good: 4 minutes either way', async () => {
    expect((await post(good('order', newMap('skew'), [], { createdAt: at(4 * 60_000) }).body)).status).toBe(201);
    expect((await post(good('order', newMap('skew'), [], { createdAt: at(-4 * 60_000) }).body)).status).toBe(201);
  });
});

describe('a participant key submits only links its participant authors', () => {
  test('bad: the customer key posts a link authored by the retailer → 403 forbidden', async () => {
    const mapId = newMap('auth');
    const [order] = await chain(mapId, 'order');
    const s = good('confirm', mapId, [order!]);
    expectProblem(await post(s.body, P['customer']!.apiKey), 403, 'forbidden');
    const r = await post(s.body, P['retailer']!.apiKey);
    expect(r.status, r.body).toBe(201);
  });
  test('bad: even as a co-signer, a participant cannot submit for the author', async () => {
    const mapId = newMap('auth');
    const [, confirm] = await chain(mapId, 'confirm');
    const s = good('produce', mapId, [confirm!]);
    expectProblem(await post(s.body, P['retailer']!.apiKey), 403, 'forbidden');
    expect((await post(s.body, P['manufacturer']!.apiKey)).status).toBe(201);
  });
});

describe('re-posting an identical link is idempotent', () => {
  test('200, the same receipt, stored once — even after the map has moved on', async () => {
    const mapId = newMap('idem');
    const s = good('order', mapId);
    const first = await post(s.body);
    expect(first.status).toBe(201);
    expect(first.json['created']).toBe(true);
    await post(good('confirm', mapId, [s.hash]).body);
    for (let i = 0; i < 3; i++) {
      const again = await post(s.body);
      expect(again.status, again.body).toBe(200);
      expect(again.json['linkHash']).toBe(s.hash);
      expect(again.json['receipt']).toEqual(first.json['receipt']);
    }
    const found = await svc.request('GET', `/v1/links?mapId=${mapId}&step=order`);
    expect(found.json.items).toHaveLength(1);
    const map = await svc.request('GET', `/v1/maps/order-to-cash/${mapId}`);
    expect(map.json['links']).toBe(2);
  });
  test('concurrent identical posts of a first link: one 201, the rest 200 with the same receipt, stored once', async () => {
    // Five maps, eight identical posts each: the race is timing-dependent, so give it several chances.
    const outcomes: string[] = [];
    for (let round = 0; round < 5; round++) {
      const mapId = newMap('idem');
      const s = good('order', mapId);
      const rs = await Promise.all(Array.from({ length: 8 }, () => post(s.body)));
      const statuses = rs.map((r) => r.status).sort();
      outcomes.push(`${statuses.join(',')} ${rs.find((r) => r.status >= 400)?.body ?? ''}`);
      expect(new Set(rs.filter((r) => r.status < 300).map((r) => JSON.stringify(r.json['receipt']))).size).toBe(1);
      expect((await svc.request('GET', `/v1/maps/order-to-cash/${mapId}`)).json['links']).toBe(1);
    }
    expect(outcomes.filter((o) => !o.startsWith('200,200,200,200,200,200,200,201 '))).toEqual([]);
  });
  test('concurrent identical posts of a following link: one 201, the rest 200, stored once', async () => {
    const mapId = newMap('idem');
    const [order] = await chain(mapId, 'order');
    const s = good('confirm', mapId, [order!]);
    const rs = await Promise.all(Array.from({ length: 6 }, () => post(s.body)));
    expect(rs.map((r) => r.status).sort(), rs.map((r) => r.body).join('\n')).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(rs.map((r) => JSON.stringify(r.json['receipt']))).size).toBe(1);
    const map = await svc.request('GET', `/v1/maps/order-to-cash/${mapId}`);
    expect(map.json['links']).toBe(2);
  });
});

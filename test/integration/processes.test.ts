// Process definitions and participants over HTTP: registration, versions, and precise refusals.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ORDER_TO_CASH, type TestService, startTestService } from '../helpers/service.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ process: false });
});
afterAll(async () => svc?.close());

const PROBLEM = 'https://proof-of-process.dev/problems/';
const minimal = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  title: 'Minimal',
  roles: ['customer'],
  steps: { start: { authors: ['customer'], signers: [], after: [], meta: { type: 'object' } }, ...extra },
});

describe('processes', () => {
  test('register, get, list, new versions', async () => {
    const r = await svc.request('POST', '/v1/processes', { body: ORDER_TO_CASH });
    expect(r.status, r.body).toBe(201);
    expect(r.json).toMatchObject({ id: 'order-to-cash', version: 1 });
    expect(r.json['hash']).toMatch(/^[0-9a-f]{64}$/);
    const again = await svc.request('POST', '/v1/processes', { body: ORDER_TO_CASH });
    expect(again.status).toBe(409);
    const v2 = await svc.request('POST', '/v1/processes/order-to-cash/versions', { body: { ...ORDER_TO_CASH, title: 'Order to cash, v2' } });
    expect(v2.status).toBe(201);
    expect(v2.json['version']).toBe(2);
    expect((await svc.request('GET', '/v1/processes/order-to-cash')).json['version']).toBe(2);
    expect((await svc.request('GET', '/v1/processes/order-to-cash?version=1')).json['definition']).toEqual(ORDER_TO_CASH);
    expect((await svc.request('GET', '/v1/processes/order-to-cash?version=9')).status).toBe(404);
    expect((await svc.request('GET', '/v1/processes/order-to-cash/versions')).json.items).toHaveLength(2);
    const list = await svc.request('GET', '/v1/processes');
    expect(list.json.items!.map((p) => [p['id'], p['version']])).toEqual([['order-to-cash', 2]]);
    const mismatch = await svc.request('POST', '/v1/processes/order-to-cash/versions', { body: minimal('other') });
    expect(mismatch.json['type']).toBe(`${PROBLEM}process-invalid`);
    expect((await svc.request('POST', '/v1/processes/nope/versions', { body: minimal('nope') })).status).toBe(404);
  });

  test.each<[string, unknown, RegExp, Record<string, unknown>?]>([
    ['missing roles', { id: 'p1', title: 't', steps: {} }, /must have required property 'roles'/],
    ['an unknown member', { ...minimal('p2'), colour: 'red' }, /additionalProperty|colour/],
    ['a step naming an unknown role', minimal('p3', { next: { authors: ['ghost'], signers: [], after: ['start'] } }), /role ghost/, { step: 'next' }],
    ['a step following an unknown step', minimal('p4', { next: { authors: ['customer'], signers: [], after: ['nowhere'] } }), /unknown step nowhere/],
    ['no step that starts a map', { ...minimal('p5'), steps: { a: { authors: ['customer'], signers: [], after: ['a'] } } }, /starts a map/],
    ['a step schema that does not compile', minimal('p6', { bad: { authors: ['customer'], signers: [], after: ['start'], meta: { type: 'strnig' } } }), /step bad: the meta schema does not compile/, { step: 'bad', schemaPath: '/steps/bad/meta' }],
    ['an unknown schema keyword', minimal('p7', { bad: { authors: ['customer'], signers: [], after: ['start'], private: { type: 'object', requird: ['x'] } } }), /private schema does not compile/, { schemaPath: '/steps/bad/private' }],
    ['a remote $ref', minimal('p8', { bad: { authors: ['customer'], signers: [], after: ['start'], meta: { $ref: 'https://example.com/s.json' } } }), /not a local JSON pointer/],
    ['a step following a final step', minimal('p9', { end: { authors: ['customer'], signers: [], after: ['start'], final: true }, more: { authors: ['customer'], signers: [], after: ['end'] } }), /final/],
  ])('refuses %s with a precise process-invalid', async (_, body, detail, extra) => {
    const r = await svc.request('POST', '/v1/processes', { body });
    expect(r.status).toBe(422);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json['type']).toBe(`${PROBLEM}process-invalid`);
    expect(r.json['detail']).toMatch(detail);
    if (extra) expect(r.json).toMatchObject(extra);
    expect((await svc.request('GET', `/v1/processes/${(body as { id: string }).id}`)).status).toBe(404);
  });

  test('a definition over 256 KiB is too large', async () => {
    const r = await svc.request('POST', '/v1/processes', { body: { ...minimal('big'), description: 'x'.repeat(300_000) } });
    expect(r.status).toBe(413);
  });
});

describe('participants and keys', () => {
  test('duplicates conflict; invalid keys are refused with the reason', async () => {
    expect((await svc.request('POST', '/v1/participants', { body: { id: 'customer', name: 'again', roles: [] } })).status).toBe(409);
    const smallOrder = await svc.request('POST', '/v1/participants/retailer/keys', { body: { keyId: 'bad', alg: 'ed25519', publicKey: '01' + '00'.repeat(31) } });
    expect(smallOrder.status).toBe(422);
    expect(smallOrder.json['type']).toBe(`${PROBLEM}key-invalid`);
    const offCurve = await svc.request('POST', '/v1/participants/retailer/keys', { body: { keyId: 'bad2', alg: 'ecdsa-p256', publicKey: '02' + '00'.repeat(31) + '07' } });
    expect(offCurve.json['type']).toBe(`${PROBLEM}key-invalid`);
    const expired = await svc.request('POST', '/v1/participants/retailer/keys', { body: { keyId: 'old', alg: 'ed25519', publicKey: svc.parties['retailer']!.publicKey, expiresAt: '2020-01-01T00:00:00Z' } });
    expect(expired.json['type']).toBe(`${PROBLEM}key-invalid`);
    const dup = await svc.request('POST', '/v1/participants/retailer/keys', { body: { keyId: 'retailer-1', alg: 'ed25519', publicKey: svc.parties['retailer']!.publicKey } });
    expect(dup.status).toBe(409);
  });

  test('revoking: once, then conflict; unknown keys are 404; a participant manages only its own keys', async () => {
    const own = svc.parties['delivery']!;
    const other = await svc.request('POST', '/v1/participants/retailer/keys/retailer-1/revoke', { key: own.apiKey, body: {} });
    expect(other.status).toBe(403);
    const r = await svc.request('POST', `/v1/participants/${own.id}/keys/${own.keyId}/revoke`, { key: own.apiKey, body: { reason: 'rotated' } });
    expect(r.status).toBe(200);
    expect(r.json['revokedAt']).toMatch(/Z$/);
    expect((await svc.request('POST', `/v1/participants/${own.id}/keys/${own.keyId}/revoke`, { body: {} })).status).toBe(409);
    expect((await svc.request('POST', `/v1/participants/${own.id}/keys/nope/revoke`, { body: {} })).status).toBe(404);
    const keys = (await svc.request('GET', `/v1/participants/${own.id}`)).json['keys'] as { keyId: string; revokedAt: string | null }[];
    expect(keys.find((k) => k.keyId === own.keyId)?.revokedAt).toBeTruthy();
  });
});

// Link intake over real HTTP handling and a real database: the happy path of the five-party
// process, the receipt, idempotent re-posts, reading back, and the private data's separation.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fromHex, nobleVerifier, receiptMessage } from '../../src/core/index.js';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => svc?.close());

describe('a whole order, step by step', () => {
  test('every step is accepted with a receipt that verifies under the notary key', async () => {
    const p = svc.parties;
    const steps: [string, keyof typeof p, (keyof typeof p)[]][] = [
      ['order', 'customer', []],
      ['confirm', 'retailer', []],
      ['produce', 'manufacturer', ['retailer']],
      ['ship', 'delivery', []],
      ['deliver', 'delivery', ['customer']],
      ['pay', 'payment-provider', ['customer']],
    ];
    let prev: string[] = [];
    for (const [step, author, cos] of steps) {
      const s = makeSubmission(p[author]!, { step, mapId: 'order-1', prev, ...VALID[step] }, cos.map((c) => p[c]!));
      const r = await svc.request('POST', '/v1/links', { key: p[author]!.apiKey, body: s.body });
      expect(r.status, r.body).toBe(201);
      expect(r.json['linkHash']).toBe(s.hash);
      const receipt = r.json['receipt'] as { acceptedAt: string; sig: string; notary: { publicKey: string } };
      expect(receipt.notary.publicKey).toBe(svc.notaryPublicKey);
      expect(nobleVerifier.verify('ed25519', fromHex(svc.notaryPublicKey), receiptMessage(s.hash, receipt.acceptedAt), fromHex(receipt.sig))).toBe(true);
      prev = [s.hash];
    }
    const map = await svc.request('GET', '/v1/maps/order-to-cash/order-1');
    expect(map.status).toBe(200);
    expect(map.json['links']).toBe(6);
    expect(map.json['heads']).toEqual(prev);
    expect((map.json.items ?? []).map((l) => (l['link'] as { step: string }).step)).toEqual(steps.map((s) => s[0]));
  });

  test('re-posting an identical link answers 200 with the first receipt, and stores it once', async () => {
    const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'order-idem', ...VALID['order'] });
    const first = await svc.request('POST', '/v1/links', { body: s.body });
    const again = await svc.request('POST', '/v1/links', { body: s.body });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.json['receipt']).toEqual(first.json['receipt']);
    const found = await svc.request('GET', '/v1/links?mapId=order-idem');
    expect(found.json.items).toHaveLength(1);
  });

  test('a retry long after the first post (past the clock-skew window) still answers 200 with the first receipt', async () => {
    const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'order-late-retry', ...VALID['order'] });
    const first = await svc.request('POST', '/v1/links', { body: s.body });
    expect(first.status, first.body).toBe(201);
    svc.clock.offsetMs += 3_600_000;
    try {
      const late = await svc.request('POST', '/v1/links', { body: s.body });
      expect(late.status, late.body).toBe(200);
      expect(late.json['receipt']).toEqual(first.json['receipt']);
      // In a batch too, beside a new link that is checked as usual (and refused: its createdAt is an hour old now).
      const other = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'order-late-other', ...VALID['order'] });
      const batch = await svc.request('POST', '/v1/links/batch', { body: { links: [s.body, other.body] } });
      expect(batch.status, batch.body).toBe(422);
      expect(batch.json['type']).toBe('https://proof-of-process.dev/problems/clock-skew');
      expect(batch.json['index']).toBe(1);
      const alone = await svc.request('POST', '/v1/links/batch', { body: { links: [s.body] } });
      expect(alone.status, alone.body).toBe(200);
      expect((alone.json.items ?? [])[0]?.['receipt']).toEqual(first.json['receipt']);
    } finally {
      svc.clock.offsetMs -= 3_600_000;
    }
  });

  test('the public record is the signed link, byte for byte, and holds no private value', async () => {
    const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'order-pub', ...VALID['order'] });
    await svc.request('POST', '/v1/links', { body: s.body });
    const r = await svc.request('GET', `/v1/links/${s.hash}`, { key: svc.parties['retailer']!.apiKey });
    expect(r.status).toBe(200);
    expect(r.json['link']).toEqual(s.body.link);
    expect(r.body).not.toContain('Camille');
    expect(r.body).not.toContain('Rue de la Paix');
  });

  test('private data: the author and an admin read it; other participants may not', async () => {
    const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'order-priv', ...VALID['order'] });
    await svc.request('POST', '/v1/links', { body: s.body });
    const own = await svc.request('GET', `/v1/links/${s.hash}/private`, { key: svc.parties['customer']!.apiKey });
    expect(own.status).toBe(200);
    expect(own.json['fields']).toEqual(VALID['order']!.private);
    expect((await svc.request('GET', `/v1/links/${s.hash}/private`)).status).toBe(200);
    const other = await svc.request('GET', `/v1/links/${s.hash}/private`, { key: svc.parties['retailer']!.apiKey });
    expect(other.status).toBe(403);
    expect(other.headers['content-type']).toContain('application/problem+json');
    expect(other.body).not.toContain('Camille');
  });
});

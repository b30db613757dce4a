// Concurrency and atomicity of link intake: many appends racing for one head (exactly one wins, the
// others get 409 stale-head, the map stays one chain and nothing accepted is lost), and the batch
// endpoint (all or nothing, the failing index named).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publicKeyFor, secretKeyFrom, toHex } from '../../src/core/index.js';
import { type Party, type Response, type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

const PROBLEM = 'https://proof-of-process.dev/problems/';
const rnd = (n: number) => new Uint8Array(randomBytes(n));

/** A process whose one step may follow itself, so a map can grow a chain of any length. */
const LOOP = {
  id: 'race-loop',
  title: 'A loop for races',
  roles: ['clerk'],
  forks: false,
  steps: {
    start: { authors: ['clerk'], signers: [], after: [], meta: { type: 'object' } },
    tick: {
      authors: ['clerk'],
      signers: [],
      after: ['start', 'tick'],
      meta: {
        type: 'object',
        additionalProperties: false,
        required: ['round', 'n'],
        properties: { round: { type: 'integer' }, n: { type: 'integer' } },
      },
    },
  },
};

let svc: TestService;
let clerk: Party;
beforeAll(async () => {
  svc = await startTestService();
  const reg = await svc.request('POST', '/v1/processes', { body: LOOP });
  expect(reg.status, reg.body).toBe(201);
  const secretKey = secretKeyFrom('ed25519', rnd);
  const publicKey = toHex(publicKeyFor('ed25519', secretKey));
  const added = await svc.request('POST', '/v1/participants', { body: { id: 'clerk', name: 'Clerk', roles: ['clerk'], keys: [{ keyId: 'clerk-1', alg: 'ed25519', publicKey }] } });
  expect(added.status, added.body).toBe(201);
  const key = await svc.request('POST', '/v1/api-keys', { body: { role: 'participant', participantId: 'clerk' } });
  clerk = { id: 'clerk', role: 'clerk', keyId: 'clerk-1', alg: 'ed25519', secretKey, publicKey, apiKey: key.json['secret'] as string };
});
afterAll(async () => svc?.close());

function expectProblem(r: Response, status: number, code: string): void {
  expect(r.status, r.body).toBe(status);
  expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(r.json['type'], r.body).toBe(PROBLEM + code);
}

const tick = (mapId: string, prev: string[], round: number, n: number) =>
  makeSubmission(clerk, { process: 'race-loop', step: 'tick', mapId, prev, meta: { round, n } });

describe('the 409 race: many appends naming the same head', () => {
  test('12 rounds × 10 concurrent appends: exactly one 201 per round, the rest 409 stale-head; one chain, nothing lost', async () => {
    const ROUNDS = 12;
    const WIDTH = 10;
    const mapId = 'race-1';
    const root = makeSubmission(clerk, { process: 'race-loop', step: 'start', mapId, meta: {} });
    expect((await svc.request('POST', '/v1/links', { key: clerk.apiKey, body: root.body })).status).toBe(201);

    let head = root.hash;
    const winners: string[] = [root.hash];
    const losers: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const subs = Array.from({ length: WIDTH }, (_, n) => tick(mapId, [head], round, n));
      const rs = await Promise.all(subs.map((s) => svc.request('POST', '/v1/links', { key: clerk.apiKey, body: s.body })));
      const won = rs.flatMap((r, i) => (r.status === 201 ? [i] : []));
      expect(won, rs.map((r) => `${r.status} ${r.body}`).join('\n')).toHaveLength(1);
      const w = won[0]!;
      expect(rs[w]!.json['linkHash']).toBe(subs[w]!.hash);
      for (const [i, r] of rs.entries()) {
        if (i === w) continue;
        expectProblem(r, 409, 'stale-head');
        expect(r.json['heads']).toEqual([subs[w]!.hash]);
        losers.push(subs[i]!.hash);
      }
      head = subs[w]!.hash;
      winners.push(head);
    }

    const map = await svc.request('GET', `/v1/maps/race-loop/${mapId}?limit=500`);
    expect(map.status).toBe(200);
    expect(map.json['links']).toBe(ROUNDS + 1);
    expect(map.json['heads']).toEqual([head]);
    const items = (map.json.items ?? []) as { linkHash: string; link: { prev: string[] } }[];
    expect(items.map((i) => i.linkHash)).toEqual(winners);
    items.forEach((item, i) => expect(item.link.prev).toEqual(i === 0 ? [] : [items[i - 1]!.linkHash]));

    for (const h of winners) expect((await svc.request('GET', `/v1/links/${h}`)).status).toBe(200);
    for (const h of losers.slice(0, 20)) expectProblem(await svc.request('GET', `/v1/links/${h}`), 404, 'not-found');
    const search = await svc.request('GET', `/v1/links?process=race-loop&mapId=${mapId}&limit=500`);
    expect(search.json.items).toHaveLength(ROUNDS + 1);
  });

  test('10 concurrent different roots for one new map: one 201, the rest 409', async () => {
    const mapId = 'race-roots';
    const subs = Array.from({ length: 10 }, (_, n) => makeSubmission(clerk, { process: 'race-loop', step: 'start', mapId, meta: { n } }));
    const rs = await Promise.all(subs.map((s) => svc.request('POST', '/v1/links', { key: clerk.apiKey, body: s.body })));
    const won = rs.flatMap((r, i) => (r.status === 201 ? [i] : []));
    expect(won).toHaveLength(1);
    for (const [i, r] of rs.entries()) if (i !== won[0]) expectProblem(r, 409, 'stale-head');
    const map = await svc.request('GET', `/v1/maps/race-loop/${mapId}`);
    expect(map.json['links']).toBe(1);
    expect(map.json['heads']).toEqual([subs[won[0]!]!.hash]);
  });

  test('batches naming the same two maps in opposite orders never deadlock: per round one wins whole, the other is 409 (never 503)', async () => {
    const starts = ['race-x', 'race-y'].map((mapId) => makeSubmission(clerk, { process: 'race-loop', step: 'start', mapId, meta: {} }));
    for (const st of starts) expect((await svc.request('POST', '/v1/links', { key: clerk.apiKey, body: st.body })).status).toBe(201);
    const heads = { 'race-x': [starts[0]!.hash], 'race-y': [starts[1]!.hash] } as Record<string, string[]>;
    for (let round = 0; round < 8; round++) {
      const a = [tick('race-x', heads['race-x']!, round, 1), tick('race-y', heads['race-y']!, round, 1)];
      const b = [tick('race-y', heads['race-y']!, round, 2), tick('race-x', heads['race-x']!, round, 2)];
      const rs = await Promise.all([a, b].map((subs) => svc.request('POST', '/v1/links/batch', { key: clerk.apiKey, body: { links: subs.map((x) => x.body) } })));
      expect(rs.map((r) => r.status).sort(), rs.map((r) => r.body).join('\n')).toEqual([201, 409]);
      const won = rs[0]!.status === 201 ? a : b;
      for (const w of won) heads[(w.body.link as { mapId: string }).mapId] = [w.hash];
    }
  });

  test('8 concurrent batches of 2 links on one head: one batch wins whole, the others are refused whole', async () => {
    const mapId = 'race-batches';
    const root = makeSubmission(clerk, { process: 'race-loop', step: 'start', mapId, meta: {} });
    expect((await svc.request('POST', '/v1/links', { body: root.body })).status).toBe(201);
    const batches = Array.from({ length: 8 }, (_, n) => {
      const a = tick(mapId, [root.hash], 100, n);
      const b = tick(mapId, [a.hash], 101, n);
      return [a, b];
    });
    const rs = await Promise.all(batches.map((b) => svc.request('POST', '/v1/links/batch', { body: { links: b.map((s) => s.body) } })));
    const won = rs.flatMap((r, i) => (r.status === 201 ? [i] : []));
    expect(won, rs.map((r) => r.body).join('\n')).toHaveLength(1);
    for (const [i, r] of rs.entries()) {
      if (i === won[0]) continue;
      expectProblem(r, 409, 'stale-head');
      expect(r.json['index']).toBe(0);
      for (const s of batches[i]!) expect((await svc.request('GET', `/v1/links/${s.hash}`)).status).toBe(404);
    }
    const map = await svc.request('GET', `/v1/maps/race-loop/${mapId}`);
    expect(map.json['links']).toBe(3);
    expect(map.json['heads']).toEqual([batches[won[0]!]![1]!.hash]);
  });
});

describe('POST /v1/links/batch: all or nothing', () => {
  const p = () => svc.parties;
  const orderConfirmProduce = (mapId: string) => {
    const o = makeSubmission(p()['customer']!, { step: 'order', mapId, ...VALID['order'] });
    const c = makeSubmission(p()['retailer']!, { step: 'confirm', mapId, prev: [o.hash], ...VALID['confirm'] });
    const m = makeSubmission(p()['manufacturer']!, { step: 'produce', mapId, prev: [c.hash], ...VALID['produce'] }, [p()['retailer']!]);
    return [o, c, m];
  };

  test('good: a chain of 3 links of one map → 201 with 3 receipts, all stored, in order', async () => {
    const subs = orderConfirmProduce('batch-good');
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: subs.map((s) => s.body) } });
    expect(r.status, r.body).toBe(201);
    const items = (r.json.items ?? []) as { linkHash: string; created: boolean; receipt: { linkHash: string; sig: string } }[];
    expect(items.map((i) => i.linkHash)).toEqual(subs.map((s) => s.hash));
    for (const i of items) {
      expect(i.created).toBe(true);
      expect(i.receipt.linkHash).toBe(i.linkHash);
      expect(i.receipt.sig).toMatch(/^[0-9a-f]{128}$/);
    }
    for (const s of subs) expect((await svc.request('GET', `/v1/links/${s.hash}`)).status).toBe(200);
    const map = await svc.request('GET', '/v1/maps/order-to-cash/batch-good');
    expect(map.json['links']).toBe(3);
    expect(map.json['heads']).toEqual([subs[2]!.hash]);

    const again = await svc.request('POST', '/v1/links/batch', { body: { links: subs.map((s) => s.body) } });
    expect(again.status, again.body).toBe(200);
    expect((again.json.items ?? []).map((i) => i['receipt'])).toEqual(items.map((i) => i.receipt));
  });

  test('good: one link twice in a batch is stored once; the second answers as a replay of the first', async () => {
    const [o, c] = orderConfirmProduce('batch-twice');
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: [o!.body, o!.body, c!.body] } });
    expect(r.status, r.body).toBe(201);
    const items = (r.json.items ?? []) as { linkHash: string; created: boolean; receipt: unknown }[];
    expect(items.map((i) => [i.linkHash, i.created])).toEqual([[o!.hash, true], [o!.hash, false], [c!.hash, true]]);
    expect(items[1]!.receipt).toEqual(items[0]!.receipt);
    const map = await svc.request('GET', '/v1/maps/order-to-cash/batch-twice');
    expect(map.json['links']).toBe(2);
    expect((await svc.request('GET', '/v1/links?mapId=batch-twice')).json.items).toHaveLength(2);
  });

  test('good: a batch mixing stored links and new ones: the stored answer with their first receipts, the new are stored', async () => {
    const [o, c, m] = orderConfirmProduce('batch-mixed');
    const first = await svc.request('POST', '/v1/links/batch', { body: { links: [o!.body, c!.body] } });
    expect(first.status, first.body).toBe(201);
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: [o!.body, c!.body, m!.body] } });
    expect(r.status, r.body).toBe(201);
    const items = (r.json.items ?? []) as { linkHash: string; created: boolean; receipt: unknown }[];
    expect(items.map((i) => i.created)).toEqual([false, false, true]);
    expect(items.slice(0, 2).map((i) => i.receipt)).toEqual(((first.json.items ?? []) as { receipt: unknown }[]).map((i) => i.receipt));
    expect((await svc.request('GET', '/v1/maps/order-to-cash/batch-mixed')).json['heads']).toEqual([m!.hash]);
  });

  const expectNothingStored = async (mapId: string, hashes: string[]) => {
    for (const h of hashes) expectProblem(await svc.request('GET', `/v1/links/${h}`), 404, 'not-found');
    expectProblem(await svc.request('GET', `/v1/maps/order-to-cash/${mapId}`), 404, 'not-found');
    expect((await svc.request('GET', `/v1/links?mapId=${mapId}`)).json.items).toEqual([]);
  };

  test('bad: the 3rd link has a bad signature → 422 with index 2, none stored', async () => {
    const subs = orderConfirmProduce('batch-badsig');
    const third = subs[2]!.body;
    const sig = third.signatures[0]!;
    const bad = { ...third, signatures: [{ ...sig, sig: sig.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) }, third.signatures[1]!] };
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: [subs[0]!.body, subs[1]!.body, bad] } });
    expectProblem(r, 422, 'signature-invalid');
    expect(r.json['index']).toBe(2);
    await expectNothingStored('batch-badsig', subs.map((s) => s.hash));
  });

  test('bad: the 3rd link breaks a transition (found while storing) → 422 with index 2, the first two rolled back', async () => {
    const [o, c] = orderConfirmProduce('batch-badtrans');
    const ship = makeSubmission(p()['delivery']!, { step: 'ship', mapId: 'batch-badtrans', prev: [c!.hash], ...VALID['ship'] });
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: [o!.body, c!.body, ship.body] } });
    expectProblem(r, 422, 'transition-not-allowed');
    expect(r.json['index']).toBe(2);
    await expectNothingStored('batch-badtrans', [o!.hash, c!.hash, ship.hash]);
    expect(r.body).not.toContain('SECRET-TRACKING');
  });

  test('bad: the 3rd link is a second root of the map → 409 stale-head with index 2, none stored', async () => {
    const [o, c] = orderConfirmProduce('batch-badroot');
    const root2 = makeSubmission(p()['customer']!, { step: 'order', mapId: 'batch-badroot', ...VALID['order'], meta: { currency: 'USD', total: 1, lines: 1 } });
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: [o!.body, c!.body, root2.body] } });
    expectProblem(r, 409, 'stale-head');
    expect(r.json['index']).toBe(2);
    await expectNothingStored('batch-badroot', [o!.hash, c!.hash, root2.hash]);
  });

  test('bad: the 3rd link is malformed → 400 with index 2, none stored', async () => {
    const subs = orderConfirmProduce('batch-malformed');
    const bad = { ...subs[2]!.body, link: { ...subs[2]!.body.link, v: 2 } };
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: [subs[0]!.body, subs[1]!.body, bad] } });
    expectProblem(r, 400, 'malformed');
    expect(r.json['index']).toBe(2);
    await expectNothingStored('batch-malformed', subs.map((s) => s.hash));
  });

  test("bad: a participant's batch holding a link authored by another → 403 with its index, none stored", async () => {
    const subs = orderConfirmProduce('batch-forbidden');
    const r = await svc.request('POST', '/v1/links/batch', { key: p()['customer']!.apiKey, body: { links: subs.slice(0, 2).map((s) => s.body) } });
    expectProblem(r, 403, 'forbidden');
    expect(r.json['index']).toBe(1);
    await expectNothingStored('batch-forbidden', subs.map((s) => s.hash));
  });

  test('bad: over the size limit (1001 links) → a 400 or 413 problem', async () => {
    const one = makeSubmission(p()['customer']!, { step: 'order', mapId: 'batch-big', ...VALID['order'] }).body;
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: Array.from({ length: 1001 }, () => one) } });
    expect([400, 413], r.body).toContain(r.status);
    expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
    expect(r.json['type']).toBe(PROBLEM + (r.status === 413 ? 'too-large' : 'malformed'));
    expectProblem(await svc.request('GET', '/v1/maps/order-to-cash/batch-big'), 404, 'not-found');
  });

  test('bad: an empty batch → 400', async () => {
    expectProblem(await svc.request('POST', '/v1/links/batch', { body: { links: [] } }), 400, 'malformed');
  });

  test('bad: not a batch (links missing, not an array, an unknown member) → 400', async () => {
    expectProblem(await svc.request('POST', '/v1/links/batch', { body: {} }), 400, 'malformed');
    expectProblem(await svc.request('POST', '/v1/links/batch', { body: { links: {} } }), 400, 'malformed');
    const one = makeSubmission(p()['customer']!, { step: 'order', mapId: 'batch-x', ...VALID['order'] }).body;
    expectProblem(await svc.request('POST', '/v1/links/batch', { body: { links: [one], extra: true } }), 400, 'malformed');
  });
});

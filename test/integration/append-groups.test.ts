// Single appends stored in groups (issue 8, migrations/006_append_groups.sql): appends that arrive
// while others are being stored go together in one `pop_append(items, true)` call. The invariants:
// every link of a group gets the verdict it would get alone, a refused link leaves nothing behind
// (its checks all come before its writes), and only the link whose data breaks the call sees the
// error (src/ledger/links.ts #appendGroup retries a group in halves on SQLSTATE classes 22 and 23);
// any other failure fails the whole group, whose requests may retry since nothing was stored.
import type { AppendItem } from '../../src/ledger/links.js';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fromHex, nobleVerifier, publicKeyFor, receiptMessage, secretKeyFrom, toHex } from '../../src/core/index.js';
import { migrate } from '../../src/db/migrate.js';
import { type TestDatabase, createTestDatabase } from '../helpers/db.js';
import { hear } from '../helpers/events.js';
import { type Party, type Response, type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';
import { parseMetrics } from '../../bench/service-metrics.js';

const PROBLEM = 'https://proof-of-process.dev/problems/';
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** One link as pop_append takes it. */
type Item = AppendItem;

interface Refusal {
  errcode: string;
  code: string;
  detail: Record<string, unknown>;
}

/** pop_append's answer for one item. */
type Answer = { hash: string; created: boolean; accepted_at: string; receipt_sig: string } | { hash: string; refused: Refusal };

/** How many rows of links, unsealed_links and private_data the links `hashes` have. */
async function rowsFor(pool: pg.Pool, hashes: string[]): Promise<Record<string, number>> {
  const { rows } = await pool.query<Record<string, number>>(
    `SELECT (SELECT count(*) FROM links WHERE hash = ANY($1))::int AS links,
            (SELECT count(*) FROM unsealed_links WHERE link_hash = ANY($1))::int AS unsealed,
            (SELECT count(*) FROM private_data WHERE link_hash = ANY($1))::int AS private`,
    [hashes],
  );
  return rows[0]!;
}

const stored = (it: Item, created = true): Answer => ({ hash: it.hash, created, accepted_at: it.accepted_at, receipt_sig: it.receipt_sig });
const refused = (it: Item, errcode: string, code: string, detail: Record<string, unknown> = {}): Answer => ({
  hash: it.hash,
  refused: { errcode, code, detail: { index: it.index, ...detail } },
});

describe('pop_append(items, independent), called directly', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    await migrate(pool);
    await pool.query(`INSERT INTO processes (id, version, definition, hash) VALUES ('p', 1, '{}', $1)`, ['0'.repeat(64)]);
    await pool.query(`INSERT INTO participants (id, name, roles) VALUES ('alice', 'Alice', '{clerk}')`);
    await pool.query(
      `INSERT INTO participant_keys (participant_id, key_id, alg, public_key, revoked_at) VALUES
         ('alice', 'live', 'ed25519', 'aa', NULL),
         ('alice', 'revoked', 'ed25519', 'bb', now() - interval '1 hour'),
         ('alice', 'revoked-later', 'ed25519', 'cc', now() + interval '1 hour')`,
    );
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** A link of process p: `start` begins a map, `next` follows `start` or `next`; private data sealed. */
  const item = (mapId: string, over: Partial<Item> = {}): Item => {
    const at = new Date().toISOString();
    return {
      hash: hex(32), process: 'p', version: 1, map_id: mapId, step: 'start', author: 'alice', created_at: at,
      prev: [], refs: [], tags: ['t'], canonical: '{}', signatures: [], accepted_at: at, accepted_ts: at, receipt_sig: hex(64),
      keys: [['alice', 'live']], private: { key_id: 'dk', iv: hex(12), ciphertext: hex(24), tag: hex(16) },
      starts: true, after: [], finals: [], forks: false, index: null,
      ...over,
    };
  };
  const next = (mapId: string, prev: string[], over: Partial<Item> = {}) => item(mapId, { step: 'next', prev, starts: false, after: ['start', 'next'], ...over });

  const call = async (items: Item[], independent: boolean): Promise<Answer[]> =>
    (await pool.query<{ r: Answer[] }>('SELECT pop_append($1::jsonb, $2) AS r', [JSON.stringify(items), independent])).rows[0]!.r;
  const raised = async (items: Item[]): Promise<Refusal> => {
    const e = (await call(items, false).then(() => undefined, (x: unknown) => x)) as { code?: string; message?: string; detail?: string } | undefined;
    expect(e, 'pop_append(items, false) should raise').toBeDefined();
    return { errcode: e!.code!, code: e!.message!, detail: JSON.parse(e!.detail ?? 'null') as Record<string, unknown> };
  };
  const counts = async () =>
    (await pool.query<Record<string, number>>(`SELECT (SELECT count(*) FROM links)::int AS links, (SELECT count(*) FROM maps)::int AS maps,
       (SELECT count(*) FROM unsealed_links)::int AS unsealed, (SELECT count(*) FROM private_data)::int AS private`)).rows[0]!;
  const map = async (mapId: string) =>
    (await pool.query<{ heads: string[]; links: number }>(`SELECT heads, links FROM maps WHERE process = 'p' AND map_id = $1`, [mapId])).rows[0];

  test('one call: one answer per item, in order; refused items are answered and leave nothing; the others are stored', async () => {
    // An existing map of two links: R, then R2.
    const r = item('m-old');
    const r2 = next('m-old', [r.hash]);
    expect(await call([r, r2], false)).toEqual([stored(r), stored(r2)]);

    const missing = hex(32);
    const v = item('m-new');
    const a = item('m-a');
    const a2 = item('m-b');
    const items: Item[] = [
      v,
      item('m-old'), // a second root of an existing map
      item('m-u', { refs: [missing] }),
      next('m-c', []), // a step that cannot start a map
      { ...v, accepted_at: '2001-01-01T00:00:00.000Z', receipt_sig: hex(64) }, // v again, as a second request would send it
      a,
      next('m-a', [a.hash]), // chains on an item of this very call
      next('m-b', [a2.hash]), // before its A2: no map yet
      a2,
      next('m-old', [r.hash]), // a head that has moved on
      next('m-old', [a.hash]), // a prev of another map
      item('m-old', { step: 'other', prev: [r2.hash], starts: false, after: ['start'] }), // may not follow `next`
      item('m-old', { step: 'other', prev: [r2.hash], starts: false, after: ['next'], finals: ['next'] }), // `next` is final here
      item('m-k', { keys: [['alice', 'live'], ['alice', 'revoked']] }), // signed with a key revoked before acceptance
      item('m-k2', { keys: [['alice', 'revoked-later']] }), // revoked only after acceptance: valid
    ].map((it, index) => ({ ...it, index }));
    const [V, S, U, C, Vagain, A, B, B2, A2, T, F, M, Z, K, L] = items;
    const expected: Answer[] = [
      stored(V!),
      refused(S!, 'PP409', 'map-exists', { heads: [r2.hash] }),
      refused(U!, 'PP422', 'unknown-ref', { missing: [missing] }),
      refused(C!, 'PP422', 'cannot-start'),
      { hash: v.hash, created: false, accepted_at: V!.accepted_at, receipt_sig: V!.receipt_sig }, // the first's receipt, not its own
      stored(A!),
      stored(B!),
      refused(B2!, 'PP422', 'no-map'),
      stored(A2!),
      refused(T!, 'PP409', 'stale-head', { heads: [r2.hash] }),
      refused(F!, 'PP422', 'prev-foreign', { prev: a.hash }),
      refused(M!, 'PP422', 'may-not-follow', { prevStep: 'next' }),
      refused(Z!, 'PP422', 'after-final', { prevStep: 'next' }),
      refused(K!, 'PP001', 'keys-changed'),
      stored(L!),
    ];
    expect(Vagain!.receipt_sig).not.toBe(V!.receipt_sig);
    const isRefused = (k: number) => 'refused' in expected[k]!;
    const before = await counts();

    // All or nothing (a batch): the first refusal is raised, nothing is stored.
    expect(await raised(items)).toEqual((expected[1] as { refused: Refusal }).refused);
    expect(await counts()).toEqual(before);
    // Each refusal is the very one a batch raises at that link, after the links stored before it.
    for (const [k, it] of items.entries()) {
      if (!isRefused(k)) continue;
      const prefix = items.slice(0, k).filter((_, j) => !isRefused(j));
      expect(await raised([...prefix, it]), `item ${k}`).toEqual((expected[k] as { refused: Refusal }).refused);
    }
    expect(await counts()).toEqual(before);

    // Independent (a group): every item answered, in order.
    expect(await call(items, true)).toEqual(expected);
    const storedHashes = [V!, A!, B!, A2!, L!].map((it) => it.hash);
    const refusedHashes = items.filter((_, k) => isRefused(k)).map((it) => it.hash);
    expect(await counts()).toEqual({ links: before.links! + 5, maps: before.maps! + 4, unsealed: before.unsealed! + 5, private: before.private! + 5 });
    expect(await rowsFor(pool, storedHashes)).toEqual({ links: 5, unsealed: 5, private: 5 });
    expect(await rowsFor(pool, refusedHashes)).toEqual({ links: 0, unsealed: 0, private: 0 });
    expect(await map('m-old')).toEqual({ heads: [r2.hash], links: 2 });
    expect(await map('m-a')).toEqual({ heads: [B!.hash], links: 2 });
    expect(await map('m-b')).toEqual({ heads: [A2!.hash], links: 1 });
    for (const m of ['m-u', 'm-c', 'm-k']) expect(await map(m), m).toBeUndefined();
    const { rows } = await pool.query<{ hash: string; accepted_at: string }>('SELECT hash, accepted_at FROM links WHERE hash = $1', [v.hash]);
    expect(rows).toEqual([{ hash: v.hash, accepted_at: V!.accepted_at }]);

    // The same call again: the stored items replay their first answers; B2 finds its map now (its
    // refusal left nothing behind to trip on); the others are refused again, as they were.
    const again = await call(items, true);
    expect(again).toEqual(expected.map((e, k) => (k === 7 ? stored(B2!) : 'created' in e ? { ...e, created: false } : e)));
    expect(await counts()).toEqual({ links: before.links! + 6, maps: before.maps! + 4, unsealed: before.unsealed! + 6, private: before.private! + 6 });
    expect(await map('m-b')).toEqual({ heads: [B2!.hash], links: 2 });
  });
});

describe('single appends through the service', () => {
  let svc: TestService;
  let P: Record<string, Party>;

  /** The pop_append calls of single appends (#appendGroup), seen at the pool the ledger was given. */
  interface GroupCall {
    hashes: string[];
    answers?: Answer[];
    error?: string;
  }
  const calls: GroupCall[] = [];
  /** Changes what a group call sends, or throws instead of sending it (undefined: sent as is). */
  let tamper: ((items: Item[]) => Item[]) | undefined;

  beforeAll(async () => {
    svc = await startTestService();
    P = svc.parties;
    // LedgerDeps.pool is this very pool, and Links reads deps.pool.query at each call.
    const pool = svc.pool;
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<pg.QueryResult>;
    pool.query = ((...args: unknown[]) => {
      const config = args[0] as { name?: string; values?: unknown[] } | undefined;
      if (config?.name !== 'pop-append-group') return query(...args);
      const items = JSON.parse(config.values![0] as string) as Item[];
      const c: GroupCall = { hashes: items.map((it) => it.hash) };
      calls.push(c);
      return (async () => {
        try {
          const sent = tamper ? tamper(items) : items;
          const res = await query({ ...config, values: [JSON.stringify(sent), ...config.values!.slice(1)] });
          c.answers = (res.rows[0] as { r: Answer[] }).r;
          return res;
        } catch (e) {
          c.error = (e as { code?: string }).code ?? String(e);
          throw e;
        }
      })();
    }) as unknown as pg.Pool['query'];
  });
  afterAll(async () => svc?.close());

  const post = (body: unknown) => svc.request('POST', '/v1/links', { body });
  /**
   * Concurrent posts. The API key's lookup is cached first (src/ledger/api-keys.ts keeps it 5 s): the
   * requests then reach the coalescer in one turn of the event loop and go in one group call.
   */
  const postAll = async (subs: { body: unknown }[]) => {
    expect((await svc.request('GET', '/v1/processes')).status).toBe(200);
    return Promise.all(subs.map((s) => post(s.body)));
  };
  /** postAll with `spoil` applied to every group call's items (and taken away afterwards). */
  const postAllTampered = async (subs: { body: unknown }[], spoil: (items: Item[]) => Item[]) => {
    tamper = spoil;
    try {
      return await postAll(subs);
    } finally {
      tamper = undefined;
    }
  };
  const expectProblem = (r: Response, status: number, code: string) => {
    expect(r.status, r.body).toBe(status);
    expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
    expect(r.json['type'], r.body).toBe(PROBLEM + code);
  };
  const expectAccepted = (r: Response, hash: string) => {
    expect(r.status, r.body).toBe(201);
    expect(r.json['linkHash']).toBe(hash);
    expect(r.json['created']).toBe(true);
    const receipt = r.json['receipt'] as { acceptedAt: string; sig: string };
    expect(nobleVerifier.verify('ed25519', fromHex(svc.notaryPublicKey), receiptMessage(hash, receipt.acceptedAt), fromHex(receipt.sig))).toBe(true);
  };
  const storedOf = async (hashes: string[]) =>
    (await svc.pool.query<{ hash: string }>('SELECT hash FROM links WHERE hash = ANY($1)', [hashes])).rows.map((r) => r.hash).sort();
  /** pop_append_group_links' count and sum, pop_append_group_seconds' count, from /metrics. */
  const groupMetrics = async () => {
    const scrape = parseMetrics((await svc.request('GET', '/metrics', { key: null })).body);
    const value = (name: string) => scrape.get(name) ?? NaN;
    return { calls: value('pop_append_group_links_count'), links: value('pop_append_group_links_sum'), timed: value('pop_append_group_seconds_count') };
  };

  /** The group calls since `from` that held more than one item. */
  const groups = (from = 0) => calls.slice(from).filter((c) => c.hashes.length > 1);

  const times = <T>(k: number, f: (i: number) => T): T[] => Array.from({ length: k }, (_, i) => f(i));
  const order = (mapId: string, extra: object = {}) => makeSubmission(P['customer']!, { step: 'order', mapId, ...VALID['order'], ...extra });
  const confirm = (mapId: string, prev: string[], promisedBy = '2026-12-01') => makeSubmission(P['retailer']!, { step: 'confirm', mapId, prev, meta: { promisedBy } });
  const ship = (mapId: string, prev: string[]) => makeSubmission(P['delivery']!, { step: 'ship', mapId, prev, ...VALID['ship'] });

  test('60 concurrent single appends, valid and refused mixed: each gets the answer it gets alone; the valid are stored, the refused leave nothing', async () => {
    // The maps the burst appends to, stored beforehand in one batch.
    const ordered = times(26, (i) => order(`g-o-${i}`));
    const confirmed = times(8, (i) => confirm(`g-o-${i}`, [ordered[i]!.hash]));
    const setup = await svc.request('POST', '/v1/links/batch', { body: { links: [...ordered, ...confirmed].map((s) => s.body) } });
    expect(setup.status, setup.body).toBe(201);

    // Each on a map of its own, so no answer depends on the order the burst is stored in.
    const kinds: [string, number, string, { body: unknown; hash: string }[]][] = [
      ['a new map', 201, '', times(10, (i) => order(`g-new-${i}`))],
      ['the next step', 201, '', times(10, (i) => confirm(`g-o-${8 + i}`, [ordered[8 + i]!.hash]))],
      ['a stale head', 409, 'stale-head', times(8, (i) => confirm(`g-o-${i}`, [ordered[i]!.hash], '2026-12-24'))],
      ['a second root', 409, 'stale-head', times(8, (i) => order(`g-o-${i}`, { meta: { currency: 'EUR', total: 1, lines: 1 } }))],
      ['an unknown ref', 422, 'unknown-ref', times(8, (i) => order(`g-ref-${i}`, { refs: [hex(32)] }))],
      ['a step that may not follow', 422, 'transition-not-allowed', times(4, (i) => ship(`g-o-${18 + i}`, [ordered[18 + i]!.hash]))],
      ['a step that cannot start a map', 422, 'transition-not-allowed', times(4, (i) => confirm(`g-start-${i}`, []))],
      ['a map that does not exist', 422, 'transition-not-allowed', times(4, (i) => confirm(`g-none-${i}`, [hex(32)]))],
      ['a prev of another map', 422, 'transition-not-allowed', times(4, (i) => confirm(`g-o-${22 + i}`, [ordered[i]!.hash]))],
    ];
    // Round robin over the kinds, so neighbours in a group differ.
    const burst: { kind: string; status: number; type: string; sub: { body: unknown; hash: string } }[] = [];
    for (let i = 0; burst.length < 60; i++) {
      for (const [kind, status, type, subs] of kinds) if (subs[i]) burst.push({ kind, status, type, sub: subs[i]! });
    }
    const refusedOnes = burst.filter((b) => b.status >= 400);

    const maps = async () => (await svc.pool.query('SELECT process, map_id, heads, links FROM maps ORDER BY map_id')).rows;
    const mapsBefore = await maps();

    // Alone first: the refused change nothing, so their answers stay what a lone post gets.
    const alone = new Map<string, Response>();
    for (const b of refusedOnes) {
      const r = await post(b.sub.body);
      expectProblem(r, b.status, b.type);
      alone.set(b.sub.hash, r);
      // The batch endpoint (all or nothing: pop_append raises) refuses it the same way.
      const batch = await svc.request('POST', '/v1/links/batch', { body: { links: [b.sub.body] } });
      expectProblem(batch, b.status, b.type);
      expect(batch.json['index']).toBe(0);
    }
    const from = calls.length;
    const rs = await postAll(burst.map((b) => b.sub));
    for (const [i, b] of burst.entries()) {
      const r = rs[i]!;
      if (b.status === 201) expectAccepted(r, b.sub.hash);
      else expect({ status: r.status, json: r.json }, `${b.kind} #${i}`).toEqual({ status: alone.get(b.sub.hash)!.status, json: alone.get(b.sub.hash)!.json });
    }

    // They went together: every link in one group call or another, some holding valid and refused ones.
    const burstCalls = calls.slice(from);
    expect(burstCalls.flatMap((c) => c.hashes).sort()).toEqual(burst.map((b) => b.sub.hash).sort());
    expect(groups(from).length).toBeGreaterThan(0);
    expect(burstCalls.some((c) => c.answers?.some((a) => 'refused' in a) && c.answers.some((a) => 'created' in a))).toBe(true);

    const valid = burst.filter((b) => b.status === 201).map((b) => b.sub.hash);
    expect(await storedOf(burst.map((b) => b.sub.hash))).toEqual(valid.sort());
    expect(await rowsFor(svc.pool, refusedOnes.map((b) => b.sub.hash))).toEqual({ links: 0, unsealed: 0, private: 0 });
    // The maps: 10 new, 10 moved on by one link; the refused ones' maps as they were.
    const mapsAfter = await maps();
    expect(mapsAfter).toHaveLength(mapsBefore.length + 10);
    const changed = mapsAfter.filter((m) => JSON.stringify(m) !== JSON.stringify(mapsBefore.find((b) => b['map_id'] === m['map_id'])));
    expect(changed.map((m) => m['map_id']).sort()).toEqual([...times(10, (i) => `g-new-${i}`), ...times(10, (i) => `g-o-${8 + i}`)].sort());
  });

  test('10 concurrent posts of the same link: one created, nine replays, one receipt, one event', async () => {
    const s = order('g-same');
    const heard = await hear(svc.events);
    const from = calls.length;
    try {
      const rs = await postAll(times(10, () => s));
      expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      const created = rs.find((r) => r.status === 201)!;
      expectAccepted(created, s.hash);
      for (const r of rs) {
        expect(r.json['created']).toBe(r === created);
        expect(r.json['receipt']).toEqual(created.json['receipt']);
      }
      // A link posted after them: once its event is here, any other event of theirs would be too.
      const after = order('g-same-after');
      expect((await postAll([after]))[0]!.status).toBe(201);
      await heard.until((e) => e.type === 'link.accepted' && e.linkHash === after.hash);
      expect(heard.events.filter((e) => e.type === 'link.accepted').map((e) => (e as { linkHash: string }).linkHash)).toEqual([s.hash, after.hash]);
    } finally {
      heard.stop();
    }
    // At least some of them in one call: the later ones of a group replay the first (pop_append).
    expect(groups(from).some((c) => c.hashes.filter((h) => h === s.hash).length > 1)).toBe(true);
    expect(await storedOf([s.hash])).toEqual([s.hash]);
  });

  test('a key revoked in the database while the cache holds it: refused key-revoked; one revoked after acceptance still signs', async () => {
    const rnd = (k: number) => new Uint8Array(randomBytes(k));
    const signers = ['rv-1', 'rv-2'].map((keyId): Party => {
      const secretKey = secretKeyFrom('ed25519', rnd);
      return { id: 'revokee', role: 'customer', keyId, alg: 'ed25519', secretKey, publicKey: toHex(publicKeyFor('ed25519', secretKey)), apiKey: '' };
    });
    const added = await svc.request('POST', '/v1/participants', {
      body: { id: 'revokee', name: 'Revokee', roles: ['customer'], keys: signers.map(({ keyId, alg, publicKey }) => ({ keyId, alg, publicKey })) },
    });
    expect(added.status, added.body).toBe(201);
    const by = (signer: Party, mapId: string) => makeSubmission(signer, { step: 'order', mapId, ...VALID['order'] });
    // A first link puts the participant's keys in the signer cache, neither revoked.
    const warm = by(signers[0]!, 'g-rv-warm');
    expectAccepted(await post(warm.body), warm.hash);
    // Revoked behind the service's back (no cache is told): rv-1 before the next acceptance, rv-2 after it.
    await svc.pool.query(`UPDATE participant_keys SET revoked_at = now() - interval '1 second' WHERE participant_id = 'revokee' AND key_id = 'rv-1'`);
    await svc.pool.query(`UPDATE participant_keys SET revoked_at = now() + interval '1 hour' WHERE participant_id = 'revokee' AND key_id = 'rv-2'`);

    const revoked = by(signers[0]!, 'g-rv-1');
    const later = by(signers[1]!, 'g-rv-2');
    const others = times(6, (i) => order(`g-rv-other-${i}`));
    const from = calls.length;
    const rs = await postAll([...others.slice(0, 3), revoked, later, ...others.slice(3)]);
    expectProblem(rs[3]!, 422, 'key-revoked');
    expect(rs[3]!.json['detail']).toContain('revokee/rv-1');
    expectAccepted(rs[4]!, later.hash);
    [...rs.slice(0, 3), ...rs.slice(5)].forEach((r, i) => expectAccepted(r, others[i]!.hash));
    // The database caught it in the group (the cache still said valid), then the fresh keys named it.
    const caught = calls.slice(from).find((c) => c.answers?.some((a) => a.hash === revoked.hash && 'refused' in a && a.refused.errcode === 'PP001'));
    expect(caught?.hashes.length).toBeGreaterThan(1);
    expect(await storedOf([revoked.hash, later.hash])).toEqual([later.hash]);
  });

  describe('a group call that fails', () => {
    const dataErrors: [string, string, (it: Item) => Item][] = [
      ['23503 (class 23: a foreign key)', '23503', (it) => ({ ...it, author: 'nobody' })],
      ['22007 (class 22: a timestamp)', '22007', (it) => ({ ...it, created_at: 'not a time' })],
    ];
    test.each(dataErrors)("on one link's data, %s: retried in halves, and only that link's request fails", async (_name, code, spoil) => {
      const subs = times(8, (i) => order(`g-data-${code}-${i}`));
      const marked = subs[3]!;
      // The marked link's data is spoilt in every call that holds it: PostgreSQL itself refuses it.
      const metricsBefore = await groupMetrics();
      const from = calls.length;
      const rs = await postAllTampered(subs, (items) => items.map((it) => (it.hash === marked.hash ? spoil(it) : it)));
      // /metrics counted every group call, the failed ones too, with its links.
      const metricsAfter = await groupMetrics();
      const made = calls.slice(from);
      expect(metricsAfter.calls - metricsBefore.calls).toBe(made.length);
      expect(metricsAfter.timed - metricsBefore.timed).toBe(made.length);
      expect(metricsAfter.links - metricsBefore.links).toBe(made.reduce((n, c) => n + c.hashes.length, 0));
      for (const [i, s] of subs.entries()) {
        if (s === marked) expectProblem(rs[i]!, 500, 'internal');
        else expectAccepted(rs[i]!, s.hash);
      }
      const failed = calls.slice(from).find((c) => c.hashes.includes(marked.hash))!;
      expect(failed.hashes.length, 'the marked link went in a group').toBeGreaterThan(1);
      expect(failed.error).toBe(code);
      // Then halves of it down to the marked link: every call holding it fails again, every other
      // stores its links; the marked link ends alone; at most 2·⌈log2 n⌉ calls.
      const follow = calls.slice(calls.indexOf(failed) + 1).filter((c) => c.hashes.some((h) => failed.hashes.includes(h)));
      // The first retry is the group's first half, whole (a link-by-link retry would send one link).
      expect(follow[0]!.hashes).toEqual(failed.hashes.slice(0, Math.ceil(failed.hashes.length / 2)));
      for (const c of follow) {
        if (c.hashes.includes(marked.hash)) expect(c.error).toBe(code);
        else expect(c.answers).toEqual(c.hashes.map((hash) => expect.objectContaining({ hash, created: true })));
      }
      expect(follow.filter((c) => c.hashes.length === 1 && c.hashes[0] === marked.hash)).toHaveLength(1);
      expect(follow.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(failed.hashes.length)));
      expect(follow.filter((c) => !c.error).flatMap((c) => c.hashes).sort()).toEqual(failed.hashes.filter((h) => h !== marked.hash).sort());
      // The group's transaction left nothing: each link stored once, by its own call; the marked one not at all.
      const valid = subs.filter((s) => s !== marked).map((s) => s.hash);
      expect(await storedOf(subs.map((s) => s.hash))).toEqual([...valid].sort());
      expect(await rowsFor(svc.pool, subs.map((s) => s.hash))).toEqual({ links: 7, unsealed: 7, private: 7 });
      // Its data fine again, the marked link is stored: its failure left nothing behind.
      expectAccepted(await post(marked.body), marked.hash);
    });

    test('on anything else (57P01, the connection terminated): the whole group fails, 503, nothing stored, no retry', async () => {
      const subs = times(8, (i) => order(`g-down-${i}`));
      const marked = subs[3]!;
      let thrown = false;
      const from = calls.length;
      const rs = await postAllTampered(subs, (items) => {
        if (!thrown && items.some((it) => it.hash === marked.hash)) {
          thrown = true;
          throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
        }
        return items;
      });
      const failed = calls.slice(from).find((c) => c.error !== undefined)!;
      expect(failed.error).toBe('57P01');
      expect(failed.hashes).toContain(marked.hash);
      expect(failed.hashes.length, 'the marked link went in a group').toBeGreaterThan(1);
      for (const [i, s] of subs.entries()) {
        if (!failed.hashes.includes(s.hash)) {
          expectAccepted(rs[i]!, s.hash);
          continue;
        }
        expectProblem(rs[i]!, 503, 'unavailable');
        expect(rs[i]!.headers['retry-after']).toBe('1');
      }
      expect(calls.slice(from).filter((c) => c !== failed && c.hashes.some((h) => failed.hashes.includes(h)))).toEqual([]);
      expect(await storedOf(failed.hashes)).toEqual([]);
      // Nothing stored: the clients' retries are plain first posts.
      const again = await postAll(subs.filter((s) => failed.hashes.includes(s.hash)));
      again.forEach((r) => expect(r.status, r.body).toBe(201));
    });
  });
});

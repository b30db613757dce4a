// What a block takes from the sealing queue, now read as one row of aggregated hex and written back
// split by the database: the first maxLinks waiting links in seq order, leaf i the i-th; exactly
// those rows leave the queue (a link that commits later with a lower seq still waits); link_seals
// and block_levels hold what LinkTree makes of them, byte for byte.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LinkTree, concatBytes, fromHex, toHex } from '../../src/core/index.js';
import { Sealer } from '../../src/ledger/sealer.js';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

let svc: TestService;
let mapCounter = 0;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => svc?.close());

async function post(n: number): Promise<void> {
  const subs = Array.from({ length: n }, () => makeSubmission(svc.parties['customer']!, { step: 'order', mapId: `queue-${mapCounter++}`, ...VALID['order'] }));
  const r = await svc.request('POST', '/v1/links/batch', { body: { links: subs.map((s) => s.body) } });
  expect(r.status, r.body).toBe(201);
}

/** The waiting links, in seq order. */
async function waiting(): Promise<{ seq: string; link_hash: string; accepted_ts: Date }[]> {
  return (await svc.pool.query<{ seq: string; link_hash: string; accepted_ts: Date }>('SELECT seq, link_hash, accepted_ts FROM unsealed_links ORDER BY seq')).rows;
}

/** What the store holds for block `height`: its links by leaf index, its levels, its header's root and count. */
async function stored(height: number): Promise<{ links: string[]; levels: string[]; linksRoot: string; leafCount: number }> {
  const links = await svc.pool.query<{ link_hash: string }>('SELECT link_hash FROM link_seals WHERE height = $1 ORDER BY leaf_index', [height]);
  const indexes = await svc.pool.query<{ leaf_index: number }>('SELECT leaf_index FROM link_seals WHERE height = $1 ORDER BY leaf_index', [height]);
  expect(indexes.rows.map((r) => r.leaf_index)).toEqual(links.rows.map((_, i) => i));
  const levels = await svc.pool.query<{ level: number; hashes: Buffer }>('SELECT level, hashes FROM block_levels WHERE height = $1 ORDER BY level', [height]);
  expect(levels.rows.map((r) => r.level)).toEqual(levels.rows.map((_, i) => i));
  const block = await svc.pool.query<{ links_root: string; leaf_count: number }>('SELECT links_root, leaf_count FROM blocks WHERE height = $1', [height]);
  return {
    links: links.rows.map((r) => r.link_hash),
    levels: levels.rows.map((r) => r.hashes.toString('hex')),
    linksRoot: block.rows[0]!.links_root,
    leafCount: block.rows[0]!.leaf_count,
  };
}

function expectBlockOf(block: Awaited<ReturnType<typeof stored>>, hashes: string[]): void {
  const tree = new LinkTree(hashes.map((h) => fromHex(h)));
  expect(block.links).toEqual(hashes);
  expect(block.levels).toEqual(tree.levels().map((level) => toHex(concatBytes(...level))));
  expect(block.linksRoot).toBe(toHex(tree.root));
  expect(block.leafCount).toBe(hashes.length);
}

describe('the sealing queue', () => {
  test('a block seals the first maxLinks waiting links in seq order; the rest wait for the next', async () => {
    await post(12);
    const queue = await waiting();
    expect(queue).toHaveLength(12);
    const sealer = svc.sealer({ maxLinks: 9 });
    expect(await sealer.sealOnce()).toBe(0);
    expectBlockOf(await stored(0), queue.slice(0, 9).map((r) => r.link_hash));
    expect((await waiting()).map((r) => r.seq)).toEqual(queue.slice(9).map((r) => r.seq));
    expect(await sealer.sealOnce()).toBe(1);
    expectBlockOf(await stored(1), queue.slice(9).map((r) => r.link_hash));
    expect(await sealer.sealOnce()).toBeNull();
  });

  test('only the links sealed leave the queue: one committed with a lower seq while the block was mined waits for the next', async () => {
    await post(5);
    const queue = await waiting();
    const late = queue[2]!;
    // As if its append took its seq first but committed after the sealer read the queue: it is
    // back in the queue when the block commits (the pool's connect() opens the commit).
    await svc.pool.query('DELETE FROM unsealed_links WHERE seq = $1', [late.seq]);
    const pool = {
      query: svc.pool.query.bind(svc.pool),
      connect: async () => {
        await svc.pool.query('INSERT INTO unsealed_links (seq, link_hash, accepted_ts) VALUES ($1, $2, $3)', [late.seq, late.link_hash, late.accepted_ts]);
        return svc.pool.connect();
      },
    } as unknown as pg.Pool;
    const sealer = new Sealer({ databaseUrl: svc.databaseUrl, pool, notary: svc.notary, maxLinks: 100, intervalMs: 50, difficulty: 8, now: () => new Date() });
    const height = (await sealer.sealOnce())!;
    expectBlockOf(await stored(height), queue.filter((r) => r !== late).map((r) => r.link_hash));
    expect((await waiting()).map((r) => r.link_hash)).toEqual([late.link_hash]);
    const next = svc.sealer();
    expect(await next.sealOnce()).toBe(height + 1);
    expectBlockOf(await stored(height + 1), [late.link_hash]);
  });
});

// Proofs served from one coalesced query plus caches of immutable data (src/ledger/proofs.ts) must be
// byte for byte what the straightforward assembly gives — one query per part, nothing cached, the
// code that served proofs before the caches, kept below as the reference — after new blocks, on a
// second server sharing the database, with anchors confirmed, moved and dropped by Bitcoin reorgs,
// after a key's revocation, and under a cache budget too small to hold anything.
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Json, type ProofV1, PROOF_TYPE, assembleProof, inclusionRanges, nodeKey, nodesFor, toHex, verifyProof } from '../../src/core/index.js';
import { Anchorer } from '../../src/anchor/anchorer.js';
import { Esplora } from '../../src/anchor/esplora.js';
import { type RegtestNetwork, startRegtest } from '../../src/anchor/regtest/index.js';
import { newWif, walletFromWif } from '../../src/anchor/tx.js';
import { type App, buildApp } from '../../src/http/app.js';
import { Sealer } from '../../src/ledger/sealer.js';
import { aesGcmCipher } from '../../src/node/cipher.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

let svc: TestService;
let sealer: Sealer;
let counter = 0;

/** The proof as the 8-query assembly (before the caches) built it, serialized as Fastify did. */
async function reference(pool: Pool, notary: { keyId: string; publicKey: string }, hash: string): Promise<string | undefined> {
  const q = async <T>(sql: string, args: unknown[]) => (await pool.query(sql, args)).rows as T[];
  const [link] = await q<{ canonical: string; signatures: { signer: string; keyId: string }[] }>('SELECT canonical, signatures FROM links WHERE hash = $1', [hash]);
  const [seal] = await q<{ height: string; leaf_index: number }>('SELECT height, leaf_index FROM link_seals WHERE link_hash = $1', [hash]);
  if (!link || !seal) return undefined;
  const height = Number(seal.height);
  const leafIndex = seal.leaf_index;
  type Block = { height: string; header: string; notary_sig: string; leaf_count: number };
  const block = async (h: number) => (await q<Block>('SELECT * FROM blocks WHERE height = $1', [h]))[0]!;
  const b = await block(height);
  const wanted: { level: number; offset: number }[] = [];
  for (let level = 0, index = leafIndex, width = b.leaf_count; width > 1; level++, index = Math.floor(index / 2), width = Math.ceil(width / 2)) {
    if ((index ^ 1) < width) wanted.push({ level, offset: (index ^ 1) * 32 + 1 });
  }
  const path = wanted.length === 0 ? [] : (await q<{ h: Buffer }>(
    `SELECT substring(b.hashes FROM w.off FOR 32) AS h FROM block_levels b JOIN unnest($2::int[], $3::int[]) AS w(level, off) ON w.level = b.level
      WHERE b.height = $1 ORDER BY b.level`,
    [height, wanted.map((w) => w.level), wanted.map((w) => w.offset)],
  )).map((r) => r.h.toString('hex'));
  const keyRows = await q<{ participant_id: string; key_id: string; alg: string; public_key: string }>(
    'SELECT participant_id, key_id, alg, public_key FROM participant_keys WHERE (participant_id, key_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))',
    [link.signatures.map((s) => s.signer), link.signatures.map((s) => s.keyId)],
  );
  const keys = link.signatures.map((s) => {
    const r = keyRows.find((k) => k.participant_id === s.signer && k.key_id === s.keyId)!;
    return { participant: r.participant_id, keyId: r.key_id, alg: r.alg, publicKey: r.public_key };
  });
  const proof: Record<string, unknown> = {
    type: PROOF_TYPE,
    link: JSON.parse(link.canonical),
    linkHash: hash,
    signatures: link.signatures,
    keys,
    inclusion: { leafIndex, treeSize: b.leaf_count, path },
    block: { header: b.header, notarySig: b.notary_sig },
    notary: { keyId: notary.keyId, alg: 'ed25519', publicKey: notary.publicKey },
  };
  const [a] = await q<Record<string, never>>("SELECT * FROM anchors WHERE status = 'confirmed' AND block_height >= $1 ORDER BY block_height, id LIMIT 1", [height]);
  const later = a ? await block(Number(a['block_height'])) : (await q<Block>('SELECT * FROM blocks ORDER BY height DESC LIMIT 1', []))[0]!;
  if (Number(later.height) > height) {
    const ranges = inclusionRanges(height, Number(later.height));
    const ids = nodesFor(ranges);
    const rows = await q<{ level: number; idx: string; hash: Buffer }>(
      'SELECT level, idx, hash FROM history_nodes WHERE (level, idx) IN (SELECT * FROM unnest($1::int[], $2::bigint[]))',
      [ids.map((i) => i.level), ids.map((i) => i.index)],
    );
    const nodes = new Map(rows.map((r) => [nodeKey({ level: r.level, index: Number(r.idx) }), new Uint8Array(r.hash)]));
    proof['history'] = { block: { header: later.header, notarySig: later.notary_sig }, path: assembleProof(ranges, nodes).map(toHex) };
  }
  if (a) {
    proof['anchor'] = {
      network: a['network'],
      blockHash: a['block_hash'],
      txid: a['txid'],
      tx: a['raw_tx'],
      bitcoinBlock: { hash: a['bitcoin_block_hash'], height: a['bitcoin_height'], header: a['bitcoin_header'] },
      merkle: { pos: a['merkle_pos'], siblings: a['merkle_siblings'] },
    };
  }
  return JSON.stringify(proof);
}

/** Posts n single-link orders in one batch. */
async function post(n: number): Promise<string[]> {
  const subs = Array.from({ length: n }, () => makeSubmission(svc.parties['customer']!, { step: 'order', mapId: `cache-${counter++}`, ...VALID['order'] }));
  const r = await svc.request('POST', '/v1/links/batch', { body: { links: subs.map((s) => s.body) } });
  expect(r.status, r.body).toBe(201);
  return subs.map((s) => s.hash);
}

const verify = (proof: unknown) => verifyProof(proof, { verifier: nodeVerifier, notaryKeys: [svc.notaryPublicKey] });

/** Fetches every proof concurrently (so the coalescer batches them) and checks each against the reference. */
async function expectReference(hashes: string[], get: (url: string) => Promise<{ status: number; body: string; headers: Record<string, unknown> }> = (u) => svc.request('GET', u)): Promise<ProofV1[]> {
  const served = await Promise.all(hashes.map((h) => get(`/v1/links/${h}/proof`)));
  const out: ProofV1[] = [];
  for (const [i, r] of served.entries()) {
    expect(r.status, r.body).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.body).toBe(await reference(svc.pool, svc.notary, hashes[i]!));
    out.push(JSON.parse(r.body) as ProofV1);
  }
  return out;
}

const heightOf = async () => Number((await svc.pool.query<{ h: string }>('SELECT max(height) AS h FROM blocks')).rows[0]!.h);

beforeAll(async () => {
  svc = await startTestService();
  sealer = svc.sealer({ difficulty: 4 });
});
afterAll(async () => svc?.close());

describe('proofs from one coalesced query and caches of immutable data', () => {
  const all: string[] = [];

  test('blocks of 1 to 33 links: every proof is the reference, byte for byte, and verifies', async () => {
    for (const n of [1, 2, 3, 5, 8, 33, 1]) {
      all.push(...(await post(n)));
      await sealer.sealOnce();
    }
    const proofs = await expectReference(all);
    const tip = await heightOf();
    for (const p of proofs) {
      const result = verify(p);
      expect(result.ok).toBe(true);
      expect(result.history?.height ?? result.block.height).toBe(tip);
    }
  });

  test('after a new block, the next fetch is tied to the new tip (no stale tip from the cache)', async () => {
    const before = JSON.parse((await svc.request('GET', `/v1/links/${all[0]}/proof`)).body) as ProofV1;
    const tipBefore = await heightOf();
    expect(verify(before).history!.height).toBe(tipBefore);
    all.push(...(await post(2)));
    await sealer.sealOnce();
    const after = (await expectReference([all[0]!]))[0]!;
    expect(verify(after).history!.height).toBe(tipBefore + 1);
    // The link of the newest block has no history until a later block exists.
    const newest = (await expectReference([all.at(-1)!]))[0]!;
    expect(newest.history).toBeUndefined();
  });

  test('a second server on the same database, sealing on its own, serves the same bytes, and each sees the other\'s tip', async () => {
    const other: App = await buildApp({
      databaseUrl: svc.databaseUrl,
      notary: svc.notary,
      cipher: aesGcmCipher(randomBytes(32)),
      verifier: nodeVerifier,
      limits: { maxClockSkewMs: 300_000, batchMax: 1000, bodyLimitBytes: 1024 * 1024, rateLimitPerMinute: 1_000_000, cacheBytes: 1024 * 1024 },
    });
    const otherSealer = new Sealer({ databaseUrl: svc.databaseUrl, pool: other.pool, notary: svc.notary, maxLinks: 10_000, intervalMs: 50, difficulty: 4, now: () => new Date() });
    try {
      const get = async (url: string) => {
        const r = await other.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${svc.adminKey}` } });
        return { status: r.statusCode, body: r.body, headers: r.headers as Record<string, unknown> };
      };
      await expectReference(all, get); // warms the second server's caches
      await expectReference(all); // and the first's
      for (let round = 0; round < 3; round++) {
        all.push(...(await post(3)));
        const sealedBy = round % 2 === 0 ? otherSealer : sealer; // each server's sealer in turn
        expect(await sealedBy.sealOnce()).toBe(await heightOf());
        const tip = await heightOf();
        for (const proofs of [await expectReference(all, get), await expectReference(all)]) {
          for (const p of proofs) expect(verify(p).history?.height ?? verify(p).block.height).toBe(tip);
        }
      }
    } finally {
      await otherSealer.stop();
      await other.app.close();
    }
  });

  test('integer-like member names in a link (which JSON.parse reorders) are served as the reference serves them', async () => {
    const process = {
      id: 'digits',
      title: 'Digits',
      roles: ['retailer'],
      steps: { note: { authors: ['retailer'], signers: [], after: [], meta: { type: 'object' } } },
    };
    expect((await svc.request('POST', '/v1/processes', { body: process })).status).toBe(201);
    const retailer = svc.parties['retailer']!;
    const hashes: string[] = [];
    const metas: Record<string, Json>[] = [{ '10': 1, '9': 2, b: { '2': 'x', a: [{ '0': true, '01': null }] } }, { a: 'no digits, "1": in a string' }];
    for (const meta of metas) {
      const s = makeSubmission(retailer, { process: 'digits', step: 'note', mapId: `digits-${counter++}`, meta });
      const r = await svc.request('POST', '/v1/links', { key: retailer.apiKey, body: s.body });
      expect(r.status, r.body).toBe(201);
      hashes.push(s.hash);
    }
    await sealer.sealOnce();
    const [reordered] = await expectReference(hashes);
    expect(Object.keys(reordered!.link.meta)).toEqual(['9', '10', 'b']);
    expect(verify(reordered).ok).toBe(true);
  });

  test('a cache budget too small to hold anything, or a few entries, bounds the cache and changes no byte', async () => {
    const cache = svc.ledger.proofs.cache;
    const saved = cache.budget;
    try {
      for (const budget of [0, 600, 4096, 64 * 1024]) {
        cache.budget = budget;
        expect(cache.bytes).toBeLessThanOrEqual(budget);
        for (let i = 0; i < all.length; i += 7) {
          await expectReference(all.slice(i, i + 7));
          expect(cache.bytes).toBeLessThanOrEqual(budget);
        }
        if (budget === 0) expect(cache.size).toBe(0);
        if (budget === 64 * 1024) {
          expect(cache.size).toBeGreaterThan(10);
          // Blocks read often enough have their levels cached; their paths come from memory from now on.
          const heights = (await svc.pool.query<{ height: string }>('SELECT height FROM blocks WHERE leaf_count > 1')).rows.map((r) => Number(r.height));
          await expectReference(all);
          await expectReference(all);
          for (let i = 0; i < 200 && !heights.some((h) => cache.has(`l:${h}`)); i++) await new Promise((r) => setTimeout(r, 50)); // loaded in the background
          expect(heights.filter((h) => cache.has(`l:${h}`)).length).toBeGreaterThan(0);
          await expectReference(all);
        }
      }
    } finally {
      cache.budget = saved;
    }
  });

  test('unknown, unsealed and invisible links: 404, 202 and 404 as before', async () => {
    const unknown = 'ab'.repeat(32);
    const r = await svc.request('GET', `/v1/links/${unknown}/proof`);
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    const [pending] = await post(1);
    const p = await svc.request('GET', `/v1/links/${pending}/proof`);
    expect(p.status).toBe(202);
    expect(p.json).toMatchObject({ status: 'accepted', linkHash: pending });
    await sealer.sealOnce();
    expect((await svc.request('GET', `/v1/links/${pending}/proof`)).status).toBe(200);
    // The digits process has only the retailer role: the customer may not see its links.
    const digits = (await svc.pool.query<{ hash: string }>("SELECT hash FROM links WHERE process = 'digits' LIMIT 1")).rows[0]!.hash;
    expect((await svc.request('GET', `/v1/links/${digits}/proof`, { key: svc.parties['customer']!.apiKey })).status).toBe(404);
    expect((await svc.request('GET', `/v1/links/${digits}/proof`, { key: svc.parties['retailer']!.apiKey })).status).toBe(200);
  });
});

describe('anchors are read with every fetch, never cached', () => {
  let net: RegtestNetwork;
  let anchorer: Anchorer;

  beforeAll(async () => {
    net = await startRegtest();
    const wallet = walletFromWif(newWif('regtest'), 'regtest');
    await net.fund(wallet.address, 50_000_000n);
    anchorer = new Anchorer({ pool: svc.pool, esplora: new Esplora(net.url), wallet, network: 'regtest', intervalMs: 0, confirmations: 1, feeFloor: 1, rebroadcastMs: 60_000, now: () => new Date() });
  });
  afterAll(async () => net?.stop());

  const anchorsNow = async () =>
    (await svc.pool.query<{ txid: string; status: string; bitcoin_block_hash: string | null }>('SELECT txid, status, bitcoin_block_hash FROM anchors ORDER BY id')).rows;

  test('confirmed, moved by a reorg, dropped by a deeper one: each fetch shows the anchor as the database has it now', async () => {
    const [hash] = await post(2);
    await sealer.sealOnce();
    const some = [hash!, ...(await svc.pool.query<{ hash: string }>('SELECT hash FROM links l JOIN link_seals s ON s.link_hash = l.hash ORDER BY s.height, s.leaf_index LIMIT 6')).rows.map((r) => r.hash)];
    await expectReference(some); // warm every cache without an anchor
    await anchorer.tick();
    await net.mine(1);
    await anchorer.tick();
    const confirmed = (await anchorsNow()).at(-1)!;
    expect(confirmed.status).toBe('confirmed');
    const first = (await expectReference(some))[0]!;
    expect(first.anchor?.bitcoinBlock.hash).toBe(confirmed.bitcoin_block_hash);
    expect(verify(first).anchor).toBe('verified');

    await net.reorg(1); // the tx is mined again in the replacement block
    await anchorer.tick();
    const moved = (await anchorsNow()).at(-1)!;
    expect(moved.txid).toBe(confirmed.txid);
    expect(moved.bitcoin_block_hash).not.toBe(confirmed.bitcoin_block_hash);
    const second = (await expectReference(some))[0]!;
    expect(second.anchor?.bitcoinBlock.hash).toBe(moved.bitcoin_block_hash);
    expect(verify(second).anchor).toBe('verified');

    const esplora = new Esplora(net.url);
    const depth = (await esplora.tipHeight()) - (await esplora.txStatus(moved.txid)).block_height! + 1;
    await net.reorg(depth, { dropTxs: true });
    await anchorer.tick(); // dropped, and the tip anchored again (not confirmed yet)
    expect((await anchorsNow()).some((a) => a.status === 'confirmed')).toBe(false);
    const third = (await expectReference(some))[0]!;
    expect(third.anchor).toBeUndefined();
    expect(verify(third).anchor).not.toBe('verified');

    await net.mine(1);
    await anchorer.tick();
    const again = (await anchorsNow()).find((a) => a.status === 'confirmed')!;
    const fourth = (await expectReference(some))[0]!;
    expect(fourth.anchor?.bitcoinBlock.hash).toBe(again.bitcoin_block_hash);
    expect(verify(fourth).anchor).toBe('verified');
  });

  test('an anchor row changed behind the service\'s back (another server\'s anchorer) shows at the next fetch', async () => {
    const [hash] = await post(1);
    await sealer.sealOnce();
    await anchorer.tick();
    await net.mine(1);
    await anchorer.tick();
    expect((await expectReference([hash!]))[0]!.anchor).toBeDefined();
    await svc.pool.query("UPDATE anchors SET status = 'dropped', detail = 'test' WHERE status = 'confirmed'");
    expect((await expectReference([hash!]))[0]!.anchor).toBeUndefined();
  });
});

describe('keys', () => {
  test('a key revoked after its links were sealed: proofs still show it, as the reference does', async () => {
    const sealedLinks = (await svc.pool.query<{ link_hash: string }>('SELECT link_hash FROM link_seals ORDER BY height, leaf_index LIMIT 8')).rows.map((r) => r.link_hash);
    await expectReference(sealedLinks); // the keys are cached now
    const customer = svc.parties['customer']!;
    const r = await svc.request('POST', `/v1/participants/customer/keys/${customer.keyId}/revoke`, { body: { reason: 'rotated' } });
    expect(r.status, r.body).toBeLessThan(300);
    expect((await svc.pool.query('SELECT revoked_at FROM participant_keys WHERE participant_id = $1 AND key_id = $2', ['customer', customer.keyId])).rows[0].revoked_at).not.toBeNull();
    await expectReference(sealedLinks);
  });
});

// Sealing over a real database: blocks, proofs from stored data, history and consistency proofs, and
// verification of every served proof by the offline verifier (with its failures when tampered).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type ProofV1,
  LinkTree,
  VerificationError,
  decodeHeader,
  fromHex,
  leafHash,
  rootOfLeafHashes,
  toHex,
  verifyConsistency,
  verifyProof,
} from '../../src/core/index.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import type { Sealer } from '../../src/ledger/sealer.js';
import { hear } from '../helpers/events.js';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

let svc: TestService;
let sealer: Sealer;
let mapCounter = 0;

beforeAll(async () => {
  svc = await startTestService();
  sealer = svc.sealer({ difficulty: 8 });
});
afterAll(async () => svc?.close());

/** Posts `n` new single-link maps in one batch; returns their hashes. */
async function postOrders(n: number): Promise<string[]> {
  const subs = Array.from({ length: n }, () => makeSubmission(svc.parties['customer']!, { step: 'order', mapId: `seal-${mapCounter++}`, ...VALID['order'] }));
  const r = await svc.request('POST', '/v1/links/batch', { body: { links: subs.map((s) => s.body) } });
  expect(r.status, r.body).toBe(201);
  return subs.map((s) => s.hash);
}

const verify = (proof: unknown) => verifyProof(proof, { verifier: nodeVerifier, notaryKeys: [svc.notaryPublicKey] });

function codeOf(proof: unknown): string {
  try {
    return verify(proof).status;
  } catch (e) {
    if (e instanceof VerificationError) return e.code;
    throw e;
  }
}

describe('sealing', () => {
  test('before sealing the proof is 202 with the status; after, a proof that verifies', async () => {
    const [hash] = await postOrders(1);
    const pending = await svc.request('GET', `/v1/links/${hash}/proof`);
    expect(pending.status).toBe(202);
    expect(pending.json['status']).toBe('accepted');
    const height = await sealer.sealOnce();
    expect(height).toBe(0);
    const r = await svc.request('GET', `/v1/links/${hash}/proof`);
    expect(r.status).toBe(200);
    const result = verify(r.json);
    expect(result.ok).toBe(true);
    expect(result.block.height).toBe(0);
    expect((await svc.request('GET', `/v1/links/${hash}`)).json['status']).toBe('sealed');
    expect(await sealer.sealOnce()).toBeNull(); // nothing waits
  });

  test('for random batch sizes every served proof verifies, with a history proof to the tip', async () => {
    const sizes = fc.sample(fc.integer({ min: 1, max: 40 }), { numRuns: 6, seed: 42 });
    const all: string[] = [];
    for (const n of sizes) {
      all.push(...(await postOrders(n)));
      await sealer.sealOnce();
    }
    const tip = (await svc.request('GET', '/v1/blocks/tip')).json as { height: number };
    for (const hash of all) {
      const proof = (await svc.request('GET', `/v1/links/${hash}/proof`)).json as unknown as ProofV1;
      const result = verify(proof);
      expect(result.ok).toBe(true);
      if (result.block.height < tip.height) expect(result.history?.height).toBe(tip.height);
    }
  });

  test('flipping any bit of a hash, index, size or header field fails with a named code', async () => {
    const [hash] = await postOrders(5).then((h) => h.slice(2));
    await postOrders(3);
    await sealer.sealOnce();
    await postOrders(1);
    await sealer.sealOnce();
    const proof = (await svc.request('GET', `/v1/links/${hash}/proof`)).json as unknown as ProofV1;
    expect(verify(proof).ok).toBe(true);
    const flipHex = (h: string, bit: number) => {
      const b = fromHex(h);
      b[Math.floor(bit / 8) % b.length]! ^= 1 << bit % 8;
      return toHex(b);
    };
    const mutations: [string, (p: ProofV1, bit: number) => void][] = [
      ['linkHash', (p, bit) => void (p.linkHash = flipHex(p.linkHash, bit))],
      ['path', (p, bit) => void (p.inclusion.path[bit % p.inclusion.path.length] = flipHex(p.inclusion.path[bit % p.inclusion.path.length]!, bit))],
      ['leafIndex', (p, bit) => void (p.inclusion.leafIndex ^= 1 << bit % 3)],
      ['treeSize', (p, bit) => void (p.inclusion.treeSize ^= 1 << bit % 4)],
      ['header', (p, bit) => void (p.block.header = flipHex(p.block.header, bit))],
      ['history header', (p, bit) => void (p.history!.block.header = flipHex(p.history!.block.header, bit))],
      ['history path', (p, bit) => void (p.history!.path[0] = flipHex(p.history!.path[0]!, bit))],
      ['signature', (p, bit) => void (p.signatures[0]!.sig = flipHex(p.signatures[0]!.sig, bit))],
      ['notary signature', (p, bit) => void (p.block.notarySig = flipHex(p.block.notarySig, bit))],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...mutations), fc.integer({ min: 0, max: 1087 }), ([, mutate], bit) => {
        const copy = structuredClone(proof);
        mutate(copy, bit);
        const code = codeOf(copy);
        expect(code).not.toBe('verified');
        expect(code).toMatch(/^[A-Z_]+$/);
      }),
      { numRuns: 400 },
    );
  });

  test('blocks chain, their links re-hash to their roots, and the history is consistent', async () => {
    const blocks = (await svc.request('GET', '/v1/blocks?order=asc&limit=500')).json.items as unknown as { height: number; hash: string; header: string; prevHash: string; linksRoot: string; historyRoot: string }[];
    expect(blocks.length).toBeGreaterThan(3);
    const hashes: Uint8Array[] = [];
    for (const b of blocks) {
      const fields = decodeHeader(fromHex(b.header));
      expect(fields.height).toBe(b.height);
      expect(fields.prevHash).toBe(b.height === 0 ? '0'.repeat(64) : blocks[b.height - 1]!.hash);
      expect(fields.historyRoot).toBe(toHex(rootOfLeafHashes(hashes.map(leafHash))));
      const links = (await svc.request('GET', `/v1/blocks/${b.height}/links`)).json.items as unknown as string[];
      expect(toHex(new LinkTree(links.map((l) => fromHex(l))).root)).toBe(fields.linksRoot);
      hashes.push(fromHex(b.hash));
    }
    const n = blocks.length;
    for (const from of [1, 2, 3, n - 1]) {
      const c = (await svc.request('GET', `/v1/history/consistency?from=${from}&to=${n}`)).json as { rootFrom: string; rootTo: string; proof: string[] };
      expect(c.rootFrom).toBe(toHex(rootOfLeafHashes(hashes.slice(0, from).map(leafHash))));
      expect(c.rootTo).toBe(toHex(rootOfLeafHashes(hashes.map(leafHash))));
      verifyConsistency(from, n, c.proof.map((h) => fromHex(h)), fromHex(c.rootFrom), fromHex(c.rootTo));
    }
    expect((await svc.request('GET', `/v1/history/consistency?from=0&to=${n}`)).status).toBe(400);
    expect((await svc.request('GET', `/v1/history/consistency?from=1&to=${n + 5}`)).status).toBe(400);
  });

  test('the running sealer seals on its own within the interval, and announces the block', async () => {
    const heard = await hear(svc.events);
    sealer.start();
    const [hash] = await postOrders(2);
    for (let i = 0; i < 100; i++) {
      if ((await svc.request('GET', `/v1/links/${hash}/proof`)).status === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await sealer.stop();
    expect((await svc.request('GET', `/v1/links/${hash}/proof`)).status).toBe(200);
    const height = Number((await svc.pool.query<{ height: string }>('SELECT height FROM link_seals WHERE link_hash = $1', [hash])).rows[0]!.height);
    await heard.until((e) => e.type === 'block.sealed' && e.height === height);
    heard.stop();
  });
});

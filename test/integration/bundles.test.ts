// Bundles from the service, selective disclosure to readers, and erasure: streamed bundles carry
// what a regulator needs and nothing private unless it was disclosed to that reader; erasure leaves
// proofs and bundles byte for byte as they were.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { blockHash, decodeHeader, fromHex, leafHash, nobleVerifier, sha256Hex, toHex, canonicalJson, verifyBundle, verifyDisclosure, verifyInclusion, utf8 } from '../../src/core/index.js';
import { Bundles, type BundleScope } from '../../src/ledger/bundles.js';
import { Anchorer } from '../../src/anchor/anchorer.js';
import { Esplora } from '../../src/anchor/esplora.js';
import { type RegtestNetwork, startRegtest } from '../../src/anchor/regtest/index.js';
import { newWif, walletFromWif } from '../../src/anchor/tx.js';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

let svc: TestService;
let net: RegtestNetwork;
let auditorKey: { id: string; secret: string };
let regulatorKey: { id: string; secret: string };
const hashes: string[] = [];

interface Bundle {
  type: string;
  scope: Record<string, string>;
  createdAt: string;
  notary: { publicKey: string };
  links: { linkHash: string; link: { digests: string[] }; height: number; inclusion: { leafIndex: number; treeSize: number; path: string[] }; disclosures?: string[] }[];
  processes: { id: string; version: number; hash: string; definition: unknown }[];
  participants: { id: string; roles: string[]; keys: unknown[] }[];
  blocks: { header: string; notarySig: string }[];
  history: { height: number; to: number; path: string[] }[];
  anchors: { blockHash: string }[];
  manifest: { count: number; digest: string; notarySig: string };
}

beforeAll(async () => {
  svc = await startTestService();
  const p = svc.parties;
  let prev: string[] = [];
  for (const [step, author, cos] of [['order', 'customer', []], ['confirm', 'retailer', []], ['produce', 'manufacturer', ['retailer']], ['ship', 'delivery', []]] as const) {
    const s = makeSubmission(p[author]!, { step, mapId: 'bundle-1', prev, ...VALID[step] }, cos.map((c) => p[c]!));
    expect((await svc.request('POST', '/v1/links', { body: s.body })).status).toBe(201);
    hashes.push(s.hash);
    prev = [s.hash];
    await svc.sealer().sealOnce(); // one block per link
  }
  net = await startRegtest();
  const wallet = walletFromWif(newWif('regtest'), 'regtest');
  await net.fund(wallet.address, 10_000_000n);
  const a = new Anchorer({ pool: svc.pool, esplora: new Esplora(net.url), wallet, network: 'regtest', intervalMs: 0, confirmations: 1, feeFloor: 1, rebroadcastMs: 60_000, now: () => new Date() });
  await a.tick();
  await net.mine(1);
  await a.tick();
  auditorKey = (await svc.request('POST', '/v1/api-keys', { body: { role: 'auditor' } })).json as { id: string; secret: string };
  regulatorKey = (await svc.request('POST', '/v1/api-keys', { body: { role: 'regulator' } })).json as { id: string; secret: string };
});
afterAll(async () => {
  await svc?.close();
  await net?.stop();
});

const fetchBundle = async (key: string) => {
  const r = await svc.request('GET', '/v1/bundles?process=order-to-cash&mapId=bundle-1', { key });
  expect(r.status, r.body).toBe(200);
  return { text: r.body, bundle: JSON.parse(r.body) as Bundle };
};

describe('bundles', () => {
  test('a map bundle: every link with its inclusion, each block once, history to the anchored block, a signed manifest', async () => {
    const { bundle } = await fetchBundle(auditorKey.secret);
    expect(bundle.type).toBe('pop/bundle/v1');
    expect(bundle.links.map((l) => l.linkHash)).toEqual(hashes);
    expect(bundle.processes).toHaveLength(1);
    expect(bundle.processes[0]!.hash).toBe(sha256Hex(canonicalJson(bundle.processes[0]!.definition)));
    expect(bundle.participants.map((p) => p.id).sort()).toEqual(['customer', 'delivery', 'manufacturer', 'retailer']);
    const headers = new Map(bundle.blocks.map((b) => [decodeHeader(fromHex(b.header)).height, b]));
    expect(headers.size).toBe(bundle.blocks.length);
    for (const l of bundle.links) {
      const h = decodeHeader(fromHex(headers.get(l.height)!.header));
      verifyInclusion(l.inclusion.leafIndex, l.inclusion.treeSize, leafHash(fromHex(l.linkHash)), l.inclusion.path.map((x) => fromHex(x)), fromHex(h.linksRoot));
    }
    expect(bundle.anchors).toHaveLength(1);
    expect(bundle.history.length).toBe(3); // blocks 0..2 tied to the anchored block 3
    const anchored = toHex(blockHash(fromHex(headers.get(3)!.header)));
    expect(bundle.anchors[0]!.blockHash).toBe(anchored);
    const digest = sha256Hex(utf8(`pop:bundle:v1\n${canonicalJson(bundle.scope)}\n${bundle.createdAt}\n${hashes.map((h) => `${h}\n`).join('')}`));
    expect(bundle.manifest).toMatchObject({ count: 4, digest });
    expect(nobleVerifier.verify('ed25519', fromHex(bundle.notary.publicKey), utf8(`pop:bundle:v1:${digest}`), fromHex(bundle.manifest.notarySig))).toBe(true);
    expect(JSON.stringify(bundle)).not.toContain('Camille');
  });

  test('bundles are for admins, auditors and regulators; scopes are checked before streaming', async () => {
    expect((await svc.request('GET', '/v1/bundles?process=order-to-cash&mapId=bundle-1', { key: svc.parties['customer']!.apiKey })).status).toBe(403);
    expect((await svc.request('GET', '/v1/bundles?process=order-to-cash&mapId=nope', { key: auditorKey.secret })).status).toBe(404);
    expect((await svc.request('GET', '/v1/bundles?process=order-to-cash', { key: auditorKey.secret })).status).toBe(400);
    expect((await svc.request('GET', '/v1/bundles?process=order-to-cash&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', { key: auditorKey.secret })).status).toBe(400);
    const range = await svc.request('GET', `/v1/bundles?process=order-to-cash&from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z`, { key: auditorKey.secret });
    expect((JSON.parse(range.body) as Bundle).links).toHaveLength(4);
  });

  test('a field disclosed to the regulator reaches it, verified against the digests; nobody else sees it', async () => {
    const order = hashes[0]!;
    expect((await svc.request('POST', `/v1/links/${order}/disclosures`, { key: svc.parties['retailer']!.apiKey, body: { reader: regulatorKey.id, fields: ['name'] } })).status).toBe(403);
    expect((await svc.request('POST', `/v1/links/${order}/disclosures`, { key: svc.parties['customer']!.apiKey, body: { reader: regulatorKey.id, fields: ['nope'] } })).status).toBe(400);
    const granted = await svc.request('POST', `/v1/links/${order}/disclosures`, { key: svc.parties['customer']!.apiKey, body: { reader: regulatorKey.id, fields: ['name'] } });
    expect(granted.status, granted.body).toBe(201);
    const seen = await svc.request('GET', `/v1/links/${order}/disclosures`, { key: regulatorKey.secret });
    const disclosures = seen.json['disclosures'] as string[];
    expect(disclosures).toHaveLength(1);
    const link = (await svc.request('GET', `/v1/links/${order}`)).json['link'] as { digests: string[] };
    expect(verifyDisclosure(disclosures[0]!, link.digests)).toEqual({ field: 'name', value: 'Camille Martin' });
    expect((await svc.request('GET', `/v1/links/${order}/disclosures`, { key: auditorKey.secret })).json['disclosures']).toEqual([]);
    const forRegulator = (await fetchBundle(regulatorKey.secret)).bundle;
    expect(forRegulator.links[0]!.disclosures).toEqual(disclosures);
    expect(JSON.stringify(forRegulator)).not.toContain('Rue de la Paix'); // the address was not disclosed
    const forAuditor = (await fetchBundle(auditorKey.secret)).text;
    expect(forAuditor).not.toContain('Camille');
    // a whole map: the carrier's tracking link to the auditor
    const map = await svc.request('POST', '/v1/maps/order-to-cash/bundle-1/disclosures', { key: svc.parties['delivery']!.apiKey, body: { reader: auditorKey.id, fields: ['trackingUrl'] } });
    expect(map.status, map.body).toBe(201);
    expect(map.json['links']).toEqual([hashes[3]]);
  });

  test('erasure: 410 for the data afterwards, recorded with its reason, proofs and bundles byte-identical', async () => {
    const order = hashes[0]!;
    const proofBefore = (await svc.request('GET', `/v1/links/${order}/proof`)).body;
    const bundleBefore = (await fetchBundle(auditorKey.secret)).text;
    expect((await svc.request('DELETE', `/v1/links/${order}/data`, { key: svc.parties['customer']!.apiKey, body: {} })).status).toBe(400); // a reason is required
    expect((await svc.request('DELETE', `/v1/links/${order}/data`, { key: svc.parties['retailer']!.apiKey, body: { reason: 'x' } })).status).toBe(403);
    const erased = await svc.request('DELETE', `/v1/links/${order}/data`, { key: svc.parties['customer']!.apiKey, body: { reason: 'GDPR art. 17 request #12' } });
    expect(erased.status, erased.body).toBe(200);
    expect(erased.json['reason']).toBe('GDPR art. 17 request #12');
    expect((await svc.request('GET', `/v1/links/${order}/private`, { key: svc.parties['customer']!.apiKey })).status).toBe(410);
    expect((await svc.request('GET', `/v1/links/${order}/disclosures`, { key: regulatorKey.secret })).status).toBe(410);
    expect((await svc.request('DELETE', `/v1/links/${order}/data`, { body: { reason: 'again' } })).status).toBe(410);
    expect((await svc.request('GET', `/v1/links/${order}/proof`)).body).toBe(proofBefore);
    expect((await fetchBundle(auditorKey.secret)).text).toBe(bundleBefore);
    const forRegulator = (await fetchBundle(regulatorKey.secret)).bundle;
    expect(forRegulator.links[0]!.disclosures).toBeUndefined(); // the salts are gone
    const rows = await svc.pool.query('SELECT reason, erased_by FROM erasures WHERE link_hash = $1', [order]);
    expect(rows.rows[0]).toMatchObject({ reason: 'GDPR art. 17 request #12' });
    expect(await svc.pool.query('SELECT 1 FROM private_data WHERE link_hash = $1', [order]).then((r) => r.rowCount)).toBe(0);
  });
  test('a time-range bundle is read a few seals at a time: the same bytes for any page size, only the links in range, across blocks', async () => {
    // Seven orders a minute apart, in two blocks; the range takes the 2nd to the 6th, so each block
    // also holds a sealed link outside it (and the earlier blocks hold the map above).
    const posted: string[] = [];
    for (let i = 0; i < 7; i++) {
      svc.clock.offsetMs += 60_000;
      const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: `range-${i}`, ...VALID['order'], createdAt: new Date(Date.now() + svc.clock.offsetMs).toISOString() });
      expect((await svc.request('POST', '/v1/links', { body: s.body })).status).toBe(201);
      posted.push(s.hash);
      if (i === 3) await svc.sealer().sealOnce();
    }
    await svc.sealer().sealOnce();
    const acceptedAt = async (hash: string) => (await svc.pool.query<{ accepted_at: string }>('SELECT accepted_at FROM links WHERE hash = $1', [hash])).rows[0]!.accepted_at;
    const range: BundleScope = { process: 'order-to-cash', from: await acceptedAt(posted[1]!), to: await acceptedAt(posted[6]!) };
    const map: BundleScope = { process: 'order-to-cash', mapId: 'bundle-1' };
    const actor = { keyId: auditorKey.id, role: 'auditor' as const, participantId: null };
    const now = new Date((await svc.ledger.proofs.tip())!.timestamp);
    const read = async (scope: BundleScope, page?: number) => {
      let text = '';
      for await (const chunk of new Bundles(svc.pool, svc.notary, svc.ledger.queries, svc.ledger.proofs, svc.ledger.disclosures, { page }).stream(scope, actor, now)) text += chunk;
      return text;
    };
    const whole = await read(range);
    const served = await svc.request('GET', `/v1/bundles?${new URLSearchParams(range as Record<string, string>)}`, { key: auditorKey.secret });
    expect(served.body).toBe(whole);
    const bundle = JSON.parse(whole) as Bundle;
    expect(bundle.links.map((l) => l.linkHash)).toEqual(posted.slice(1, 6));
    expect(new Set(bundle.links.map((l) => l.height)).size).toBe(2);
    expect(verifyBundle(bundle, { verifier: nobleVerifier, notaryKeys: [svc.notaryPublicKey] }).failures).toEqual([]);
    for (const page of [1, 2, 3]) expect(await read(range, page)).toBe(whole);
    expect(await read(map, 1)).toBe(await read(map));
  });
});

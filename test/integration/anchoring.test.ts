// Anchoring end to end on the local regtest network: links → block → anchor tx → mined → confirmed →
// a proof that verifies offline with its anchor; and the faults: a crash between signing and
// broadcast, a restart while unconfirmed, reorgs that move or drop the anchor, no funds, no network.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { exitCodeFor } from '../../src/cli/exit.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ProofV1, verifyProof } from '../../src/core/index.js';
import { Anchorer } from '../../src/anchor/anchorer.js';
import { Esplora, EsploraError } from '../../src/anchor/esplora.js';
import { type RegtestNetwork, startRegtest } from '../../src/anchor/regtest/index.js';
import { newWif, walletFromWif, type Wallet } from '../../src/anchor/tx.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import type { Sealer } from '../../src/ledger/sealer.js';
import { hear } from '../helpers/events.js';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

let svc: TestService;
let sealer: Sealer;
let net: RegtestNetwork;
let wallet: Wallet;
let counter = 0;

/** An Esplora whose broadcasts fail as if the process died before sending (or the network is down). */
class FlakyEsplora extends Esplora {
  failBroadcasts = 0;
  override async broadcast(hex: string): Promise<string> {
    if (this.failBroadcasts > 0) {
      this.failBroadcasts--;
      throw new EsploraError('unreachable', 'simulated crash before broadcast');
    }
    return super.broadcast(hex);
  }
}

function anchorer(esplora: Esplora = new Esplora(net.url), w: Wallet = wallet): Anchorer {
  return new Anchorer({
    pool: svc.pool,
    esplora,
    wallet: w,
    network: 'regtest',
    intervalMs: 0,
    confirmations: 1,
    feeFloor: 1,
    rebroadcastMs: 60_000,
    now: () => new Date(),
  });
}

async function postAndSeal(n = 2): Promise<string[]> {
  const subs = Array.from({ length: n }, () => makeSubmission(svc.parties['customer']!, { step: 'order', mapId: `anchor-${counter++}`, ...VALID['order'] }));
  const r = await svc.request('POST', '/v1/links/batch', { body: { links: subs.map((s) => s.body) } });
  expect(r.status, r.body).toBe(201);
  await sealer.sealOnce();
  return subs.map((s) => s.hash);
}

async function anchors(): Promise<{ txid: string; status: string; block_height: string; bitcoin_block_hash: string | null }[]> {
  return (await svc.pool.query("SELECT txid, status, block_height, bitcoin_block_hash FROM anchors ORDER BY id")).rows;
}

const root = join(fileURLToPath(import.meta.url), '../../..');
function popVerify(file: string, bitcoin: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'verify', file, '--json', '--bitcoin', bitcoin], { cwd: root }, (error, stdout) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout }),
    );
  });
}

const verify = (proof: unknown) => verifyProof(proof, { verifier: nodeVerifier, notaryKeys: [svc.notaryPublicKey] });

beforeAll(async () => {
  svc = await startTestService();
  sealer = svc.sealer({ difficulty: 8 });
  net = await startRegtest();
  wallet = walletFromWif(newWif('regtest'), 'regtest');
  await net.fund(wallet.address, 50_000_000n);
});
const scratch = mkdtempSync(join(tmpdir(), 'pop-anchor-'));
afterAll(async () => {
  await svc?.close();
  await net?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('anchoring on the local regtest network', () => {
  test('links → block → anchor → mined → confirmed → a proof that verifies offline with its anchor', async () => {
    const heard = await hear(svc.events);
    const [hash] = await postAndSeal(3);
    const a = anchorer();
    await a.tick(); // builds, persists, broadcasts
    const [row] = await anchors();
    expect(row).toMatchObject({ status: 'broadcast', block_height: '0' });
    expect((await svc.request('GET', `/v1/links/${hash}`)).json['status']).toBe('anchored');
    const status = await new Esplora(net.url).txStatus(row!.txid);
    expect(status.confirmed).toBe(false);

    await net.mine(1);
    await a.tick();
    expect((await anchors())[0]!.status).toBe('confirmed');
    expect((await svc.request('GET', `/v1/links/${hash}`)).json['status']).toBe('confirmed');
    // Announced on the event stream, from the row that recorded it.
    const confirmed = await heard.until((e) => e.type === 'anchor.confirmed');
    heard.stop();
    const recorded = (await svc.pool.query<{ block_hash: string; bitcoin_height: number }>('SELECT block_hash, bitcoin_height FROM anchors WHERE txid = $1', [row!.txid])).rows[0]!;
    expect(confirmed).toEqual({ type: 'anchor.confirmed', height: 0, blockHash: recorded.block_hash, txid: row!.txid, network: 'regtest', bitcoinHeight: recorded.bitcoin_height });
    expect(heard.events.filter((e) => e.type === 'anchor.confirmed')).toHaveLength(1);

    const proof = (await svc.request('GET', `/v1/links/${hash}/proof`)).json as unknown as ProofV1;
    expect(proof.anchor).toBeDefined();
    const result = verify(proof);
    expect(result.ok).toBe(true);
    expect(result.anchor).toBe('verified');

    const st = await svc.request('GET', '/v1/anchors/status');
    expect(st.json).toMatchObject({ enabled: true, network: 'regtest', state: 'ok', counts: { confirmed: 1 } });
    const list = await svc.request('GET', '/v1/anchors');
    expect(list.json.items).toHaveLength(1);
    await a.tick(); // the tip did not move: nothing new
    expect(await anchors()).toHaveLength(1);
  });

  test('a later link is tied to its anchored block by a history proof', async () => {
    const [early] = await postAndSeal(1);
    await postAndSeal(1);
    const a = anchorer();
    await a.tick();
    await net.mine(1);
    await a.tick();
    const proof = (await svc.request('GET', `/v1/links/${early}/proof`)).json as unknown as ProofV1;
    expect(proof.history).toBeDefined();
    const result = verify(proof);
    expect(result.anchor).toBe('verified');
    expect(result.history!.height).toBeGreaterThan(result.block.height);
  });

  test('killed between signing and broadcast: the signed anchor is sent on restart, never a second one', async () => {
    await postAndSeal(1);
    const flaky = new FlakyEsplora(net.url);
    flaky.failBroadcasts = 1;
    await anchorer(flaky).tick();
    const signed = (await anchors()).filter((r) => r.status === 'signed');
    expect(signed).toHaveLength(1);
    const restarted = anchorer(); // a new process finds the signed row
    await restarted.tick();
    await restarted.tick();
    expect((await anchors()).filter((r) => r.status === 'signed' || r.status === 'broadcast')).toHaveLength(1);
    await net.mine(1);
    await restarted.tick();
    const all = await anchors();
    expect(all.filter((r) => r.txid === signed[0]!.txid)[0]!.status).toBe('confirmed');
    expect(new Set(all.map((r) => r.block_height)).size).toBe(all.length); // one anchor per block
  });

  test('a reorg that moves the anchor updates its evidence; one that drops it re-anchors', async () => {
    const [hash] = await postAndSeal(1);
    const a = anchorer();
    await a.tick();
    await net.mine(1);
    await a.tick();
    const before = (await anchors()).at(-1)!;
    expect(before.status).toBe('confirmed');
    const heard = await hear(svc.events);

    // Online, the one check that needs an outside source: is that Bitcoin block on the best chain?
    const file = join(scratch, 'proof.json');
    writeFileSync(file, (await svc.request('GET', `/v1/links/${hash}/proof`)).body);
    const online = await popVerify(file, net.url);
    expect(online.code, online.stdout).toBe(0);
    expect(JSON.parse(online.stdout)).toMatchObject({ ok: true, anchored: 1, bestChain: { inBestChain: true, confirmations: 1 } });

    await net.reorg(1); // the tx goes back to the mempool and into the replacement block
    const stale = await popVerify(file, net.url); // the saved proof names a block that is no longer on the best chain
    expect(stale.code).toBe(exitCodeFor('ANCHOR_INVALID'));
    await a.tick();
    const moved = (await anchors()).at(-1)!;
    expect(moved.txid).toBe(before.txid);
    expect(moved.status).toBe('confirmed');
    expect(moved.bitcoin_block_hash).not.toBe(before.bitcoin_block_hash);
    // Confirmed again, in another Bitcoin block: announced again.
    await heard.until((e) => e.type === 'anchor.confirmed' && e.txid === before.txid);
    heard.stop();
    expect(verify((await svc.request('GET', `/v1/links/${hash}/proof`)).json).anchor).toBe('verified');

    const esplora = new Esplora(net.url);
    const depth = (await esplora.tipHeight()) - (await esplora.txStatus(before.txid)).block_height! + 1;
    await net.reorg(depth, { dropTxs: true }); // replace the anchor's block and those after it, forgetting the tx
    // One tick: the evidence is off the best chain and the tx is gone, so the anchor is dropped and
    // the tip anchored again — from the same coins, signing deterministically, the same transaction.
    await a.tick();
    const again = (await anchors()).filter((r) => r.status === 'broadcast');
    expect(again).toHaveLength(1);
    expect(again[0]!.bitcoin_block_hash).toBeNull();
    await net.mine(1);
    await a.tick();
    const last = (await anchors()).find((r) => r.status === 'confirmed' && r.block_height === before.block_height)!;
    expect(last.status).toBe('confirmed');
    expect(last.bitcoin_block_hash).not.toBe(moved.bitcoin_block_hash);
    const proof = (await svc.request('GET', `/v1/links/${hash}/proof`)).json as unknown as ProofV1;
    expect(proof.anchor!.txid).toBe(last.txid);
    expect(verify(proof).anchor).toBe('verified');
    const inChain = await new Esplora(net.url).blockStatus(last.bitcoin_block_hash!);
    expect(inChain.in_best_chain).toBe(true);
  });

  test('no funds or no network: a clear state, and sealing goes on', async () => {
    await postAndSeal(1);
    const good = anchorer();
    await good.tick();
    await net.mine(1);
    await good.tick(); // nothing in flight now
    await postAndSeal(1);
    const poor = walletFromWif(newWif('regtest'), 'regtest');
    await anchorer(new Esplora(net.url), poor).tick();
    let st = (await svc.request('GET', '/v1/anchors/status')).json;
    expect(st['state']).toBe('insufficient-funds');
    expect(String(st['detail'])).toContain(poor.address);

    await anchorer(new Esplora('http://127.0.0.1:9')).tick();
    st = (await svc.request('GET', '/v1/anchors/status')).json;
    expect(st['state']).toBe('unreachable');
    const metrics = (await svc.request('GET', '/metrics', { key: null })).body;
    expect(metrics).toMatch(/pop_anchor_state\{state="unreachable",network="regtest"\} 1/);
    expect(metrics).toMatch(/pop_anchors\{status="confirmed"\} [1-9]/);

    const [hash] = await postAndSeal(1);
    expect((await svc.request('GET', `/v1/links/${hash}`)).json['status']).toBe('sealed');
    const client = new pg.Client({ connectionString: svc.databaseUrl });
    await client.connect();
    const inFlight = await client.query("SELECT count(*)::int AS n FROM anchors WHERE status IN ('signed', 'broadcast')");
    await client.end();
    expect(inFlight.rows[0].n).toBe(0);
  });
});

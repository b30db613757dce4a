// The local regtest network, exercised only over HTTP the way the anchoring code will use it: real
// blocks and proofs checked with an independent SHA-256 (node:crypto), real transactions built and
// signed with bitcoinjs-lib's Psbt, every rejection the mempool must make, BIP125 replacement, reorgs
// that move (or drop) a transaction, the test-only routes, hostile input, and persistence.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Block, Psbt, Transaction, networks, payments, script as bscript } from 'bitcoinjs-lib';
import { ECPairFactory, type ECPairInterface } from 'ecpair';
import * as ecc from 'tiny-secp256k1';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REGTEST_GENESIS_HASH, type RegtestNetwork, startRegtest } from '../../src/anchor/regtest/index.js';

const ECPair = ECPairFactory(ecc);
const NET = networks.regtest;

// ---- helpers --------------------------------------------------------------------------------

function sha256d(data: Uint8Array): Buffer {
  return createHash('sha256').update(createHash('sha256').update(data).digest()).digest();
}
const rev = (hex: string): Buffer => Buffer.from(hex, 'hex').reverse();

interface Wallet {
  key: ECPairInterface;
  address: string;
  script: Uint8Array;
}
function wallet(): Wallet {
  const key = ECPair.makeRandom({ network: NET });
  const p = payments.p2wpkh({ pubkey: key.publicKey, network: NET });
  return { key, address: p.address as string, script: p.output as Uint8Array };
}

interface Utxo {
  txid: string;
  vout: number;
  value: bigint;
}
interface Out {
  script: Uint8Array;
  value: bigint;
}

function opReturn(): Uint8Array {
  const payload = Buffer.concat([Buffer.from('POP1'), randomBytes(32)]);
  return payments.embed({ data: [payload] }).output as Uint8Array;
}

/** A P2WPKH spend signed with Psbt. `signValue` lies about the prevout amount (BIP143 commits to it). */
function spend(w: Wallet, inputs: Utxo[], outputs: Out[], opts: { sequence?: number; signValue?: bigint } = {}): Transaction {
  const psbt = new Psbt({ network: NET });
  for (const i of inputs) {
    psbt.addInput({
      hash: i.txid,
      index: i.vout,
      sequence: opts.sequence ?? 0xfffffffd,
      witnessUtxo: { script: w.script, value: opts.signValue ?? i.value },
    });
  }
  for (const o of outputs) psbt.addOutput({ script: o.script, value: o.value });
  psbt.signAllInputs(w.key);
  psbt.finalizeAllInputs();
  return psbt.extractTransaction(true);
}

/** A P2WPKH spend signed by hand (Psbt refuses to build some of the invalid ones we need). */
function signRaw(w: Wallet, u: Utxo, outputs: Out[]): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.addInput(rev(u.txid), u.vout, 0xfffffffd);
  for (const o of outputs) tx.addOutput(o.script, o.value);
  const scriptCode = payments.p2pkh({ pubkey: w.key.publicKey }).output as Uint8Array;
  const hash = tx.hashForWitnessV0(0, scriptCode, u.value, Transaction.SIGHASH_ALL);
  tx.setWitness(0, [bscript.signature.encode(w.key.sign(hash), Transaction.SIGHASH_ALL), w.key.publicKey]);
  return tx;
}

/** OP_RETURN + change back to the wallet, paying exactly `fee(vsize)`. */
function anchorTx(w: Wallet, u: Utxo, fee: (vsize: number) => bigint, opts: { sequence?: number } = {}): Transaction {
  const data = opReturn();
  let tx = spend(w, [u], [{ script: data, value: 0n }, { script: w.script, value: u.value - 200n }], opts);
  for (let i = 0; i < 5; i++) {
    const f = fee(tx.virtualSize());
    const next = spend(w, [u], [{ script: data, value: 0n }, { script: w.script, value: u.value - f }], opts);
    if (next.virtualSize() === tx.virtualSize()) return next;
    tx = next;
  }
  return tx;
}

describe('local regtest network (Esplora-compatible, honest chain)', () => {
  let net: RegtestNetwork;
  const alice = wallet();

  async function get(path: string): Promise<{ status: number; text: string; type: string | null }> {
    const res = await fetch(net.url + path);
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
  }
  async function getJson<T = unknown>(path: string): Promise<T> {
    const r = await get(path);
    expect(r.status, `${path}: ${r.text}`).toBe(200);
    expect(r.type).toBe('application/json');
    return JSON.parse(r.text) as T;
  }
  async function post(path: string, body: string, type = 'text/plain'): Promise<{ status: number; text: string }> {
    const res = await fetch(net.url + path, { method: 'POST', body, headers: { 'content-type': type } });
    return { status: res.status, text: await res.text() };
  }
  async function broadcast(tx: Transaction): Promise<{ status: number; text: string }> {
    return post('/tx', tx.toHex());
  }
  async function expectRejected(tx: Transaction | string, reason: string): Promise<void> {
    const r = await post('/tx', typeof tx === 'string' ? tx : tx.toHex());
    expect(r.status, r.text).toBe(400);
    expect(r.text).toContain(reason);
  }
  async function fund(w: Wallet, sats = 100_000n): Promise<Utxo> {
    const { txid, vout } = await net.fund(w.address, sats);
    return { txid, vout, value: sats };
  }
  async function header(hash: string): Promise<Buffer> {
    const r = await get(`/block/${hash}/header`);
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/^[0-9a-f]{160}$/);
    return Buffer.from(r.text, 'hex');
  }
  /** Folds an Esplora merkle-proof into a root (internal order) with an independent SHA-256. */
  function fold(txid: string, proof: { merkle: string[]; pos: number }): Buffer {
    let h = rev(txid);
    let pos = proof.pos;
    for (const sibling of proof.merkle) {
      const s = rev(sibling);
      h = pos & 1 ? sha256d(Buffer.concat([s, h])) : sha256d(Buffer.concat([h, s]));
      pos >>= 1;
    }
    expect(pos).toBe(0);
    return h;
  }
  function powOk(hdr: Buffer): boolean {
    const bits = hdr.readUInt32LE(72);
    const target = BigInt(bits & 0x007fffff) << BigInt(8 * ((bits >>> 24) - 3));
    return BigInt('0x' + Buffer.from(sha256d(hdr)).reverse().toString('hex')) <= target;
  }

  beforeAll(async () => {
    net = await startRegtest();
  });
  afterAll(async () => {
    await net?.stop();
  });

  test('starts at Bitcoin Core’s regtest genesis block; fund() gives a confirmed, mature UTXO', async () => {
    expect(net.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await get('/block-height/0')).text).toBe(REGTEST_GENESIS_HASH);
    expect((await get('/blocks/tip/height')).text).toBe('0');
    const u = await fund(alice, 250_000n);
    expect(net.tipHeight()).toBeGreaterThanOrEqual(101);
    expect((await get('/blocks/tip/height')).text).toBe(String(net.tipHeight()));
    const utxos = await getJson<Array<{ txid: string; vout: number; value: number; status: Record<string, unknown> }>>(`/address/${alice.address}/utxo`);
    expect(utxos).toHaveLength(1);
    expect(utxos[0]).toMatchObject({ txid: u.txid, vout: u.vout, value: 250_000, status: { confirmed: true, block_height: net.tipHeight() } });
    expect(Object.keys(utxos[0] as object).sort()).toEqual(['status', 'txid', 'value', 'vout']);
    const status = utxos[0]?.status as { block_hash: string; block_time: number };
    expect(status.block_hash).toBe((await get('/blocks/tip/hash')).text);
    expect(Number.isInteger(status.block_time)).toBe(true);
  });

  test('broadcast → unconfirmed → mined: status, Merkle proof folding to the header root, PoW', async () => {
    const u = await fund(alice);
    const tx = anchorTx(alice, u, (v) => BigInt(v) * 2n);
    const txid = tx.getId();
    const sent = await broadcast(tx);
    expect(sent).toEqual({ status: 200, text: txid });
    // Broadcasting the same transaction again is fine (bitcoind answers with the txid).
    expect(await broadcast(tx)).toEqual({ status: 200, text: txid });

    expect(await getJson(`/tx/${txid}/status`)).toEqual({ confirmed: false });
    expect((await get(`/tx/${txid}/merkle-proof`)).status).toBe(404);
    expect((await get(`/tx/${txid}/hex`)).text).toBe(tx.toHex());
    const pending = await getJson<Array<{ txid: string; status: { confirmed: boolean } }>>(`/address/${alice.address}/utxo`);
    expect(pending.find((x) => x.txid === u.txid)).toBeUndefined(); // spent in the mempool
    expect(pending.find((x) => x.txid === txid)).toMatchObject({ status: { confirmed: false } });

    const before = net.tipHeight();
    const [hash] = await net.mine(1);
    const status = await getJson<{ confirmed: boolean; block_height: number; block_hash: string; block_time: number }>(`/tx/${txid}/status`);
    expect(status).toMatchObject({ confirmed: true, block_height: before + 1, block_hash: hash });
    expect(Object.keys(status).sort()).toEqual(['block_hash', 'block_height', 'block_time', 'confirmed']);

    const proof = await getJson<{ block_height: number; merkle: string[]; pos: number }>(`/tx/${txid}/merkle-proof`);
    expect(Object.keys(proof).sort()).toEqual(['block_height', 'merkle', 'pos']);
    expect(proof.block_height).toBe(before + 1);
    expect(proof.pos).toBe(1); // after the coinbase
    const hdr = await header(hash as string);
    expect(fold(txid, proof).equals(hdr.subarray(36, 68))).toBe(true);
    expect(Buffer.from(sha256d(hdr)).reverse().toString('hex')).toBe(hash);
    expect(hdr.readUInt32LE(72)).toBe(0x207fffff);
    expect(powOk(hdr)).toBe(true);
    expect(hdr.subarray(4, 36).equals(rev((await get(`/block-height/${before}`)).text))).toBe(true);
    expect(await getJson(`/block/${hash}/status`)).toEqual({ in_best_chain: true, height: before + 1, next_best: null });
    expect(await getJson(`/block/${(await get(`/block-height/${before}`)).text}/status`)).toEqual({
      in_best_chain: true,
      height: before,
      next_best: hash,
    });
  });

  test('every block is a real bitcoinjs Block: BIP34 height, witness commitment, roots, PoW, chaining, time', async () => {
    await fund(alice); // at least one block with a segwit spend in it
    const tip = net.tipHeight();
    let prevHash = REGTEST_GENESIS_HASH;
    let prevTime = 0;
    let sawSegwitSpend = false;
    for (let h = 1; h <= tip; h++) {
      const hash = (await get(`/block-height/${h}`)).text;
      const res = await fetch(`${net.url}/block/${hash}/raw`);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      const block = Block.fromBuffer(new Uint8Array(await res.arrayBuffer()));
      expect(block.getId()).toBe(hash);
      expect(Buffer.from(block.prevHash as Uint8Array).reverse().toString('hex')).toBe(prevHash);
      expect(block.bits).toBe(0x207fffff);
      expect(block.checkProofOfWork()).toBe(true);
      expect(block.timestamp).toBeGreaterThan(prevTime);
      expect(block.hasWitnessCommit()).toBe(true);
      expect(block.checkTxRoots()).toBe(true);
      const txs = block.transactions as Transaction[];
      expect(txs[0]?.isCoinbase()).toBe(true);
      const prefix = bscript.compile([bscript.number.encode(h)]);
      expect(Buffer.from((txs[0] as Transaction).ins[0]?.script as Uint8Array).subarray(0, prefix.length).equals(prefix)).toBe(true);
      if (txs.length > 1 && block.hasWitness()) sawSegwitSpend = true;
      prevHash = hash;
      prevTime = block.timestamp;
    }
    expect(sawSegwitSpend).toBe(true);
  });

  test('refuses: spent and non-existent inputs, bad signatures, wrong key, fee below 1 sat/vB, dust, in<out', async () => {
    const u = await fund(alice);
    const good = anchorTx(alice, u, (v) => BigInt(v));
    await expectRejected(anchorTx(alice, u, (v) => BigInt(v) - 1n), 'min relay fee not met');
    await expectRejected(spend(alice, [u], [{ script: alice.script, value: u.value - 1000n }], { signValue: u.value + 1n }), 'mandatory-script-verify-flag-failed (Signature must be zero');
    // Right signature, someone else's public key: the witness key hash does not match the output.
    const forged = good.clone();
    forged.setWitness(0, [good.ins[0]?.witness[0] as Uint8Array, wallet().key.publicKey]);
    await expectRejected(forged, 'OP_EQUALVERIFY');
    // A flipped bit inside the signature.
    const flipped = good.clone();
    const sig = Uint8Array.from(good.ins[0]?.witness[0] as Uint8Array);
    sig[10] = (sig[10] as number) ^ 1;
    flipped.setWitness(0, [sig, alice.key.publicKey]);
    await expectRejected(flipped, 'mandatory-script-verify-flag-failed');
    await expectRejected(spend(alice, [u], [{ script: alice.script, value: 100n }]), 'dust');
    await expectRejected(signRaw(alice, u, [{ script: alice.script, value: u.value + 1n }]), 'bad-txns-in-belowout');
    await expectRejected(spend(alice, [{ txid: randomBytes(32).toString('hex'), vout: 0, value: 50_000n }], [{ script: alice.script, value: 40_000n }]), 'bad-txns-inputs-missingorspent');

    // Exactly 1 sat/vB is enough; once mined, spending the same output again is refused.
    expect((await broadcast(good)).status).toBe(200);
    await net.mine(1);
    expect(await getJson(`/tx/${good.getId()}/status`)).toMatchObject({ confirmed: true });
    await expectRejected(anchorTx(alice, u, (v) => BigInt(v) * 5n), 'bad-txns-inputs-missingorspent');
  });

  test('refuses a double spend of a mempool transaction that does not signal replacement', async () => {
    const u = await fund(alice);
    const first = anchorTx(alice, u, (v) => BigInt(v) * 2n, { sequence: 0xffffffff });
    expect((await broadcast(first)).status).toBe(200);
    await expectRejected(anchorTx(alice, u, (v) => BigInt(v) * 10n, { sequence: 0xffffffff }), 'txn-mempool-conflict');
    await net.mine(1);
    expect(await getJson(`/tx/${first.getId()}/status`)).toMatchObject({ confirmed: true });
  });

  test('refuses a 64-byte transaction (and anything under 65 non-witness bytes)', async () => {
    const u = await fund(alice);
    const tx = signRaw(alice, u, [{ script: Uint8Array.from([0x6a, 0x02, 0xab, 0xcd]), value: 0n }]);
    expect(tx.byteLength(false)).toBe(64);
    await expectRejected(tx, 'tx-size-small');
  });

  test('refuses garbage: not hex, odd length, truncated, empty', async () => {
    for (const body of ['zz', 'abc', 'deadbeef', '', '0'.repeat(9), 'ü'.repeat(4), 'de ad']) {
      await expectRejected(body, 'TX decode failed');
    }
    // Ten zero bytes decode (as bitcoind decodes them) into a transaction without inputs.
    await expectRejected('00'.repeat(10), 'bad-txns-vin-empty');
    const u = await fund(alice);
    const tx = anchorTx(alice, u, (v) => BigInt(v) * 2n).toHex();
    await expectRejected(tx.slice(0, -2), 'TX decode failed');
    await expectRejected(tx + '00', 'TX decode failed');
    // Random bytes and single-byte mutations of a valid transaction: always a clean 400, never a 500.
    const statuses = new Set<number>();
    for (let i = 0; i < 150; i++) {
      statuses.add((await post('/tx', randomBytes(1 + (i % 120)).toString('hex'))).status);
      const bytes = Buffer.from(tx, 'hex');
      const at = (i * 7919) % bytes.length;
      bytes[at] = (bytes[at] as number) ^ (1 << (i % 8));
      statuses.add((await post('/tx', bytes.toString('hex'))).status);
    }
    expect([...statuses]).toEqual([400]);
  });

  test('an immature coinbase is refused until it has 100 confirmations', async () => {
    const [hash] = await net.mine(1, alice.address);
    const res = await fetch(`${net.url}/block/${hash}/raw`);
    const coinbase = (Block.fromBuffer(new Uint8Array(await res.arrayBuffer())).transactions as Transaction[])[0] as Transaction;
    const cb: Utxo = { txid: coinbase.getId(), vout: 0, value: coinbase.outs[0]?.value as bigint };
    const utxos = await getJson<Array<{ txid: string }>>(`/address/${alice.address}/utxo`);
    expect(utxos.some((x) => x.txid === cb.txid)).toBe(true);
    const tx = anchorTx(alice, cb, (v) => BigInt(v) * 2n);
    await expectRejected(tx, 'bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 1');
    await net.mine(98);
    await expectRejected(tx, 'tried to spend coinbase at depth 99');
    await net.mine(1);
    expect(await broadcast(tx)).toEqual({ status: 200, text: tx.getId() });
    await net.mine(1);
  });

  test('BIP125: a replacement paying more evicts the original; a cheaper one is refused', async () => {
    const u = await fund(alice);
    const original = anchorTx(alice, u, (v) => BigInt(v) * 2n);
    const bump = anchorTx(alice, u, (v) => BigInt(v) * 6n);
    const cheap = anchorTx(alice, u, (v) => BigInt(v) * 4n);
    expect((await broadcast(original)).status).toBe(200);
    expect(await broadcast(bump)).toEqual({ status: 200, text: bump.getId() });
    expect((await get(`/tx/${original.getId()}/hex`)).status).toBe(404);
    expect(await getJson(`/tx/${original.getId()}/status`)).toEqual({ confirmed: false });
    const utxos = await getJson<Array<{ txid: string }>>(`/address/${alice.address}/utxo`);
    expect(utxos.some((x) => x.txid === original.getId())).toBe(false);
    expect(utxos.some((x) => x.txid === bump.getId())).toBe(true);
    await expectRejected(cheap, 'insufficient fee, rejecting replacement');
    // The evicted original cannot come back either: it pays less than what is there now.
    await expectRejected(original, 'insufficient fee');
    await net.mine(1);
    expect(await getJson(`/tx/${bump.getId()}/status`)).toMatchObject({ confirmed: true });
    expect(await getJson(`/tx/${original.getId()}/status`)).toEqual({ confirmed: false });
  });

  test('unconfirmed chains: a child of a mempool parent is accepted, mined after it, and evicted with it', async () => {
    const u = await fund(alice);
    const parent = anchorTx(alice, u, (v) => BigInt(v) * 2n);
    const change: Utxo = { txid: parent.getId(), vout: 1, value: parent.outs[1]?.value as bigint };
    const child = spend(alice, [change], [{ script: alice.script, value: change.value - 500n }]);
    await expectRejected(child, 'bad-txns-inputs-missingorspent'); // parent not known yet
    expect((await broadcast(parent)).status).toBe(200);
    expect((await broadcast(child)).status).toBe(200);
    // Replacing the parent evicts the child too.
    const bump = anchorTx(alice, u, (v) => BigInt(v) * 2n + 1000n);
    expect((await broadcast(bump)).status).toBe(200);
    expect((await get(`/tx/${child.getId()}/hex`)).status).toBe(404);
    // Without the replacement: parent and child land in one block, in order, both provable.
    const u2 = await fund(alice);
    const p2 = anchorTx(alice, u2, (v) => BigInt(v) * 2n);
    const c2 = spend(alice, [{ txid: p2.getId(), vout: 1, value: p2.outs[1]?.value as bigint }], [
      { script: alice.script, value: (p2.outs[1]?.value as bigint) - 500n },
    ]);
    expect((await broadcast(p2)).status).toBe(200);
    expect((await broadcast(c2)).status).toBe(200);
    const [hash] = await net.mine(1);
    const hdr = await header(hash as string);
    const pp = await getJson<{ merkle: string[]; pos: number }>(`/tx/${p2.getId()}/merkle-proof`);
    const cp = await getJson<{ merkle: string[]; pos: number }>(`/tx/${c2.getId()}/merkle-proof`);
    expect(cp.pos).toBe(pp.pos + 1);
    expect(fold(p2.getId(), pp).equals(hdr.subarray(36, 68))).toBe(true);
    expect(fold(c2.getId(), cp).equals(hdr.subarray(36, 68))).toBe(true);
  });

  test('reorg(1) moves the transaction into a new block: new hash, new proof, old block out of the best chain', async () => {
    const u = await fund(alice);
    const tx = anchorTx(alice, u, (v) => BigInt(v) * 2n);
    const txid = tx.getId();
    expect((await broadcast(tx)).status).toBe(200);
    const [oldHash] = await net.mine(1);
    const height = net.tipHeight();
    const oldProof = await getJson<{ block_height: number; merkle: string[]; pos: number }>(`/tx/${txid}/merkle-proof`);

    await net.reorg(1);
    expect(net.tipHeight()).toBe(height + 1);
    const status = await getJson<{ confirmed: boolean; block_height: number; block_hash: string }>(`/tx/${txid}/status`);
    expect(status.confirmed).toBe(true);
    expect(status.block_height).toBe(height);
    expect(status.block_hash).not.toBe(oldHash);
    expect((await get(`/block-height/${height}`)).text).toBe(status.block_hash);
    const newProof = await getJson<{ block_height: number; merkle: string[]; pos: number }>(`/tx/${txid}/merkle-proof`);
    expect(newProof.merkle).not.toEqual(oldProof.merkle); // the coinbase sibling changed
    expect(fold(txid, newProof).equals((await header(status.block_hash)).subarray(36, 68))).toBe(true);
    expect(fold(txid, oldProof).equals((await header(status.block_hash)).subarray(36, 68))).toBe(false);

    expect(await getJson(`/block/${oldHash}/status`)).toEqual({ in_best_chain: false, height: null, next_best: null });
    expect((await get(`/block/${oldHash}/header`)).status).toBe(404); // electrs serves best-chain headers only
    expect(await getJson(`/block/${status.block_hash}/status`)).toMatchObject({ in_best_chain: true, height });
  });

  test('a deeper reorg (3) keeps the transaction at its height in a different block', async () => {
    const u = await fund(alice);
    const tx = anchorTx(alice, u, (v) => BigInt(v) * 2n);
    expect((await broadcast(tx)).status).toBe(200);
    const [blockHash] = await net.mine(3);
    const before = await getJson<{ block_height: number; block_hash: string }>(`/tx/${tx.getId()}/status`);
    expect(before.block_hash).toBe(blockHash);
    await net.reorg(3);
    const after = await getJson<{ confirmed: boolean; block_height: number; block_hash: string }>(`/tx/${tx.getId()}/status`);
    expect(after).toMatchObject({ confirmed: true, block_height: before.block_height });
    expect(after.block_hash).not.toBe(before.block_hash);
  });

  test('reorg with dropTxs makes the transaction vanish and its input spendable again', async () => {
    const u = await fund(alice);
    const tx = anchorTx(alice, u, (v) => BigInt(v) * 2n);
    const txid = tx.getId();
    expect((await broadcast(tx)).status).toBe(200);
    const [minedIn] = await net.mine(1);
    await net.reorg(1, { dropTxs: true });
    expect(await getJson(`/tx/${txid}/status`)).toEqual({ confirmed: false });
    expect((await get(`/tx/${txid}/hex`)).status).toBe(404);
    expect((await get(`/tx/${txid}/merkle-proof`)).status).toBe(404);
    expect(await getJson(`/block/${minedIn}/status`)).toMatchObject({ in_best_chain: false });
    const utxos = await getJson<Array<{ txid: string; vout: number; status: { confirmed: boolean } }>>(`/address/${alice.address}/utxo`);
    expect(utxos.find((x) => x.txid === u.txid && x.vout === u.vout)).toMatchObject({ status: { confirmed: true } });
    // The same transaction can be broadcast again (it is still valid).
    expect((await broadcast(tx)).status).toBe(200);
    await net.mine(1);
    expect(await getJson(`/tx/${txid}/status`)).toMatchObject({ confirmed: true });
  });

  test('reorg with includeMempool=false returns the transaction to the mempool, unconfirmed', async () => {
    const u = await fund(alice);
    const tx = anchorTx(alice, u, (v) => BigInt(v) * 2n);
    expect((await broadcast(tx)).status).toBe(200);
    await net.mine(1);
    await net.reorg(1, { includeMempool: false });
    expect(await getJson(`/tx/${tx.getId()}/status`)).toEqual({ confirmed: false });
    expect((await get(`/tx/${tx.getId()}/hex`)).text).toBe(tx.toHex());
    await net.mine(1);
    expect(await getJson(`/tx/${tx.getId()}/status`)).toMatchObject({ confirmed: true, block_height: net.tipHeight() });
  });

  test('test-only routes under /regtest/ and Esplora read routes', async () => {
    const tip = net.tipHeight();
    const mined = await post('/regtest/mine', JSON.stringify({ blocks: 2 }), 'application/json');
    expect(mined.status).toBe(200);
    const hashes = JSON.parse(mined.text) as string[];
    expect(hashes).toHaveLength(2);
    expect((await get('/blocks/tip/hash')).text).toBe(hashes[1]);
    expect(net.tipHeight()).toBe(tip + 2);
    const reorged = await post('/regtest/reorg', JSON.stringify({ depth: 2, dropTxs: true }), 'application/json');
    expect(reorged.status).toBe(200);
    const { removed, added } = JSON.parse(reorged.text) as { removed: string[]; added: string[] };
    expect(removed.sort()).toEqual([...hashes].sort());
    expect(added).toHaveLength(3);
    expect(net.tipHeight()).toBe(tip + 3);
    const funded = await post('/regtest/fund', JSON.stringify({ address: alice.address, sats: '12345' }), 'application/json');
    expect(funded.status).toBe(200);
    const { txid } = JSON.parse(funded.text) as { txid: string };
    expect(await getJson(`/tx/${txid}/status`)).toMatchObject({ confirmed: true });

    const fees = await getJson<Record<string, number>>('/fee-estimates');
    for (const k of ['1', '6', '144']) expect(typeof fees[k]).toBe('number');
    expect(fees['1']).toBeGreaterThanOrEqual(fees['144'] as number);
    expect((await get('/blocks/tip/height')).type).toBe('text/plain');
  });

  test('hostile or malformed requests get 400/404 and never take the server down', async () => {
    const cases: Array<[string, string, string | undefined, number]> = [
      ['GET', '/nope', undefined, 404],
      ['GET', '/', undefined, 404],
      ['GET', '/blocks/tip/height/', undefined, 404],
      ['DELETE', '/tx', undefined, 404],
      ['GET', '/tx/zz/status', undefined, 400],
      ['GET', `/tx/${'a'.repeat(63)}/hex`, undefined, 400],
      ['GET', `/tx/${randomBytes(32).toString('hex')}/hex`, undefined, 404],
      ['GET', `/tx/${randomBytes(32).toString('hex')}/merkle-proof`, undefined, 404],
      ['GET', '/block-height/abc', undefined, 400],
      ['GET', '/block-height/-1', undefined, 400],
      ['GET', '/block-height/99999999', undefined, 404],
      ['GET', `/block/${randomBytes(32).toString('hex')}/header`, undefined, 404],
      ['GET', '/block/xyz/status', undefined, 400],
      ['GET', '/address/notanaddress/utxo', undefined, 400],
      ['GET', '/address/bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4/utxo', undefined, 400],
      ['GET', '/address/%E0%A4%A/utxo', undefined, 400],
      ['POST', '/regtest/mine', '{not json', 400],
      ['POST', '/regtest/mine', '{"blocks":"x"}', 400],
      ['POST', '/regtest/mine', '{"blocks":-1}', 400],
      ['POST', '/regtest/mine', '{"blocks":1,"address":"tb1qnotvalid"}', 400],
      ['POST', '/regtest/reorg', '{"depth":0}', 400],
      ['POST', '/regtest/reorg', '{"depth":99999999}', 400],
      ['POST', '/regtest/reorg', '{"depth":1,"dropTxs":"yes"}', 400],
      ['POST', '/regtest/fund', '{"address":"bcrt1qxyz","sats":1000}', 400],
      ['POST', '/regtest/fund', '[]', 400],
      ['POST', '/regtest/nope', '{}', 404],
    ];
    const tip = net.tipHeight();
    for (const [method, path, body, status] of cases) {
      const res = await fetch(net.url + path, { method, ...(body !== undefined ? { body } : {}) });
      expect(res.status, `${method} ${path} ${body ?? ''}: ${await res.clone().text()}`).toBe(status);
    }
    expect(await getJson(`/block/${randomBytes(32).toString('hex')}/status`)).toEqual({ in_best_chain: false, height: null, next_best: null });
    expect(await getJson(`/tx/${randomBytes(32).toString('hex')}/status`)).toEqual({ confirmed: false });
    const big = await fetch(`${net.url}/tx`, { method: 'POST', body: 'ab'.repeat(600_000) });
    expect(big.status).toBe(413);
    expect(net.tipHeight()).toBe(tip);
    expect((await get('/blocks/tip/height')).text).toBe(String(tip));
  });
});

describe('regtest persistence', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pop-regtest-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a restart with the same persistPath finds the chain, the UTXOs and the mempool again', async () => {
    const path = join(dir, 'chain.json');
    const w = wallet();
    const first = await startRegtest({ persistPath: path });
    const funded = await first.fund(w.address, 80_000n);
    const u: Utxo = { txid: funded.txid, vout: funded.vout, value: 80_000n };
    const tx = anchorTx(w, u, (v) => BigInt(v) * 2n);
    const res = await fetch(`${first.url}/tx`, { method: 'POST', body: tx.toHex() });
    expect(res.status).toBe(200);
    const tip = first.tipHeight();
    const tipHash = await (await fetch(`${first.url}/blocks/tip/hash`)).text();
    const utxos = await (await fetch(`${first.url}/address/${w.address}/utxo`)).json();
    await first.stop();

    const second = await startRegtest({ persistPath: path });
    try {
      expect(second.tipHeight()).toBe(tip);
      expect(await (await fetch(`${second.url}/blocks/tip/hash`)).text()).toBe(tipHash);
      expect(await (await fetch(`${second.url}/address/${w.address}/utxo`)).json()).toEqual(utxos);
      expect(await (await fetch(`${second.url}/tx/${tx.getId()}/hex`)).text()).toBe(tx.toHex());
      await second.mine(1);
      expect(await (await fetch(`${second.url}/tx/${tx.getId()}/status`)).json()).toMatchObject({ confirmed: true, block_height: tip + 1 });
    } finally {
      await second.stop();
    }
    const third = await startRegtest({ persistPath: path });
    expect(third.tipHeight()).toBe(tip + 1);
    await third.stop();
  });

  test('a tampered chain file is refused at start (blocks are re-validated)', async () => {
    const path = join(dir, 'tampered.json');
    const net = await startRegtest({ persistPath: path });
    await net.mine(3);
    await net.stop();
    const data = JSON.parse(await readFile(path, 'utf8')) as { blocks: string[] };
    const last = data.blocks[data.blocks.length - 1] as string;
    // Change the coinbase payout amount: the Merkle root no longer matches the header.
    const block = Block.fromHex(last);
    const cb = (block.transactions as Transaction[])[0] as Transaction;
    (cb.outs[0] as { value: bigint }).value += 1n;
    data.blocks[data.blocks.length - 1] = block.toHex();
    await writeFile(path, JSON.stringify(data));
    await expect(startRegtest({ persistPath: path })).rejects.toThrow(/height 3 is invalid: bad-txnmrklroot/);
    await writeFile(path, '{"format":"pop-regtest/v1","blocks":["00"],"mempool":[]}');
    await expect(startRegtest({ persistPath: path })).rejects.toThrow(/height 1 does not parse/);
    await writeFile(path, 'not json');
    await expect(startRegtest({ persistPath: path })).rejects.toThrow(/cannot read/);
  });
});

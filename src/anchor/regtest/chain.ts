// An in-memory Bitcoin regtest chain that stays honest: real bitcoinjs blocks (BIP34 height in the
// coinbase, BIP141 witness commitment, real Merkle roots, real proof of work at nBits 0x207fffff,
// prevHash chaining, increasing timestamps), a UTXO set with undo data for reorgs, and a mempool whose
// admission really validates (inputs exist and are unspent, coinbase maturity, lock times, P2WPKH key
// hash and BIP143 signature, amounts, min relay fee, standardness, BIP125 replacement). Blocks built
// here and blocks reloaded from disk pass through the same `connectBlock` validation.
//
// What it does not do: verify any input script other than P2WPKH (such spends are refused), count
// sigops, model package relay, TRUC, full-RBF or ephemeral dust, or enforce difficulty retargeting
// (regtest never retargets anyway).
import { randomBytes } from 'node:crypto';
import { Block, Transaction, address as baddress, crypto as bcrypto, networks, payments, script as bscript } from 'bitcoinjs-lib';
import { ECPairFactory, type ECPairInterface } from 'ecpair';
import * as ecc from 'tiny-secp256k1';

// ---------------------------------------------------------------------------------------------
// Constants (Bitcoin Core's regtest parameters and default relay policy)

export const REGTEST_BITS = 0x207fffff;
export const COINBASE_MATURITY = 100;
const HALVING_INTERVAL = 150; // regtest
const COIN = 100_000_000n;
const MAX_MONEY = 21_000_000n * COIN;
const MAX_BLOCK_WEIGHT = 4_000_000;
const MAX_STANDARD_TX_WEIGHT = 400_000;
const MIN_STANDARD_TX_NONWITNESS_SIZE = 65;
const MAX_STANDARD_SCRIPTSIG_SIZE = 1650;
const MAX_OP_RETURN_RELAY = 83;
const MIN_RELAY_SAT_PER_VB = 1n;
const DUST_RELAY_SAT_PER_VB = 3;
const MAX_REPLACEMENT_EVICTIONS = 100;
const LOCKTIME_THRESHOLD = 500_000_000;
const SEQUENCE_FINAL = 0xffffffff;
const SEQUENCE_LOCKTIME_DISABLE_FLAG = 0x80000000;
const SEQUENCE_LOCKTIME_TYPE_FLAG = 0x00400000;
const SEQUENCE_LOCKTIME_MASK = 0x0000ffff;
const BLOCK_VERSION = 0x20000000;
const WITNESS_COMMITMENT_HEADER = Uint8Array.from([0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]);
const SECP256K1_HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** Bitcoin Core's regtest genesis block, byte for byte (hash 0f9188f1…2206). */
const GENESIS_HEX =
  '0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a' +
  'dae5494dffff7f2002000000' +
  '01' +
  '01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000';
export const REGTEST_GENESIS_HASH = '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206';

const ECPair = ECPairFactory(ecc);
const NETWORK = networks.regtest;

// ---------------------------------------------------------------------------------------------
// Errors

/** A transaction refused by mempool policy or consensus; `code` is Bitcoin Core's RPC error code. */
export class TxRejected extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string) {
    super(reason);
    this.name = 'TxRejected';
    this.code = code;
    this.reason = reason;
  }
  /** The text electrs answers with when bitcoind's sendrawtransaction fails. */
  get rpcText(): string {
    return `sendrawtransaction RPC error: ${JSON.stringify({ code: this.code, message: this.reason })}`;
  }
}

/** A block that fails validation (only reachable when reloading a tampered or foreign chain file). */
export class BlockRejected extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'BlockRejected';
  }
}

/** A caller error on a test-only operation (bad address, bad depth, …). */
export class RegtestInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegtestInputError';
  }
}

const RPC_VERIFY_REJECTED = -26;
const RPC_VERIFY_ERROR = -25;
const RPC_VERIFY_ALREADY_IN_CHAIN = -27;
const RPC_DESERIALIZATION_ERROR = -22;

function reject(reason: string, code = RPC_VERIFY_REJECTED): never {
  throw new TxRejected(code, reason);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
/** Internal-order hash bytes → display hex (what explorers and `getId()` show). */
export function displayHex(internal: Uint8Array): string {
  return toHex(Uint8Array.from(internal).reverse());
}
function internalFromDisplay(display: string): Uint8Array {
  return fromHex(display).reverse();
}
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function outpointKey(txid: string, vout: number): string {
  return `${txid}:${vout}`;
}
function inputKey(input: { hash: Uint8Array; index: number }): string {
  return outpointKey(displayHex(input.hash), input.index);
}
function formatBtc(sats: bigint): string {
  const neg = sats < 0n;
  const a = neg ? -sats : sats;
  return `${neg ? '-' : ''}${a / COIN}.${(a % COIN).toString().padStart(8, '0')}`;
}
function feeRateBtcKvb(fee: bigint, vsize: number): string {
  return formatBtc((fee * 1000n) / BigInt(Math.max(vsize, 1)));
}
export function blockSubsidy(height: number): bigint {
  const halvings = Math.floor(height / HALVING_INTERVAL);
  return halvings >= 64 ? 0n : (50n * COIN) >> BigInt(halvings);
}

export type ScriptType = 'p2pkh' | 'p2sh' | 'p2wpkh' | 'p2wsh' | 'p2tr' | 'witness_unknown' | 'nulldata' | 'nonstandard';

function witnessProgram(s: Uint8Array): { version: number; program: Uint8Array } | null {
  if (s.length < 4 || s.length > 42) return null;
  const op = s[0] as number;
  if (op !== 0x00 && (op < 0x51 || op > 0x60)) return null;
  if ((s[1] as number) + 2 !== s.length) return null;
  return { version: op === 0 ? 0 : op - 0x50, program: s.subarray(2) };
}

export function classifyScript(s: Uint8Array): ScriptType {
  if (s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 0x14 && s[23] === 0x88 && s[24] === 0xac) return 'p2pkh';
  if (s.length === 23 && s[0] === 0xa9 && s[1] === 0x14 && s[22] === 0x87) return 'p2sh';
  const wp = witnessProgram(s);
  if (wp) {
    if (wp.version === 0) return wp.program.length === 20 ? 'p2wpkh' : wp.program.length === 32 ? 'p2wsh' : 'nonstandard';
    if (wp.version === 1 && wp.program.length === 32) return 'p2tr';
    return 'witness_unknown';
  }
  if (s.length >= 1 && s[0] === 0x6a) {
    const chunks = bscript.decompile(s.subarray(1));
    if (chunks && bscript.isPushOnly(chunks)) return 'nulldata';
  }
  return 'nonstandard';
}

/** Bitcoin Core's GetDustThreshold at the default dust relay fee (3 sat/vB). */
export function dustThreshold(s: Uint8Array): bigint {
  if (s.length > 0 && s[0] === 0x6a) return 0n; // unspendable
  const outSize = 8 + (s.length < 0xfd ? 1 : 3) + s.length;
  const spendSize = witnessProgram(s) ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return BigInt((outSize + spendSize) * DUST_RELAY_SAT_PER_VB);
}

function isUnspendable(s: Uint8Array): boolean {
  return (s.length > 0 && s[0] === 0x6a) || s.length > 10_000;
}

function bip34Prefix(height: number): Uint8Array {
  return bscript.compile([bscript.number.encode(height)]);
}

/** Merkle branch of leaf `pos` (internal order), bottom-up, Bitcoin style (odd levels duplicate the last). */
export function merkleBranch(leaves: Uint8Array[], pos: number): Uint8Array[] {
  const branch: Uint8Array[] = [];
  let level = leaves;
  let idx = pos;
  while (level.length > 1) {
    const sibling = level[idx ^ 1] ?? level[idx];
    branch.push(sibling as Uint8Array);
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array;
      next.push(bcrypto.hash256(concat(left, level[i + 1] ?? left)));
    }
    level = next;
    idx >>= 1;
  }
  return branch;
}

export function addressToScript(addr: string): Uint8Array {
  try {
    return baddress.toOutputScript(addr, NETWORK);
  } catch (e) {
    for (const other of [networks.bitcoin, networks.testnet]) {
      try {
        baddress.toOutputScript(addr, other);
        throw new RegtestInputError('Address on invalid network');
      } catch (inner) {
        if (inner instanceof RegtestInputError) throw inner;
      }
    }
    throw new RegtestInputError(`Invalid address: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Chain state

export interface Coin {
  value: bigint;
  script: Uint8Array;
  scriptHex: string;
  height: number;
  coinbase: boolean;
}

interface BlockRecord {
  block: Block;
  hash: string; // display hex
  height: number;
  txids: string[];
  /** Per transaction, the coins it spent (for disconnecting). Null once the block is stale. */
  undo: Array<Array<[string, Coin]>> | null;
}

interface MempoolEntry {
  tx: Transaction;
  txid: string;
  hex: string;
  fee: bigint;
  vsize: number;
  weight: number;
}

export type TxStatus =
  | { confirmed: false }
  | { confirmed: true; block_height: number; block_hash: string; block_time: number };

export interface UtxoEntry {
  txid: string;
  vout: number;
  status: TxStatus;
  value: number;
}

export interface ReorgOptions {
  /** Discard the transactions of the dropped blocks instead of returning them to the mempool. */
  dropTxs?: boolean;
  /** Whether the replacement blocks take the mempool (default true). */
  includeMempool?: boolean;
  /** Where the replacement blocks' coinbases pay (default: the faucet). */
  address?: string;
}

export interface ChainSnapshot {
  format: 'pop-regtest/v1';
  /** Raw blocks of the best chain from height 1 up (the genesis block is fixed). */
  blocks: string[];
  /** Raw mempool transactions, parents before children. */
  mempool: string[];
}

interface TxContext {
  /** Height of the block that would include the transaction. */
  spendHeight: number;
  /** Apply relay policy (mempool) on top of consensus. */
  policy: boolean;
}

type CoinLookup = (key: string) => Coin | undefined;

export class RegtestChain {
  private readonly best: BlockRecord[] = [];
  private readonly byHash = new Map<string, BlockRecord>();
  private readonly utxos = new Map<string, Coin>();
  private readonly txIndex = new Map<string, { height: number; pos: number }>();
  private readonly mempool = new Map<string, MempoolEntry>();
  private readonly mempoolSpends = new Map<string, string>();
  private readonly log: (m: string) => void;
  private readonly faucetKey: ECPairInterface;
  readonly faucetScript: Uint8Array;
  readonly faucetAddress: string;
  /** Called after every public operation that changed the chain or the mempool. */
  onChange: (() => void) | null = null;

  constructor(log: (m: string) => void = () => {}) {
    this.log = log;
    this.faucetKey = ECPair.fromPrivateKey(bcrypto.sha256(new TextEncoder().encode('pop regtest faucet')), { network: NETWORK });
    const p2wpkh = payments.p2wpkh({ pubkey: this.faucetKey.publicKey, network: NETWORK });
    this.faucetScript = p2wpkh.output as Uint8Array;
    this.faucetAddress = p2wpkh.address as string;
    const genesis = Block.fromHex(GENESIS_HEX);
    if (genesis.getId() !== REGTEST_GENESIS_HASH) throw new Error('regtest genesis block mismatch');
    const txs = genesis.transactions as Transaction[];
    const rec: BlockRecord = { block: genesis, hash: REGTEST_GENESIS_HASH, height: 0, txids: txs.map((t) => t.getId()), undo: [[]] };
    this.best.push(rec);
    this.byHash.set(rec.hash, rec);
    this.txIndex.set(rec.txids[0] as string, { height: 0, pos: 0 }); // indexed like electrs; never spendable
  }

  /** Rebuilds a chain from a snapshot, re-validating every block and re-admitting the mempool. */
  static restore(snapshot: unknown, log: (m: string) => void = () => {}): RegtestChain {
    const s = snapshot as Partial<ChainSnapshot> | null;
    if (!s || s.format !== 'pop-regtest/v1' || !Array.isArray(s.blocks) || !Array.isArray(s.mempool)) {
      throw new Error('not a pop-regtest/v1 chain file');
    }
    const chain = new RegtestChain(log);
    s.blocks.forEach((hex, i) => {
      let block: Block;
      try {
        if (typeof hex !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(hex)) throw new Error('not hex');
        block = Block.fromHex(hex);
      } catch (e) {
        throw new BlockRejected(`block at height ${i + 1} does not parse: ${(e as Error).message}`);
      }
      try {
        chain.connectBlock(block);
      } catch (e) {
        throw new BlockRejected(`block at height ${i + 1} is invalid: ${(e as Error).message}`);
      }
    });
    for (const hex of s.mempool) {
      try {
        chain.acceptTx(Transaction.fromHex(String(hex)));
      } catch (e) {
        log(`regtest: dropped persisted mempool tx: ${(e as Error).message}`);
      }
    }
    log(`regtest: reloaded ${s.blocks.length} blocks, tip ${chain.tipHeight}, ${chain.mempool.size} mempool txs`);
    return chain;
  }

  snapshot(): ChainSnapshot {
    return {
      format: 'pop-regtest/v1',
      blocks: this.best.slice(1).map((r) => r.block.toHex()),
      mempool: [...this.mempool.values()].map((e) => e.hex),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  get tipHeight(): number {
    return this.best.length - 1;
  }
  get tipHash(): string {
    return this.tip.hash;
  }
  private get tip(): BlockRecord {
    return this.best[this.best.length - 1] as BlockRecord;
  }

  blockHashAt(height: number): string | null {
    return this.best[height]?.hash ?? null;
  }

  /** The 80-byte header, or null when the block is unknown or not on the best chain (as electrs). */
  blockHeader(hash: string): Uint8Array | null {
    const rec = this.byHash.get(hash);
    if (!rec || this.best[rec.height] !== rec) return null;
    return rec.block.toBuffer(true);
  }

  /** The whole block, or null when unknown or stale. */
  blockRaw(hash: string): Uint8Array | null {
    const rec = this.byHash.get(hash);
    if (!rec || this.best[rec.height] !== rec) return null;
    return rec.block.toBuffer();
  }

  /** Exactly electrs' BlockStatus: unknown and stale blocks are both `in_best_chain: false`. */
  blockStatus(hash: string): { in_best_chain: boolean; height: number | null; next_best: string | null } {
    const rec = this.byHash.get(hash);
    if (!rec || this.best[rec.height] !== rec) return { in_best_chain: false, height: null, next_best: null };
    return { in_best_chain: true, height: rec.height, next_best: this.best[rec.height + 1]?.hash ?? null };
  }

  /** Whether the block was ever seen here (stale ones included); for tests and logs. */
  knowsBlock(hash: string): boolean {
    return this.byHash.has(hash);
  }

  txStatus(txid: string): TxStatus {
    const at = this.txIndex.get(txid);
    if (!at) return { confirmed: false };
    const rec = this.best[at.height] as BlockRecord;
    return { confirmed: true, block_height: rec.height, block_hash: rec.hash, block_time: rec.block.timestamp };
  }

  txHex(txid: string): string | null {
    const at = this.txIndex.get(txid);
    if (at) return ((this.best[at.height] as BlockRecord).block.transactions as Transaction[])[at.pos]?.toHex() ?? null;
    return this.mempool.get(txid)?.hex ?? null;
  }

  inMempool(txid: string): boolean {
    return this.mempool.has(txid);
  }
  get mempoolSize(): number {
    return this.mempool.size;
  }

  merkleProof(txid: string): { block_height: number; merkle: string[]; pos: number } | null {
    const at = this.txIndex.get(txid);
    if (!at) return null;
    const rec = this.best[at.height] as BlockRecord;
    const leaves = (rec.block.transactions as Transaction[]).map((t) => t.getHash());
    return { block_height: rec.height, merkle: merkleBranch(leaves, at.pos).map(displayHex), pos: at.pos };
  }

  /** Esplora's /address/:a/utxo: confirmed coins not spent in the mempool, then mempool outputs. */
  addressUtxos(addr: string): UtxoEntry[] {
    const scriptHex = toHex(addressToScript(addr));
    const confirmed: UtxoEntry[] = [];
    for (const [key, coin] of this.utxos) {
      if (coin.scriptHex !== scriptHex || this.mempoolSpends.has(key)) continue;
      const [txid, vout] = key.split(':') as [string, string];
      const rec = this.best[coin.height] as BlockRecord;
      confirmed.push({
        txid,
        vout: Number(vout),
        status: { confirmed: true, block_height: coin.height, block_hash: rec.hash, block_time: rec.block.timestamp },
        value: Number(coin.value),
      });
    }
    confirmed.sort((a, b) => (a.status as { block_height: number }).block_height - (b.status as { block_height: number }).block_height);
    const unconfirmed: UtxoEntry[] = [];
    for (const e of this.mempool.values()) {
      e.tx.outs.forEach((o, vout) => {
        if (toHex(o.script) !== scriptHex || this.mempoolSpends.has(outpointKey(e.txid, vout))) return;
        unconfirmed.push({ txid: e.txid, vout, status: { confirmed: false }, value: Number(o.value) });
      });
    }
    return [...confirmed, ...unconfirmed];
  }

  private mtp(height: number): number {
    const times: number[] = [];
    for (let h = Math.max(0, height - 10); h <= height; h++) times.push((this.best[h] as BlockRecord).block.timestamp);
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)] as number;
  }

  // -------------------------------------------------------------------------------------------
  // Transaction validation

  /** Context-free and policy checks (CheckTransaction + IsStandardTx). */
  private checkTxShape(tx: Transaction, policy: boolean): void {
    if (tx.ins.length === 0) reject('bad-txns-vin-empty');
    if (tx.outs.length === 0) reject('bad-txns-vout-empty');
    if (tx.byteLength(false) * 4 > MAX_BLOCK_WEIGHT) reject('bad-txns-oversize');
    let total = 0n;
    for (const o of tx.outs) {
      if (o.value < 0n) reject('bad-txns-vout-negative');
      if (o.value > MAX_MONEY) reject('bad-txns-vout-toolarge');
      total += o.value;
      if (total > MAX_MONEY) reject('bad-txns-txouttotal-toolarge');
    }
    const seen = new Set<string>();
    for (const i of tx.ins) {
      const k = inputKey(i);
      if (seen.has(k)) reject('bad-txns-inputs-duplicate');
      seen.add(k);
    }
    if (tx.isCoinbase()) reject('coinbase');
    for (const i of tx.ins) if (Transaction.isCoinbaseHash(i.hash) && i.index === 0xffffffff) reject('bad-txns-prevout-null');
    if (!policy) return;
    if (tx.version < 1 || tx.version > 3) reject('version');
    if (tx.weight() > MAX_STANDARD_TX_WEIGHT) reject('tx-size');
    if (tx.byteLength(false) < MIN_STANDARD_TX_NONWITNESS_SIZE) reject('tx-size-small');
    for (const i of tx.ins) {
      if (i.script.length > MAX_STANDARD_SCRIPTSIG_SIZE) reject('scriptsig-size');
      const chunks = bscript.decompile(i.script);
      if (!chunks || !bscript.isPushOnly(chunks)) reject('scriptsig-not-pushonly');
    }
    let opReturns = 0;
    for (const o of tx.outs) {
      const type = classifyScript(o.script);
      if (type === 'nonstandard') reject('scriptpubkey');
      if (type === 'nulldata') {
        if (o.script.length > MAX_OP_RETURN_RELAY) reject('scriptpubkey');
        opReturns++;
      } else if (o.value < dustThreshold(o.script)) {
        reject('dust');
      }
    }
    if (opReturns > 1) reject('multi-op-return');
  }

  /** IsFinalTx against the next block's height and the median time past of its parent. */
  private isFinal(tx: Transaction, height: number, cutoffTime: number): boolean {
    if (tx.locktime === 0) return true;
    if (tx.locktime < (tx.locktime < LOCKTIME_THRESHOLD ? height : cutoffTime)) return true;
    return tx.ins.every((i) => i.sequence === SEQUENCE_FINAL);
  }

  /** BIP68 relative lock times (version ≥ 2). */
  private sequenceLocksOk(tx: Transaction, coins: Coin[], spendHeight: number): boolean {
    if (tx.version < 2) return true;
    let minHeight = -1;
    let minTime = -1;
    tx.ins.forEach((input, i) => {
      const seq = input.sequence >>> 0;
      if (seq >= SEQUENCE_LOCKTIME_DISABLE_FLAG) return;
      const coinHeight = (coins[i] as Coin).height;
      const value = seq & SEQUENCE_LOCKTIME_MASK;
      if (seq & SEQUENCE_LOCKTIME_TYPE_FLAG) {
        const coinTime = this.mtp(Math.max(coinHeight - 1, 0));
        minTime = Math.max(minTime, coinTime + value * 512 - 1);
      } else {
        minHeight = Math.max(minHeight, coinHeight + value - 1);
      }
    });
    return !(minHeight >= spendHeight || minTime >= this.mtp(spendHeight - 1));
  }

  /** Inputs exist, maturity, lock times, amounts, fee; returns the fee and the spent coins. */
  private checkTxInputs(tx: Transaction, lookup: CoinLookup, ctx: TxContext): { fee: bigint; coins: Coin[] } {
    if (!this.isFinal(tx, ctx.spendHeight, this.mtp(ctx.spendHeight - 1))) reject(ctx.policy ? 'non-final' : 'bad-txns-nonfinal');
    const coins: Coin[] = [];
    for (const input of tx.ins) {
      const coin = lookup(inputKey(input));
      if (!coin) reject('bad-txns-inputs-missingorspent', RPC_VERIFY_ERROR);
      coins.push(coin);
    }
    if (!this.sequenceLocksOk(tx, coins, ctx.spendHeight)) reject(ctx.policy ? 'non-BIP68-final' : 'bad-txns-nonfinal');
    let valueIn = 0n;
    for (const coin of coins) {
      if (coin.coinbase && ctx.spendHeight - coin.height < COINBASE_MATURITY) {
        reject(`bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth ${ctx.spendHeight - coin.height}`);
      }
      valueIn += coin.value;
      if (coin.value < 0n || coin.value > MAX_MONEY || valueIn > MAX_MONEY) reject('bad-txns-inputvalues-outofrange');
    }
    const valueOut = tx.outs.reduce((n, o) => n + o.value, 0n);
    if (valueIn < valueOut) reject(`bad-txns-in-belowout, value in (${formatBtc(valueIn)}) < value out (${formatBtc(valueOut)})`);
    const fee = valueIn - valueOut;
    if (ctx.policy) {
      for (const coin of coins) {
        if (classifyScript(coin.script) !== 'p2wpkh') {
          reject('bad-txns-nonstandard-inputs (this regtest server verifies P2WPKH spends only)');
        }
      }
      const required = BigInt(tx.virtualSize()) * MIN_RELAY_SAT_PER_VB;
      if (fee < required) reject(`min relay fee not met, ${fee} < ${required}`);
    }
    return { fee, coins };
  }

  /** P2WPKH spends: empty scriptSig, [sig, pubkey] witness, key hash, BIP143 ECDSA signature. */
  private checkScripts(tx: Transaction, coins: Coin[], policy: boolean): void {
    tx.ins.forEach((input, i) => {
      const coin = coins[i] as Coin;
      const wp = witnessProgram(coin.script);
      if (!wp || wp.version !== 0 || wp.program.length !== 20) {
        reject('non-mandatory-script-verify-flag (this regtest server verifies P2WPKH spends only)');
      }
      const fail = (why: string): never => reject(`mandatory-script-verify-flag-failed (${why})`);
      if (input.script.length !== 0) fail('Witness requires empty scriptSig');
      if (input.witness.length !== 2) fail('Witness program hash mismatch');
      const [sigBytes, pubkey] = input.witness as [Uint8Array, Uint8Array];
      if (!bytesEqual(bcrypto.hash160(pubkey), wp.program)) fail('Script failed an OP_EQUALVERIFY operation');
      if (policy && !(pubkey.length === 33 && (pubkey[0] === 0x02 || pubkey[0] === 0x03))) {
        reject('non-mandatory-script-verify-flag (Using non-compressed keys in segwit)');
      }
      if (sigBytes.length === 0) fail('Script evaluated without error but finished with a false/empty top stack element');
      let decoded: { signature: Uint8Array; hashType: number };
      try {
        decoded = bscript.signature.decode(sigBytes);
      } catch (e) {
        const msg = (e as Error).message;
        if (msg.startsWith('Invalid hashType')) reject('non-mandatory-script-verify-flag (Signature hash type missing or not understood)');
        return fail('Non-canonical DER signature');
      }
      const s = BigInt('0x' + toHex(decoded.signature.subarray(32)));
      if (policy && s > SECP256K1_HALF_ORDER) reject('non-mandatory-script-verify-flag (Non-canonical signature: S value is unnecessarily high)');
      const scriptCode = payments.p2pkh({ hash: wp.program }).output as Uint8Array;
      const sighash = tx.hashForWitnessV0(i, scriptCode, coin.value, decoded.hashType);
      let ok: boolean;
      try {
        ok = ecc.verify(sighash, pubkey, decoded.signature);
      } catch {
        ok = false;
      }
      if (!ok) fail('Signature must be zero for failed CHECK(MULTI)SIG operation');
    });
  }

  private mempoolLookup(): CoinLookup {
    const spendHeight = this.tipHeight + 1;
    return (key) => {
      const c = this.utxos.get(key);
      if (c) return c;
      const sep = key.indexOf(':');
      const e = this.mempool.get(key.slice(0, sep));
      const o = e?.tx.outs[Number(key.slice(sep + 1))];
      if (!o || isUnspendable(o.script)) return undefined;
      return { value: o.value, script: o.script, scriptHex: toHex(o.script), height: spendHeight, coinbase: false };
    };
  }

  private descendants(roots: Iterable<string>): Set<string> {
    const out = new Set<string>();
    const stack = [...roots];
    while (stack.length > 0) {
      const txid = stack.pop() as string;
      if (out.has(txid)) continue;
      out.add(txid);
      const e = this.mempool.get(txid);
      if (!e) continue;
      e.tx.outs.forEach((_, vout) => {
        const child = this.mempoolSpends.get(outpointKey(txid, vout));
        if (child) stack.push(child);
      });
    }
    return out;
  }

  /** BIP125 signalling, explicit or inherited from an unconfirmed ancestor. */
  private signalsRbf(txid: string, seen = new Set<string>()): boolean {
    if (seen.has(txid)) return false;
    seen.add(txid);
    const e = this.mempool.get(txid);
    if (!e) return false;
    if (e.tx.ins.some((i) => i.sequence >>> 0 < 0xfffffffe)) return true;
    return e.tx.ins.some((i) => this.signalsRbf(displayHex(i.hash), seen));
  }

  private removeFromMempool(txids: Iterable<string>): void {
    for (const txid of txids) {
      const e = this.mempool.get(txid);
      if (!e) continue;
      this.mempool.delete(txid);
      for (const i of e.tx.ins) {
        const k = inputKey(i);
        if (this.mempoolSpends.get(k) === txid) this.mempoolSpends.delete(k);
      }
    }
  }

  /** AcceptToMemoryPool. Returns the txid; a transaction already in the mempool is accepted again. */
  private acceptTx(tx: Transaction): string {
    const txid = tx.getId();
    const existing = this.mempool.get(txid);
    if (existing) {
      if (existing.hex !== tx.toHex()) reject('txn-same-nonwitness-data-in-mempool');
      return txid;
    }
    this.checkTxShape(tx, true);
    if (tx.outs.some((_, vout) => this.utxos.has(outpointKey(txid, vout)))) {
      reject('Transaction outputs already in utxo set', RPC_VERIFY_ALREADY_IN_CHAIN);
    }
    // Direct conflicts with mempool transactions (BIP125 decides below).
    const conflicts = new Set<string>();
    for (const i of tx.ins) {
      const other = this.mempoolSpends.get(inputKey(i));
      if (other) conflicts.add(other);
    }
    for (const c of conflicts) if (!this.signalsRbf(c)) reject('txn-mempool-conflict');
    const evicted = this.descendants(conflicts);
    for (const i of tx.ins) if (evicted.has(displayHex(i.hash))) reject('bad-txns-spends-conflicting-tx');

    const spendHeight = this.tipHeight + 1;
    const { fee, coins } = this.checkTxInputs(tx, this.mempoolLookup(), { spendHeight, policy: true });
    const vsize = tx.virtualSize();

    if (conflicts.size > 0) {
      if (evicted.size > MAX_REPLACEMENT_EVICTIONS) reject(`too many potential replacements, rejecting replacement ${txid}`);
      const conflictParents = new Set<string>();
      for (const c of conflicts) for (const i of (this.mempool.get(c) as MempoolEntry).tx.ins) conflictParents.add(displayHex(i.hash));
      for (const i of tx.ins) {
        const parent = displayHex(i.hash);
        if (this.mempool.has(parent) && !conflictParents.has(parent)) reject(`replacement-adds-unconfirmed, replacement ${txid} adds unconfirmed input`);
      }
      for (const c of conflicts) {
        const old = this.mempool.get(c) as MempoolEntry;
        if (fee * BigInt(old.vsize) <= old.fee * BigInt(vsize)) {
          reject(
            `insufficient fee, rejecting replacement ${txid}; new feerate ${feeRateBtcKvb(fee, vsize)} BTC/kvB <= old feerate ${feeRateBtcKvb(old.fee, old.vsize)} BTC/kvB`,
          );
        }
      }
      let evictedFees = 0n;
      for (const e of evicted) evictedFees += (this.mempool.get(e) as MempoolEntry).fee;
      if (fee < evictedFees) {
        reject(`insufficient fee, rejecting replacement ${txid}, less fees than conflicting txs; ${formatBtc(fee)} < ${formatBtc(evictedFees)}`);
      }
      const additionalRequired = BigInt(vsize) * MIN_RELAY_SAT_PER_VB;
      if (fee - evictedFees < additionalRequired) {
        reject(
          `insufficient fee, rejecting replacement ${txid}, not enough additional fees to relay; ${formatBtc(fee - evictedFees)} < ${formatBtc(additionalRequired)}`,
        );
      }
    }

    this.checkScripts(tx, coins, true);

    if (evicted.size > 0) {
      this.removeFromMempool(evicted);
      this.log(`regtest: ${txid} replaced ${[...evicted].join(', ')}`);
    }
    this.mempool.set(txid, { tx, txid, hex: tx.toHex(), fee, vsize, weight: tx.weight() });
    for (const i of tx.ins) this.mempoolSpends.set(inputKey(i), txid);
    return txid;
  }

  // -------------------------------------------------------------------------------------------
  // Blocks

  /** Full validation and connection of a block on top of the tip; rolls back on failure. */
  private connectBlock(block: Block): BlockRecord {
    const height = this.tipHeight + 1;
    const prev = this.tip;
    const bad = (reason: string): never => {
      throw new BlockRejected(reason);
    };
    if (!block.prevHash || !bytesEqual(block.prevHash, prev.block.getHash())) bad('bad-prevblk');
    if (block.bits !== REGTEST_BITS) bad('bad-diffbits');
    if (!block.checkProofOfWork()) bad('high-hash');
    if (block.timestamp <= this.mtp(prev.height)) bad('time-too-old');
    const txs = block.transactions;
    if (!txs || txs.length === 0) return bad('bad-blk-length');
    if (block.weight() > MAX_BLOCK_WEIGHT) bad('bad-blk-weight');
    const coinbase = txs[0] as Transaction;
    if (!coinbase.isCoinbase()) bad('bad-cb-missing');
    if (txs.slice(1).some((t) => t.isCoinbase())) bad('bad-cb-multiple');
    const cbScript = (coinbase.ins[0] as Transaction['ins'][number]).script;
    if (cbScript.length < 2 || cbScript.length > 100) bad('bad-cb-length');
    const prefix = bip34Prefix(height);
    if (!bytesEqual(cbScript.subarray(0, prefix.length), prefix)) bad('bad-cb-height');
    const mutated = { value: false };
    const root = Block.calculateMerkleRoot(txs, false, mutated);
    if (!block.merkleRoot || !bytesEqual(root, block.merkleRoot)) bad('bad-txnmrklroot');
    if (mutated.value) bad('bad-txns-duplicate');
    let rootsOk: boolean;
    try {
      rootsOk = block.checkTxRoots(); // includes the BIP141 commitment when there is one
    } catch {
      rootsOk = false;
    }
    if (!rootsOk) bad(block.hasWitnessCommit() ? 'bad-witness-merkle-match' : 'unexpected-witness');
    if (block.hasWitnessCommit()) {
      const w = (coinbase.ins[0] as Transaction['ins'][number]).witness;
      if (w.length !== 1 || (w[0] as Uint8Array).length !== 32) bad('bad-witness-nonce-size');
    }
    const txids = txs.map((t) => t.getId());
    if (new Set(txids).size !== txids.length) bad('bad-txns-duplicate');

    const undo: Array<Array<[string, Coin]>> = [];
    const added: string[] = [];
    const rollback = (): void => {
      for (const k of added) this.utxos.delete(k);
      for (let t = undo.length - 1; t >= 0; t--) for (const [k, c] of undo[t] as Array<[string, Coin]>) this.utxos.set(k, c);
    };
    try {
      let fees = 0n;
      txs.forEach((tx, pos) => {
        const txid = txids[pos] as string;
        const spent: Array<[string, Coin]> = [];
        if (pos > 0) {
          try {
            this.checkTxShape(tx, true);
            const { fee, coins } = this.checkTxInputs(tx, (k) => this.utxos.get(k), { spendHeight: height, policy: true });
            this.checkScripts(tx, coins, true);
            fees += fee;
          } catch (e) {
            if (e instanceof TxRejected) bad(`${e.reason} (tx ${txid})`);
            throw e;
          }
          for (const i of tx.ins) {
            const k = inputKey(i);
            spent.push([k, this.utxos.get(k) as Coin]);
            this.utxos.delete(k);
          }
        }
        undo.push(spent);
        tx.outs.forEach((o, vout) => {
          const k = outpointKey(txid, vout);
          if (this.utxos.has(k)) bad('bad-txns-BIP30');
          if (isUnspendable(o.script)) return;
          this.utxos.set(k, { value: o.value, script: o.script, scriptHex: toHex(o.script), height, coinbase: pos === 0 });
          added.push(k);
        });
      });
      const cbOut = coinbase.outs.reduce((n, o) => n + o.value, 0n);
      if (cbOut > blockSubsidy(height) + fees) bad(`bad-cb-amount, coinbase pays too much (actual=${cbOut} vs limit=${blockSubsidy(height) + fees})`);
    } catch (e) {
      rollback();
      throw e;
    }

    const rec: BlockRecord = { block, hash: block.getId(), height, txids, undo };
    this.best.push(rec);
    this.byHash.set(rec.hash, rec);
    txids.forEach((txid, pos) => this.txIndex.set(txid, { height, pos }));
    // The block's transactions leave the mempool; whatever conflicts with them goes too.
    const gone = new Set<string>();
    for (const tx of txs.slice(1)) {
      const txid = tx.getId();
      if (this.mempool.has(txid)) {
        this.removeFromMempool([txid]);
        continue;
      }
      for (const i of tx.ins) {
        const other = this.mempoolSpends.get(inputKey(i));
        if (other) gone.add(other);
      }
    }
    if (gone.size > 0) this.removeFromMempool(this.descendants(gone));
    return rec;
  }

  private disconnectTip(): BlockRecord {
    const rec = this.best.pop() as BlockRecord;
    const txs = rec.block.transactions as Transaction[];
    const undo = rec.undo as Array<Array<[string, Coin]>>;
    for (let pos = txs.length - 1; pos >= 0; pos--) {
      const tx = txs[pos] as Transaction;
      const txid = rec.txids[pos] as string;
      tx.outs.forEach((_, vout) => this.utxos.delete(outpointKey(txid, vout)));
      for (const [k, c] of undo[pos] ?? []) this.utxos.set(k, c);
      if (this.txIndex.get(txid)?.height === rec.height) this.txIndex.delete(txid);
    }
    rec.undo = null;
    return rec;
  }

  /** Mines one block on the tip: coinbase (BIP34 height, witness commitment) + the mempool. */
  private mineOne(payout: Uint8Array, includeMempool: boolean): BlockRecord {
    const height = this.tipHeight + 1;
    const prev = this.tip;
    const txs: Transaction[] = [];
    let fees = 0n;
    if (includeMempool) {
      let weight = 4000; // room for the header and the coinbase
      const skipped = new Set<string>();
      for (const e of this.mempool.values()) {
        // Insertion order is a topological order: parents were admitted before their children.
        if (e.tx.ins.some((i) => skipped.has(displayHex(i.hash))) || weight + e.weight > MAX_BLOCK_WEIGHT) {
          skipped.add(e.txid);
          continue;
        }
        txs.push(e.tx);
        fees += e.fee;
        weight += e.weight;
      }
    }
    const coinbase = new Transaction();
    coinbase.version = 2;
    coinbase.addInput(new Uint8Array(32), 0xffffffff, SEQUENCE_FINAL, bscript.compile([bscript.number.encode(height), randomBytes(8)]));
    coinbase.addOutput(payout, blockSubsidy(height) + fees);
    coinbase.setWitness(0, [new Uint8Array(32)]); // BIP141 witness reserved value
    const block = new Block();
    block.version = BLOCK_VERSION;
    block.prevHash = prev.block.getHash();
    block.bits = REGTEST_BITS;
    block.timestamp = Math.max(Math.floor(Date.now() / 1000), prev.block.timestamp + 1, this.mtp(prev.height) + 1);
    block.transactions = [coinbase, ...txs];
    const commitment = Block.calculateMerkleRoot(block.transactions, true);
    coinbase.addOutput(concat(WITNESS_COMMITMENT_HEADER, commitment), 0n);
    block.witnessCommit = commitment;
    block.merkleRoot = Block.calculateMerkleRoot(block.transactions);
    block.nonce = 0;
    while (!block.checkProofOfWork()) {
      if (block.nonce === 0xffffffff) {
        block.nonce = 0;
        block.timestamp++;
      } else {
        block.nonce++;
      }
    }
    const rec = this.connectBlock(block);
    if (txs.length > 0) this.log(`regtest: block ${rec.height} ${rec.hash} confirms ${txs.length} tx${txs.length === 1 ? '' : 's'}`);
    return rec;
  }

  private mineInternal(blocks: number, toAddress?: string): string[] {
    if (!Number.isSafeInteger(blocks) || blocks < 0 || blocks > 10_000) throw new RegtestInputError('blocks must be an integer in 0..10000');
    const payout = toAddress === undefined ? this.faucetScript : addressToScript(toAddress);
    const hashes: string[] = [];
    for (let i = 0; i < blocks; i++) hashes.push(this.mineOne(payout, true).hash);
    if (blocks > 0) this.log(`regtest: mined ${blocks} block${blocks === 1 ? '' : 's'}, tip ${this.tipHeight} ${this.tipHash}`);
    return hashes;
  }

  private changed(): void {
    this.onChange?.();
  }

  // -------------------------------------------------------------------------------------------
  // Public operations

  /** POST /tx: parse and admit a raw transaction; throws TxRejected. */
  submitRawTx(hex: string): string {
    const clean = hex.trim();
    let tx: Transaction;
    try {
      if (!/^(?:[0-9a-fA-F]{2})+$/.test(clean)) throw new Error('not hex');
      tx = Transaction.fromHex(clean.toLowerCase());
    } catch {
      return reject('TX decode failed. Make sure the tx has at least one input.', RPC_DESERIALIZATION_ERROR);
    }
    try {
      const isNew = !this.mempool.has(tx.getId());
      const txid = this.acceptTx(tx);
      if (isNew) {
        this.log(`regtest: accepted ${txid}`);
        this.changed();
      }
      return txid;
    } catch (e) {
      if (e instanceof TxRejected) this.log(`regtest: rejected ${tx.getId()}: ${e.reason}`);
      throw e;
    }
  }

  mine(blocks: number, toAddress?: string): string[] {
    const hashes = this.mineInternal(blocks, toAddress);
    if (hashes.length > 0) this.changed();
    return hashes;
  }

  /**
   * Replaces the last `depth` blocks by `depth + 1` new ones. The dropped blocks' transactions return
   * to the mempool when still valid (and are then mined into the first replacement block), or are
   * discarded with `dropTxs`. Returns the hashes removed and added.
   */
  reorg(depth: number, opts: ReorgOptions = {}): { removed: string[]; added: string[] } {
    if (!Number.isSafeInteger(depth) || depth < 1 || depth > this.tipHeight) {
      throw new RegtestInputError(`depth must be an integer in 1..${this.tipHeight}`);
    }
    const payout = opts.address === undefined ? this.faucetScript : addressToScript(opts.address);
    const removed: string[] = [];
    const dropped: Transaction[][] = [];
    for (let i = 0; i < depth; i++) {
      const rec = this.disconnectTip();
      removed.push(rec.hash);
      dropped.unshift((rec.block.transactions as Transaction[]).slice(1));
    }
    const previousPool = [...this.mempool.values()].map((e) => e.tx);
    this.mempool.clear();
    this.mempoolSpends.clear();
    const readmit = [...(opts.dropTxs ? [] : dropped.flat()), ...previousPool];
    for (const tx of readmit) {
      try {
        this.acceptTx(tx);
      } catch (e) {
        this.log(`regtest: reorg dropped ${tx.getId()}: ${(e as Error).message}`);
      }
    }
    if (opts.dropTxs) for (const tx of dropped.flat()) this.log(`regtest: reorg dropped ${tx.getId()} (dropTxs)`);
    const added: string[] = [];
    for (let i = 0; i <= depth; i++) added.push(this.mineOne(payout, opts.includeMempool !== false).hash);
    this.log(`regtest: reorg of depth ${depth}: removed ${removed.join(', ')}`);
    this.changed();
    return { removed, added };
  }

  /**
   * Pays `sats` to `address` from the faucet key and confirms it: mines (and matures) faucet
   * coinbases when needed, builds and signs a P2WPKH spend, admits it through the same mempool
   * validation as POST /tx, and mines one block (which also confirms whatever else is in the mempool).
   */
  fund(address: string, sats: bigint): { txid: string; vout: number } {
    const script = addressToScript(address);
    if (typeof sats !== 'bigint' || sats <= 0n || sats > MAX_MONEY) throw new RegtestInputError('sats must be a positive amount');
    if (sats < dustThreshold(script)) throw new RegtestInputError(`amount below the dust threshold (${dustThreshold(script)} sat)`);
    const feeRate = 2n;
    let picked: Array<{ key: string; coin: Coin }> | null = null;
    let fee = 0n;
    for (let attempt = 0; attempt < 4 && !picked; attempt++) {
      const spendHeight = this.tipHeight + 1;
      const candidates = [...this.utxos]
        .filter(([k, c]) => c.scriptHex === toHex(this.faucetScript) && !this.mempoolSpends.has(k))
        .filter(([, c]) => !c.coinbase || spendHeight - c.height >= COINBASE_MATURITY)
        .map(([key, coin]) => ({ key, coin }))
        .sort((a, b) => (a.coin.value < b.coin.value ? 1 : a.coin.value > b.coin.value ? -1 : 0));
      const chosen: Array<{ key: string; coin: Coin }> = [];
      let total = 0n;
      for (const c of candidates) {
        chosen.push(c);
        total += c.coin.value;
        fee = BigInt(11 + 68 * chosen.length + 9 + script.length + 31 + 1) * feeRate;
        if (total >= sats + fee) {
          picked = chosen;
          break;
        }
        if (chosen.length >= 500) break;
      }
      if (!picked) {
        if (blockSubsidy(this.tipHeight + 1) === 0n) break;
        this.mineInternal(COINBASE_MATURITY); // the first of these coinbases is spendable next block
      }
    }
    if (!picked) {
      this.changed();
      throw new RegtestInputError('the faucet cannot cover this amount');
    }
    const tx = new Transaction();
    tx.version = 2;
    for (const { key } of picked) {
      const [txid, vout] = key.split(':') as [string, string];
      tx.addInput(internalFromDisplay(txid), Number(vout), 0xfffffffd);
    }
    tx.addOutput(script, sats);
    const total = picked.reduce((n, p) => n + p.coin.value, 0n);
    const change = total - sats - fee;
    if (change >= dustThreshold(this.faucetScript)) tx.addOutput(this.faucetScript, change);
    const scriptCode = payments.p2pkh({ pubkey: this.faucetKey.publicKey }).output as Uint8Array;
    picked.forEach(({ coin }, i) => {
      const hash = tx.hashForWitnessV0(i, scriptCode, coin.value, Transaction.SIGHASH_ALL);
      tx.setWitness(i, [bscript.signature.encode(this.faucetKey.sign(hash), Transaction.SIGHASH_ALL), this.faucetKey.publicKey]);
    });
    const txid = this.acceptTx(tx);
    this.mineInternal(1);
    this.log(`regtest: funded ${address} with ${sats} sat in ${txid}:0`);
    this.changed();
    return { txid, vout: 0 };
  }
}

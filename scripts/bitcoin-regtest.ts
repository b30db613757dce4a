// A real regtest Bitcoin block built by hand with bitcoinjs-lib, holding an anchor transaction for a
// Proof-of-Process block hash: a coinbase (BIP34 height, BIP141 witness commitment), the anchor tx
// (one P2WPKH input, the OP_RETURN "POP1" ‖ blockHash, P2WPKH change) and a filler P2WPKH spend,
// mined to 0x207fffff. Deterministic: fixed keys, RFC 6979 signatures, the first nonce that works.
// Used by scripts/golden.ts (the golden anchored proof) and by the anchor tests; never by src/core.
import { Block, Psbt, Transaction, networks, payments, script as bscript } from 'bitcoinjs-lib';
import { ECPairFactory } from 'ecpair';
import * as ecc from 'tiny-secp256k1';
import { type AnchorEvidence, anchorPayload, sha256, utf8 } from '../src/core/index.js';

const ECPair = ECPairFactory(ecc);
const NETWORK = networks.regtest;
export const REGTEST_BITS = 0x207fffff;

export interface RegtestAnchorOptions {
  /** The Proof-of-Process block hash the anchor commits to. */
  blockHash: string;
  /** 32-byte secret key of the wallet (P2WPKH) that pays for the anchor. */
  secretKey: Uint8Array;
  height: number;
  /** Block time, seconds since the epoch. */
  time: number;
  /** Previous Bitcoin block hash, internal order (default: derived from the height). */
  prevHash?: Uint8Array;
  /** Replaces the anchor's OP_RETURN output scripts (default: one single push of "POP1" ‖ blockHash). */
  opReturnScripts?: Uint8Array[];
  /** Replaces the anchor transaction altogether (for must-fail tests). */
  anchorTx?: Transaction;
  /** Filler transactions after the anchor (default 1), so the branch has more than one level. */
  fillers?: number;
  /** nBits of the header (default 0x207fffff, the only value regtest accepts). */
  bits?: number;
}

export interface RegtestAnchor {
  evidence: AnchorEvidence;
  block: Block;
  anchorTx: Transaction;
}

const hash256 = (data: Uint8Array): Uint8Array => sha256(sha256(data));
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const displayHex = (internal: Uint8Array): string => hex(Uint8Array.from(internal).reverse());

/** The Merkle branch (internal order, bottom-up) of the txid at `index`; odd levels pair the last node with itself. */
export function merkleBranch(txids: readonly Uint8Array[], index: number): Uint8Array[] {
  if (index < 0 || index >= txids.length) throw new RangeError('index out of range');
  const branch: Uint8Array[] = [];
  let level = [...txids];
  let i = index;
  while (level.length > 1) {
    branch.push(level[i ^ 1] ?? level[i]!);
    const next: Uint8Array[] = [];
    for (let j = 0; j < level.length; j += 2) next.push(hash256(concat(level[j]!, level[j + 1] ?? level[j]!)));
    level = next;
    i >>= 1;
  }
  return branch;
}

/** A P2WPKH spend of a made-up funding outpoint (SPV never looks at inputs), signed deterministically. */
function p2wpkhSpend(secretKey: Uint8Array, funding: string, outputs: { script: Uint8Array; value: bigint }[]): Transaction {
  const key = ECPair.fromPrivateKey(secretKey, { network: NETWORK });
  const wallet = payments.p2wpkh({ pubkey: key.publicKey, network: NETWORK });
  const psbt = new Psbt({ network: NETWORK });
  psbt.addInput({
    hash: hash256(utf8(funding)),
    index: 0,
    sequence: 0xfffffffd,
    witnessUtxo: { script: wallet.output!, value: 100_000n },
  });
  for (const o of outputs) psbt.addOutput(o);
  psbt.addOutput({ script: wallet.output!, value: 100_000n - outputs.reduce((n, o) => n + o.value, 0n) - 200n });
  psbt.signInput(0, key);
  psbt.finalizeAllInputs();
  return psbt.extractTransaction();
}

export function buildRegtestAnchor(opts: RegtestAnchorOptions): RegtestAnchor {
  const key = ECPair.fromPrivateKey(opts.secretKey, { network: NETWORK });
  const wallet = payments.p2wpkh({ pubkey: key.publicKey, network: NETWORK });

  const scripts = opts.opReturnScripts ?? [payments.embed({ data: [anchorPayload(opts.blockHash)] }).output!];
  const anchorTx = opts.anchorTx ?? p2wpkhSpend(opts.secretKey, `anchor-funding:${opts.height}`, scripts.map((script) => ({ script, value: 0n })));
  const fillers = Array.from({ length: opts.fillers ?? 1 }, (_, i) =>
    p2wpkhSpend(opts.secretKey, `filler-funding:${opts.height}:${i}`, [{ script: wallet.output!, value: 10_000n }]),
  );

  const coinbase = new Transaction();
  coinbase.version = 2;
  coinbase.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, bscript.compile([bscript.number.encode(opts.height), utf8('pop-regtest')]));
  coinbase.setWitness(0, [new Uint8Array(32)]); // BIP141 witness reserved value
  coinbase.addOutput(wallet.output!, 5_000_000_000n >> BigInt(Math.floor(opts.height / 150))); // regtest halves every 150 blocks
  const transactions = [coinbase, anchorTx, ...fillers];
  const witnessCommit = Block.calculateMerkleRoot(transactions, true);
  coinbase.addOutput(concat(Uint8Array.from([0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]), witnessCommit), 0n);

  const block = new Block();
  block.version = 0x20000000;
  block.prevHash = opts.prevHash ?? hash256(utf8(`regtest-parent:${opts.height}`));
  block.transactions = transactions;
  block.merkleRoot = Block.calculateMerkleRoot(transactions);
  block.witnessCommit = witnessCommit;
  block.timestamp = opts.time;
  block.bits = opts.bits ?? REGTEST_BITS;
  block.nonce = 0;
  while (!block.checkProofOfWork()) block.nonce++;
  if (!block.checkTxRoots()) throw new Error('regtest block: transaction roots do not check');

  const txids = transactions.map((t) => t.getHash());
  const pos = 1;
  return {
    evidence: {
      network: 'regtest',
      blockHash: opts.blockHash,
      txid: anchorTx.getId(),
      tx: anchorTx.toHex(),
      bitcoinBlock: { hash: block.getId(), height: opts.height, header: block.toHex(true) },
      merkle: { pos, siblings: merkleBranch(txids, pos).map(displayHex) },
    },
    block,
    anchorTx,
  };
}

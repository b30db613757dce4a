// Offline (SPV) verification of Bitcoin anchor evidence (docs/protocol.md §11): the transaction
// commits to a Proof-of-Process block hash in its one OP_RETURN output, its txid is in the Bitcoin
// block's Merkle tree, and the block header carries its own proof-of-work. Whether that header is on
// the best chain needs an outside source and is reported as not checked. Every failure is
// ANCHOR_INVALID with a message naming the check; the checks run in the documented order.
import type { ProofV1 } from '../generated/schemas.js';
import {
  BITCOIN_NETWORKS,
  BitcoinFormatError,
  type BitcoinNetwork,
  POW_LIMIT_BITS,
  displayHex,
  foldMerkleBranch,
  hashToBigInt,
  hex32,
  parseBitcoinHeader,
  parseDisplayHash,
  parseTransaction,
  targetFromBits,
} from './bitcoin.js';
import { equalBytes, parseHex, toHex, utf8 } from './bytes.js';
import { fail } from './errors.js';

export type AnchorEvidence = NonNullable<ProofV1['anchor']>;

export interface AnchorResult {
  network: BitcoinNetwork;
  /** Display order, as explorers show it. */
  txid: string;
  /** Display order. */
  bitcoinBlockHash: string;
  /** As stated by the evidence: a header does not carry its height, so offline it is not checked. */
  bitcoinHeight: number;
  /** The Proof-of-Process block the anchor commits to. */
  blockHash: string;
  /** Whether the Bitcoin block is on the best chain: needs an outside source (an Esplora endpoint). */
  bestChain: 'not-checked';
}

/** "POP1": the 4-byte tag before the 32-byte block hash in the OP_RETURN data. */
export const ANCHOR_TAG = utf8('POP1');
export const ANCHOR_PAYLOAD_BYTES = 36;
const OP_RETURN = 0x6a;

/** The 36 bytes an anchor transaction's OP_RETURN carries for a block: "POP1" ‖ blockHash. */
export function anchorPayload(blockHashHex: string): Uint8Array {
  const hash = parseHex(blockHashHex, 32);
  if (!hash) throw new TypeError('blockHash must be 32 bytes of lowercase hex');
  const out = new Uint8Array(ANCHOR_PAYLOAD_BYTES);
  out.set(ANCHOR_TAG, 0);
  out.set(hash, 4);
  return out;
}

const bad = (message: string): never => fail('ANCHOR_INVALID', `anchor: ${message}`);

function hexField(value: unknown, what: string, bytes?: number): Uint8Array {
  const out = typeof value === 'string' ? parseHex(value, bytes) : undefined;
  return out ?? bad(`${what} is not ${bytes ? `${bytes} bytes of ` : ''}lowercase hex`);
}

function wrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BitcoinFormatError) bad(`${what}: ${e.message}`);
    throw e;
  }
}

/**
 * Verifies anchor evidence offline. `latestBlockHash` is the hash of the latest Proof-of-Process
 * block the caller has verified (a proof's history block if it has one, else its block): the anchor
 * must commit to exactly that block. Throws VerificationError ANCHOR_INVALID.
 */
export function verifyAnchor(anchor: AnchorEvidence, latestBlockHash: string): AnchorResult {
  if (!(BITCOIN_NETWORKS as readonly string[]).includes(anchor.network)) bad(`unknown network ${String(anchor.network)}`);
  const network = anchor.network;

  // 1. The anchor names the proof's latest block.
  const blockHash = hexField(anchor.blockHash, 'blockHash', 32);
  if (anchor.blockHash !== latestBlockHash) {
    bad(`commits to block ${anchor.blockHash}, but the latest block of the proof is ${latestBlockHash}`);
  }

  // 2. The transaction: strict parse, not 64 bytes, its txid.
  const tx = wrap('transaction', () => parseTransaction(hexField(anchor.tx, 'tx')));
  if (tx.stripped.length === 64) {
    bad('the transaction\'s non-witness serialization is 64 bytes (it could pose as an inner Merkle node)');
  }
  const statedTxid = parseDisplayHash(anchor.txid) ?? bad('txid is not 32 bytes of lowercase hex');
  if (!equalBytes(tx.txid, statedTxid)) bad(`txid is ${anchor.txid}, the transaction hashes to ${displayHex(tx.txid)}`);

  // 3. Exactly one OP_RETURN output, a single 36-byte push of "POP1" ‖ blockHash.
  const opReturns = tx.outputs.filter((o) => o.script.length > 0 && o.script[0] === OP_RETURN);
  if (opReturns.length !== 1) bad(`the transaction has ${opReturns.length} OP_RETURN outputs, not exactly one`);
  const script = opReturns[0]!.script;
  if (script.length !== 2 + ANCHOR_PAYLOAD_BYTES || script[1] !== ANCHOR_PAYLOAD_BYTES) {
    bad(`the OP_RETURN output is not a single 36-byte push (script ${toHex(script)})`);
  }
  const data = script.subarray(2);
  if (!equalBytes(data.subarray(0, 4), ANCHOR_TAG)) bad(`the OP_RETURN data does not start with "POP1" (${toHex(data.subarray(0, 4))})`);
  if (!equalBytes(data.subarray(4), blockHash)) {
    bad(`the OP_RETURN commits to ${toHex(data.subarray(4))}, not to blockHash ${anchor.blockHash}`);
  }

  // 4. The Merkle branch leads from the txid to the header's merkle root.
  const siblings = anchor.merkle.siblings.map((s, i) => parseDisplayHash(s) ?? bad(`merkle sibling ${i} is not 32 bytes of lowercase hex`));
  const root = wrap('merkle branch', () => foldMerkleBranch(tx.txid, anchor.merkle.pos, siblings));
  const headerBytes = hexField(anchor.bitcoinBlock.header, 'bitcoinBlock.header', 80);
  const header = parseBitcoinHeader(headerBytes);
  if (!equalBytes(root, header.merkleRoot)) {
    bad(`the merkle branch leads to ${displayHex(root)}, the header's merkle root is ${displayHex(header.merkleRoot)}`);
  }

  // 5. The header is the stated block, and carries its own proof-of-work.
  const statedHash = parseDisplayHash(anchor.bitcoinBlock.hash) ?? bad('bitcoinBlock.hash is not 32 bytes of lowercase hex');
  if (!equalBytes(header.hash, statedHash)) {
    bad(`the header hashes to ${displayHex(header.hash)}, not bitcoinBlock.hash ${anchor.bitcoinBlock.hash}`);
  }
  const target = wrap('header', () => targetFromBits(header.bits));
  if (network === 'regtest') {
    if (header.bits !== POW_LIMIT_BITS.regtest) bad(`a regtest header has nBits 0x${hex32(POW_LIMIT_BITS.regtest)}, this one 0x${hex32(header.bits)}`);
  } else if (target > targetFromBits(POW_LIMIT_BITS[network])) {
    bad(`nBits 0x${hex32(header.bits)} is easier than the ${network} proof-of-work limit 0x${hex32(POW_LIMIT_BITS[network])}`);
  }
  if (hashToBigInt(header.hash) > target) {
    bad(`the header hash ${displayHex(header.hash)} is above its target (nBits 0x${hex32(header.bits)}): no proof-of-work`);
  }

  const height = anchor.bitcoinBlock.height;
  if (!Number.isSafeInteger(height) || height < 0) bad('bitcoinBlock.height is not a non-negative integer');
  return {
    network,
    txid: displayHex(tx.txid),
    bitcoinBlockHash: displayHex(header.hash),
    bitcoinHeight: height,
    blockHash: anchor.blockHash,
    bestChain: 'not-checked',
  };
}

// Builds and signs the anchor transaction with bitcoinjs-lib: P2WPKH inputs from the anchoring key,
// one OP_RETURN output "POP1" ‖ blockHash (36 bytes, standard everywhere), change back to the same
// address. Opts into replace-by-fee (nSequence 0xfffffffd) so a stuck anchor can be fee-bumped.
import * as bitcoin from 'bitcoinjs-lib';
import { ECPairFactory, type ECPairInterface } from 'ecpair';
import * as ecc from 'tiny-secp256k1';
import type { Utxo } from './esplora.js';

bitcoin.initEccLib(ecc);
const ECPair = ECPairFactory(ecc);

export type BitcoinNetworkName = 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest';
export const DUST_SATS = 546n;
const RBF_SEQUENCE = 0xfffffffd;

export function networkParams(name: BitcoinNetworkName): bitcoin.Network {
  if (name === 'mainnet') return bitcoin.networks.bitcoin;
  if (name === 'regtest') return bitcoin.networks.regtest;
  return bitcoin.networks.testnet; // testnet3, testnet4 and signet share the tb prefix and version bytes
}

export interface Wallet {
  key: ECPairInterface;
  address: string;
  script: Uint8Array;
  network: bitcoin.Network;
}

export function walletFromWif(wif: string, name: BitcoinNetworkName): Wallet {
  const network = networkParams(name);
  const key = ECPair.fromWIF(wif, network);
  const payment = bitcoin.payments.p2wpkh({ pubkey: key.publicKey, network });
  return { key, address: payment.address!, script: payment.output!, network };
}

export function newWif(name: BitcoinNetworkName): string {
  return ECPair.makeRandom({ network: networkParams(name) }).toWIF();
}

export function anchorPayload(blockHashHex: string): Uint8Array {
  return Uint8Array.from([...new TextEncoder().encode('POP1'), ...Buffer.from(blockHashHex, 'hex')]);
}

export class InsufficientFunds extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InsufficientFunds';
  }
}

function sign(wallet: Wallet, inputs: Utxo[], blockHash: string, change: bigint, draft = false): bitcoin.Transaction {
  const psbt = new bitcoin.Psbt({ network: wallet.network });
  for (const u of inputs) {
    psbt.addInput({ hash: u.txid, index: u.vout, sequence: RBF_SEQUENCE, witnessUtxo: { script: wallet.script, value: BigInt(u.value) } });
  }
  psbt.addOutput({ script: bitcoin.payments.embed({ data: [anchorPayload(blockHash)] }).output!, value: 0n });
  if (change > 0n) psbt.addOutput({ address: wallet.address, value: change });
  psbt.signAllInputs(wallet.key);
  psbt.finalizeAllInputs();
  // A draft only measures the size (its change is a placeholder); the real one keeps bitcoinjs-lib's
  // check against absurd fees.
  return psbt.extractTransaction(draft);
}

/**
 * Coin selection (largest confirmed first) and fee: fee = ceil(vsize × feeRate), measured on the
 * signed transaction. Change below dust is given to the fee.
 */
export function buildAnchorTx(wallet: Wallet, utxos: Utxo[], blockHash: string, feeRate: number): { hex: string; txid: string; fee: bigint; vsize: number } {
  const spendable = utxos.filter((u) => u.status.confirmed).sort((a, b) => b.value - a.value);
  const chosen: Utxo[] = [];
  let total = 0n;
  for (const u of spendable) {
    chosen.push(u);
    total += BigInt(u.value);
    // A first guess of the size: ~68 vB per input plus ~85 vB for the outputs and overhead.
    const guess = BigInt(Math.ceil((85 + 68 * chosen.length) * feeRate));
    if (total >= guess + DUST_SATS) break;
  }
  if (chosen.length === 0) throw new InsufficientFunds(`the anchoring address ${wallet.address} holds no confirmed coins`);
  const draft = sign(wallet, chosen, blockHash, 1n, true);
  let fee = BigInt(Math.ceil(draft.virtualSize() * feeRate));
  let change = total - fee;
  if (change < 0n) throw new InsufficientFunds(`the anchoring address ${wallet.address} holds ${total} confirmed sats; an anchor needs about ${fee}`);
  if (change < DUST_SATS) {
    change = 0n;
    fee = total;
  }
  const tx = sign(wallet, chosen, blockHash, change);
  return { hex: tx.toHex(), txid: tx.getId(), fee, vsize: tx.virtualSize() };
}

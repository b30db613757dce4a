// The anchorer: commits the chain tip to Bitcoin. Runs on the sealing leader (same advisory lock),
// one step per tick: advance the transaction in flight (broadcast → confirmed with SPV evidence;
// rebroadcast while unconfirmed; dropped when the network forgot it), watch confirmed anchors for
// reorgs, and — when none is in flight, the interval has passed and the tip moved — build, persist
// and only then broadcast a new anchor. Failures (no funds, no network, a refused transaction) set a
// clear state and never stop the service from accepting and sealing links.
import type { Pool } from 'pg';
import { type Esplora, EsploraError } from './esplora.js';
import { type BitcoinNetworkName, InsufficientFunds, type Wallet, buildAnchorTx } from './tx.js';

export interface AnchorerOptions {
  pool: Pool;
  esplora: Esplora;
  wallet: Wallet;
  network: BitcoinNetworkName;
  intervalMs: number;
  confirmations: number;
  feeFloor: number; // sat/vB
  rebroadcastMs: number;
  now: () => Date;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export type AnchorState = 'ok' | 'waiting' | 'insufficient-funds' | 'unreachable' | 'rejected';

interface AnchorRow {
  id: string;
  block_height: string;
  block_hash: string;
  txid: string;
  raw_tx: string;
  status: 'signed' | 'broadcast' | 'confirmed' | 'dropped' | 'failed';
  created_at: Date;
  broadcast_at: Date | null;
  bitcoin_block_hash: string | null;
}

export class Anchorer {
  readonly #o: AnchorerOptions;
  #state: { state: AnchorState; detail: string | null } | undefined;

  constructor(options: AnchorerOptions) {
    this.#o = options;
  }

  get address(): string {
    return this.#o.wallet.address;
  }

  /** One step of the anchoring state machine; never throws (the state says what went wrong). */
  async tick(): Promise<void> {
    try {
      const inFlight = await this.#o.pool.query<AnchorRow>("SELECT * FROM anchors WHERE status IN ('signed', 'broadcast')");
      if (inFlight.rows[0]) await this.#advance(inFlight.rows[0]);
      else {
        await this.#watchReorgs();
        await this.#maybeAnchor();
      }
    } catch (e) {
      if (e instanceof InsufficientFunds) await this.#setState('insufficient-funds', e.message);
      else if (e instanceof EsploraError) await this.#setState(e.kind === 'unreachable' ? 'unreachable' : 'rejected', e.message);
      else {
        this.#o.log?.('anchoring failed', { error: (e as Error).message });
        await this.#setState('rejected', (e as Error).message).catch(() => {});
      }
    }
  }

  async #setState(state: AnchorState, detail: string | null): Promise<void> {
    if (this.#state?.state !== state || this.#state.detail !== detail) {
      if (state !== 'ok' && state !== 'waiting') this.#o.log?.(`anchoring: ${state}`, { detail });
      this.#state = { state, detail };
    }
    await this.#o.pool.query(
      `INSERT INTO anchor_state (id, network, address, state, detail, updated_at) VALUES (1, $1, $2, $3, $4, now())
       ON CONFLICT (id) DO UPDATE SET network = $1, address = $2, state = $3, detail = $4, updated_at = now()`,
      [this.#o.network, this.#o.wallet.address, state, detail],
    );
  }

  async #maybeAnchor(): Promise<void> {
    const { rows } = await this.#o.pool.query<{ height: string; hash: string; last_created: Date | null; last_anchored: string | null }>(
      `SELECT b.height, b.hash,
              (SELECT max(created_at) FROM anchors) AS last_created,
              (SELECT max(block_height) FROM anchors WHERE status = 'confirmed') AS last_anchored
         FROM blocks b ORDER BY b.height DESC LIMIT 1`,
    );
    const tip = rows[0];
    if (!tip) return this.#setState('waiting', 'no block to anchor yet');
    if (tip.last_anchored !== null && Number(tip.last_anchored) >= Number(tip.height)) return this.#setState('ok', null);
    if (tip.last_created && this.#o.now().getTime() - tip.last_created.getTime() < this.#o.intervalMs) return;
    const [utxos, estimates] = await Promise.all([this.#o.esplora.utxos(this.#o.wallet.address), this.#o.esplora.feeEstimates()]);
    const feeRate = Math.max(this.#o.feeFloor, estimates['6'] ?? estimates['3'] ?? estimates['1'] ?? 0);
    const tx = buildAnchorTx(this.#o.wallet, utxos, tip.hash, feeRate);
    // Persist before broadcast: a crash between the two leaves a 'signed' row that the next tick sends.
    // Signing is deterministic (RFC 6979): re-anchoring the same tip from the same coins after a drop
    // gives the very same transaction, which is revived rather than duplicated.
    await this.#o.pool.query(
      `INSERT INTO anchors (network, block_height, block_hash, txid, raw_tx, fee_sats, vsize, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'signed')
       ON CONFLICT (txid) DO UPDATE SET status = 'signed', detail = NULL, created_at = now(), broadcast_at = NULL, confirmed_at = NULL,
         bitcoin_block_hash = NULL, bitcoin_height = NULL, bitcoin_header = NULL, merkle_pos = NULL, merkle_siblings = NULL`,
      [this.#o.network, tip.height, tip.hash, tx.txid, tx.hex, tx.fee.toString(), tx.vsize],
    );
    this.#o.log?.('anchor signed', { block: Number(tip.height), txid: tx.txid, fee: Number(tx.fee) });
    await this.#broadcast({ txid: tx.txid, raw_tx: tx.hex });
  }

  async #broadcast(a: Pick<AnchorRow, 'txid' | 'raw_tx'>): Promise<void> {
    try {
      await this.#o.esplora.broadcast(a.raw_tx);
    } catch (e) {
      if (!(e instanceof EsploraError) || e.kind !== 'rejected') throw e;
      // Refused: already known to the network is fine; anything else fails this anchor.
      const known = await this.#o.esplora.txStatus(a.txid).then(() => true, () => false);
      if (!known) {
        await this.#o.pool.query("UPDATE anchors SET status = 'failed', detail = $2 WHERE txid = $1", [a.txid, e.message]);
        throw e;
      }
    }
    await this.#o.pool.query("UPDATE anchors SET status = 'broadcast', broadcast_at = coalesce(broadcast_at, now()) WHERE txid = $1", [a.txid]);
    await this.#setState('ok', null);
  }

  async #advance(a: AnchorRow): Promise<void> {
    if (a.status === 'signed') return this.#broadcast(a);
    let status;
    try {
      status = await this.#o.esplora.txStatus(a.txid);
    } catch (e) {
      if (!(e instanceof EsploraError) || e.kind !== 'not-found') throw e;
      // The network forgot it (evicted, or dropped by a reorg): send it again, or give it up.
      try {
        await this.#o.esplora.broadcast(a.raw_tx);
        await this.#o.pool.query('UPDATE anchors SET broadcast_at = now() WHERE txid = $1', [a.txid]);
      } catch (again) {
        if (!(again instanceof EsploraError) || again.kind !== 'rejected') throw again;
        await this.#o.pool.query("UPDATE anchors SET status = 'dropped', detail = $2 WHERE txid = $1", [a.txid, again.message]);
        this.#o.log?.('anchor dropped; the tip will be anchored again', { txid: a.txid });
      }
      return;
    }
    if (!status.confirmed || status.block_height === undefined || !status.block_hash) {
      if (a.broadcast_at && this.#o.now().getTime() - a.broadcast_at.getTime() > this.#o.rebroadcastMs) {
        try {
          await this.#o.esplora.broadcast(a.raw_tx);
        } catch (e) {
          // "already known" is fine; a refusal for any other reason (a conflicting spend) ends this anchor.
          if (!(e instanceof EsploraError) || e.kind !== 'rejected') throw e;
          if (!/already|known|exists/i.test(e.message)) {
            await this.#o.pool.query("UPDATE anchors SET status = 'dropped', detail = $2 WHERE txid = $1", [a.txid, e.message]);
            return;
          }
        }
        await this.#o.pool.query('UPDATE anchors SET broadcast_at = now() WHERE txid = $1', [a.txid]);
      }
      return this.#setState('ok', null);
    }
    const tip = await this.#o.esplora.tipHeight();
    if (tip - status.block_height + 1 < this.#o.confirmations) return this.#setState('ok', null);
    await this.#recordEvidence(a.txid, status.block_hash);
    const height = Number(a.block_height);
    // Its anchor.confirmed event is the database's, on recording (migrations/007_events.sql).
    this.#o.log?.('anchor confirmed', { block: height, txid: a.txid, bitcoinHeight: status.block_height });
    await this.#setState('ok', null);
  }

  async #recordEvidence(txid: string, bitcoinBlockHash: string): Promise<void> {
    const [proof, header] = await Promise.all([this.#o.esplora.merkleProof(txid), this.#o.esplora.blockHeader(bitcoinBlockHash)]);
    await this.#o.pool.query(
      `UPDATE anchors SET status = 'confirmed', confirmed_at = coalesce(confirmed_at, now()), bitcoin_block_hash = $2,
              bitcoin_height = $3, bitcoin_header = $4, merkle_pos = $5, merkle_siblings = $6 WHERE txid = $1`,
      [txid, bitcoinBlockHash, proof.block_height, header, proof.pos, proof.merkle],
    );
  }

  /** A reorg that drops an anchor's Bitcoin block invalidates its evidence: follow the tx, or re-anchor. */
  async #watchReorgs(): Promise<void> {
    const { rows } = await this.#o.pool.query<AnchorRow>("SELECT * FROM anchors WHERE status = 'confirmed' ORDER BY id DESC LIMIT 3");
    for (const a of rows) {
      const block = await this.#o.esplora.blockStatus(a.bitcoin_block_hash!).catch((e: unknown) => {
        if (e instanceof EsploraError && e.kind === 'not-found') return { in_best_chain: false };
        throw e;
      });
      if (block.in_best_chain) continue;
      const status = await this.#o.esplora.txStatus(a.txid).catch(() => undefined);
      if (status?.confirmed && status.block_hash) {
        await this.#recordEvidence(a.txid, status.block_hash); // mined again in another block
        this.#o.log?.('anchor moved by a reorg; evidence updated', { txid: a.txid });
      } else {
        await this.#o.pool.query("UPDATE anchors SET status = 'dropped', detail = $2 WHERE txid = $1", [a.txid, `reorged out of ${a.bitcoin_block_hash}`]);
        this.#o.log?.('anchor reorged out; the tip will be anchored again', { txid: a.txid });
      }
    }
  }
}

// The sealer: batches accepted links into blocks when POP_BLOCK_MAX_LINKS are waiting or the oldest
// has waited POP_BLOCK_INTERVAL_MS. Every `pop serve` runs one, but only the holder of a PostgreSQL
// advisory lock seals; the lock lives with the holder's session, so when it dies another server
// takes over at its next poll. A block is mined before its transaction starts, so a crash at any
// instant leaves either nothing or the whole block; the primary keys refuse a second block at a
// height or a link sealed twice. Mining runs on worker threads (src/node/pow-pool.ts), never on the
// request thread; the leader holds them, and losing the lead or stopping cancels the search and
// terminates them.
import pg from 'pg';
import { fromHex, toHex } from '../core/bytes.js';
import { type HeaderFields, HEADER_VERSION, blockHash } from '../core/header.js';
import { HistoryAccumulator } from '../core/history.js';
import { LinkTree } from '../core/merkle.js';
import { blockMessage } from '../core/signature.js';
import { type ChainState, commitBlock, loadChainState } from './chain.js';
import type { EventSink, Notary } from './ports.js';
import { type PowLease, leasePowPool } from '../node/pow-pool.js';

export interface SealerOptions {
  databaseUrl: string;
  pool: pg.Pool;
  notary: Notary;
  events: EventSink;
  maxLinks: number;
  intervalMs: number;
  difficulty: number;
  now: () => Date;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
  /** Work that runs on the leader only, between seals (the anchorer); its errors never stop sealing. */
  onLeaderTick?: () => Promise<void>;
  leaderTickMs?: number;
  /** Worker threads splitting each block's nonce search (default 1). */
  powThreads?: number;
}

const SEALER_LOCK = 0x706f7073; // 'pops'
const POLL_MS = 100;
const LEADER_RETRY_MS = 1000;

export class Sealer {
  readonly #o: SealerOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  #lockClient: pg.Client | undefined;
  #state: ChainState | undefined;
  #abort = new AbortController();
  #wake: (() => void) | undefined;
  #pow: PowLease | undefined;

  constructor(options: SealerOptions) {
    this.#o = options;
  }

  get isLeader(): boolean {
    return this.#lockClient !== undefined;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#abort = new AbortController();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#abort.abort();
    this.#wake?.();
    await this.#loop;
    await this.#release();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      try {
        if (!(await this.#lead())) {
          await this.#sleep(LEADER_RETRY_MS);
          continue;
        }
        await this.#leaderTick();
        const waitMs = await this.#due();
        if (waitMs > 0) {
          await this.#sleep(Math.min(waitMs, POLL_MS));
          continue;
        }
        await this.sealOnce();
      } catch (e) {
        if (!this.#running) break;
        this.#o.log?.('sealer error; retrying', { error: (e as Error).message });
        this.#state = undefined;
        await this.#release();
        await this.#sleep(LEADER_RETRY_MS);
      }
    }
  }

  #lastTick = 0;
  async #leaderTick(): Promise<void> {
    if (!this.#o.onLeaderTick || Date.now() - this.#lastTick < (this.#o.leaderTickMs ?? 1000)) return;
    this.#lastTick = Date.now();
    try {
      await this.#o.onLeaderTick();
    } catch (e) {
      this.#o.log?.('leader task failed', { error: (e as Error).message });
    }
  }

  /** Holds (or takes) the sealing lock; false when another server holds it. */
  async #lead(): Promise<boolean> {
    if (this.#lockClient) return true;
    const client = new pg.Client({ connectionString: this.#o.databaseUrl });
    client.on('error', () => void this.#release());
    await client.connect();
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SEALER_LOCK]);
    if (!rows[0]?.ok) {
      await client.end().catch(() => {});
      return false;
    }
    this.#lockClient = client;
    this.#state = undefined;
    this.#powLease().warm();
    this.#o.log?.('this server is now the sealer');
    return true;
  }

  /** Gives up the lock and the proof-of-work threads (a search in progress is cancelled). */
  async #release(): Promise<void> {
    const client = this.#lockClient;
    const pow = this.#pow;
    this.#lockClient = undefined;
    this.#pow = undefined;
    await Promise.all([client?.end().catch(() => {}), pow?.release()]);
  }

  #powLease(): PowLease {
    return (this.#pow ??= leasePowPool({ threads: this.#o.powThreads ?? 1, ...(this.#o.log ? { log: this.#o.log } : {}) }));
  }

  /** Milliseconds until a block is due (0: now; Infinity: nothing waits). */
  async #due(): Promise<number> {
    const { rows } = await this.#o.pool.query<{ n: number; oldest: Date | null }>(
      'SELECT count(*)::int AS n, min(accepted_ts) AS oldest FROM (SELECT accepted_ts FROM unsealed_links ORDER BY seq LIMIT $1) q',
      [this.#o.maxLinks],
    );
    const { n, oldest } = rows[0]!;
    if (n === 0 || !oldest) return Infinity;
    if (n >= this.#o.maxLinks) return 0;
    return Math.max(0, oldest.getTime() + this.#o.intervalMs - this.#o.now().getTime());
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }

  /** Seals one block of waiting links, if any; returns its height, or null. */
  async sealOnce(): Promise<number | null> {
    const pool = this.#o.pool;
    const pending = await pool.query<{ seq: string; link_hash: string }>('SELECT seq, link_hash FROM unsealed_links ORDER BY seq LIMIT $1', [this.#o.maxLinks]);
    if (pending.rows.length === 0) return null;
    const state = await this.#currentState();
    const tree = new LinkTree(pending.rows.map((r) => fromHex(r.link_hash)));
    const fields: HeaderFields = {
      version: HEADER_VERSION,
      height: state.nextHeight,
      timestamp: this.#o.now().getTime(),
      prevHash: state.tipHash,
      linksRoot: toHex(tree.root),
      leafCount: tree.size,
      historyRoot: toHex(state.accumulator.root()),
      difficulty: this.#o.difficulty,
      nonce: 0,
    };
    const mined = await this.#powLease().mine(fields, this.#abort.signal);
    const hash = toHex(blockHash(mined.header));
    const next = new HistoryAccumulator(state.accumulator.size, state.accumulator.peaks);
    const historyNodes = next.append(fromHex(hash));
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await commitBlock(client, {
        fields: { ...fields, nonce: mined.nonce },
        header: mined.header,
        hash,
        notaryKeyId: this.#o.notary.keyId,
        notarySig: this.#o.notary.sign(blockMessage(hash)),
        linkHashes: pending.rows.map((r) => r.link_hash),
        seqs: pending.rows.map((r) => r.seq),
        levels: tree.levels(),
        historyNodes,
      });
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      this.#state = undefined; // someone else may have sealed: re-read the chain
      throw e;
    } finally {
      client.release();
    }
    this.#state = { nextHeight: fields.height + 1, tipHash: hash, accumulator: next };
    this.#o.events.emit({ type: 'block.sealed', height: fields.height, hash, leafCount: tree.size, timestamp: fields.timestamp });
    return fields.height;
  }

  /** The cached chain state, if the database's tip still agrees with it. */
  async #currentState(): Promise<ChainState> {
    const tip = await this.#o.pool.query<{ height: string; hash: string }>('SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1');
    const dbNext = tip.rows[0] ? Number(tip.rows[0].height) + 1 : 0;
    if (!this.#state || this.#state.nextHeight !== dbNext || (tip.rows[0] && tip.rows[0].hash !== this.#state.tipHash)) {
      this.#state = await loadChainState(this.#o.pool);
    }
    return this.#state;
  }
}

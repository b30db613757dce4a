// The sealer: batches accepted links into blocks when POP_BLOCK_MAX_LINKS are waiting or the oldest
// has waited POP_BLOCK_INTERVAL_MS. Every `pop serve` runs one, but only the holder of a PostgreSQL
// advisory lock seals; the lock lives with the holder's session, so when it dies another server
// takes over at its next poll. A block is mined before its transaction starts, so a crash at any
// instant leaves either nothing or the whole block; the primary keys refuse a second block at a
// height or a link sealed twice. The block's tree and its mining run on worker threads
// (src/node/pow-pool.ts), never on the request thread, which only reads the waiting links (one row
// of aggregated hex) and commits; the leader holds the threads, and losing the lead or stopping
// cancels the search and terminates them.
//
// The leader reads and commits on its lock's session, never through the application's pool:
// requests saturating that pool (10 clients, 5 s to wait for one) would time the sealer out, and
// each time cost it the lead and the block it had mined, for as long as the overload lasts. Nor
// does a database that is briefly unavailable cost the lead: the lock is given up when its session
// is lost or for a failure that is not the database's, and a commit that fails for the database's
// sake is retried with the block already mined (a COMMIT that went through unheard is recognised by
// the block's own row at its height; its block.sealed event comes from the database, with the commit).
import pg from 'pg';
import { fromHex, toHex } from '../core/bytes.js';
import { HEADER_VERSION, blockHash } from '../core/header.js';
import { HistoryAccumulator } from '../core/history.js';
import { blockMessage } from '../core/signature.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { CLIENT_SLACK_MS, type DbTimeouts, isReadTimeout, rollback } from '../db/pool.js';
import { type ChainState, type SealedBlock, commitBlock, loadChainState, readPending } from './chain.js';
import type { Notary } from './ports.js';
import { type BlockFields, type PowLease, leasePowPool } from '../node/pow-pool.js';

export interface SealerOptions {
  databaseUrl: string;
  pool: pg.Pool;
  notary: Notary;
  maxLinks: number;
  intervalMs: number;
  difficulty: number;
  now: () => Date;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
  /** Work that runs on the leader only, between seals (the anchorer); its errors never stop sealing. */
  onLeaderTick?: () => Promise<void>;
  leaderTickMs?: number;
  /** Told the seconds of the try that committed each block (metrics); failed tries, and a commit only recognised later, are not counted. */
  onCommitted?: (seconds: number) => void;
  /** Worker threads splitting each block's nonce search (default 1). */
  powThreads?: number;
  /**
   * Timeouts of the lock's own session (the service passes its database timeouts): the server
   * cancels a statement after statementMs, and a server that does not answer at all within
   * statementMs + 2 s (stopped, cut off without a reset) costs the session and the lead instead of
   * holding the sealer until TCP gives up (minutes). Without them the session waits as long as it takes.
   */
  sessionTimeouts?: DbTimeouts;
}

/** What the last block sealed by sealOnce() cost (benchmarks, diagnostics). */
export interface SealStats {
  height: number;
  links: number;
  /** Milliseconds awaiting the nonce: the proof-of-work (and any wait for the pool), not the rest of the seal nor the block's tree (built first, by one of the pool's threads). */
  powMs: number;
  /** Hashes tried for the nonce (PowResult.tries); the mean at d bits is 2^d. */
  hashes: number;
}

const SEALER_LOCK = 0x706f7073; // 'pops'
const POLL_MS = 100;
const LEADER_RETRY_MS = 1000;
/** Tries of one mined block's commit while the database is unavailable, 250 ms apart, then 500, 750. */
const COMMIT_ATTEMPTS = 4;
const COMMIT_RETRY_MS = 250;
/** How long giving up the lead waits for the server to acknowledge the session's end. */
const END_WAIT_MS = 1000;

export class Sealer {
  readonly #o: SealerOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  #session: pg.Client | undefined;
  #state: ChainState | undefined;
  #abort = new AbortController();
  /** Ends the sleeps in progress (the loop's, and a commit's between its tries). */
  readonly #wake = new Set<() => void>();
  #pow: PowLease | undefined;
  /** sealOnce() calls, one at a time (the leader's transaction shares its one session). */
  #sealing: Promise<unknown> = Promise.resolve();
  #lastSeal: SealStats | undefined;
  /** A block whose COMMIT its server never answered: once the lead is held again, the chain says whether it is in. */
  #unsure: SealedBlock | undefined;

  constructor(options: SealerOptions) {
    this.#o = options;
  }

  get isLeader(): boolean {
    return this.#session !== undefined;
  }

  /** The cost of the last block this sealer sealed (undefined before its first). */
  get lastSeal(): SealStats | undefined {
    return this.#lastSeal;
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
    for (const wake of [...this.#wake]) wake();
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
        if (this.#unsure && this.#session) await this.#settle(this.#session, this.#unsure);
        await this.#leaderTick();
        const waitMs = await this.#due();
        if (waitMs > 0) {
          await this.#sleep(Math.min(waitMs, POLL_MS));
          continue;
        }
        await this.sealOnce();
      } catch (e) {
        if (!this.#running) break;
        // The database's bad moments (a timeout, a dropped connection, a conflict it asks to retry)
        // do not cost the lead while its session lives; anything else gives it up, so that another
        // server may do better. A session whose server did not answer at all is stuck with that
        // query (node-postgres cannot take it back): it is closed, and the lock goes with it once
        // the server sees the connection end — nobody else can take it before.
        const keep = this.#session !== undefined && isDatabaseUnavailable(e) && !isReadTimeout(e);
        this.#o.log?.('sealer error; retrying', { error: (e as Error).message, ...(keep ? { keptLead: true } : {}) });
        this.#state = undefined;
        if (!keep) await this.#release();
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
    if (this.#session) return true;
    // TCP keepalive from 10 s idle: a connection cut without a reset is found dead (and the lead given up) in time.
    const t = this.#o.sessionTimeouts;
    const client = new pg.Client({
      connectionString: this.#o.databaseUrl,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...(t ? { connectionTimeoutMillis: t.connectMs, statement_timeout: t.statementMs, query_timeout: t.statementMs + CLIENT_SLACK_MS } : {}),
    });
    // The session is lost (the lock with it): give up the lead, unless this is an old session's echo.
    const lost = () => void (this.#session === client && this.#release());
    client.on('error', lost);
    client.on('end', lost);
    await client.connect();
    // The server's side of the same: a client cut off without a reset (its closing packet lost) is
    // found dead in ≈ 25 s and its lock freed, instead of after the server's default two hours.
    // Ignored on a Unix socket.
    await client.query('SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3').catch(async (e: unknown) => {
      await client.end().catch(() => {});
      throw e;
    });
    let ok: boolean | undefined;
    try {
      ok = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SEALER_LOCK])).rows[0]?.ok;
    } finally {
      if (!ok) await client.end().catch(() => {});
    }
    if (!ok) return false;
    this.#session = client;
    this.#state = undefined;
    this.#powLease().warm();
    this.#o.log?.('this server is now the sealer');
    return true;
  }

  /** Gives up the lock and the proof-of-work threads (a search in progress is cancelled). */
  async #release(): Promise<void> {
    const client = this.#session;
    const pow = this.#pow;
    this.#session = undefined;
    this.#pow = undefined;
    // end() waits for the server to close its side: a server that does not answer would hold the
    // sealer here, so it waits a moment at most, then drops the socket (pg's own end() does that
    // only when a query is in flight).
    const ended = client?.end().then(() => true, () => true);
    const waited = ended && Promise.race([ended, new Promise<false>((r) => setTimeout(() => r(false), END_WAIT_MS).unref())]);
    const [closed] = await Promise.all([waited, pow?.release()]);
    if (client && closed === false) (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }

  #powLease(): PowLease {
    return (this.#pow ??= leasePowPool({ threads: this.#o.powThreads ?? 1, ...(this.#o.log ? { log: this.#o.log } : {}) }));
  }

  /** Milliseconds until a block is due (0: now; Infinity: nothing waits). */
  async #due(): Promise<number> {
    const { rows } = await (this.#session ?? this.#o.pool).query<{ n: number; oldest: Date | null }>(
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
      const done = () => {
        clearTimeout(t);
        this.#wake.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#wake.add(done);
    });
  }

  /** Seals one block of waiting links, if any; returns its height, or null. */
  sealOnce(): Promise<number | null> {
    const run = this.#sealing.then(() => this.#seal());
    this.#sealing = run.catch(() => {});
    return run;
  }

  async #seal(): Promise<number | null> {
    // The leader works on its lock's session; a sealOnce() without the lock (tests, benchmarks,
    // tools) uses the pool.
    const session = this.#session;
    const db = session ?? this.#o.pool;
    const pending = await readPending(db, this.#o.maxLinks);
    if (!pending) return null;
    const state = await this.#currentState(db);
    const block: BlockFields = {
      version: HEADER_VERSION,
      height: state.nextHeight,
      timestamp: this.#o.now().getTime(),
      prevHash: state.tipHash,
      historyRoot: toHex(state.accumulator.root()),
      difficulty: this.#o.difficulty,
    };
    const mining = performance.now();
    const mined = await this.#powLease().mine(block, pending.leaves, this.#abort.signal);
    const powMs = performance.now() - mining - mined.treeMs;
    const hash = toHex(blockHash(mined.header));
    const next = new HistoryAccumulator(state.accumulator.size, state.accumulator.peaks);
    const historyNodes = next.append(fromHex(hash));
    const { fields } = mined;
    await this.#commit(session, {
      fields,
      header: mined.header,
      hash,
      notaryKeyId: this.#o.notary.keyId,
      notarySig: this.#o.notary.sign(blockMessage(hash)),
      links: pending,
      levels: mined.levels,
      historyNodes,
    });
    this.#state = { nextHeight: fields.height + 1, tipHash: hash, accumulator: next };
    this.#lastSeal = { height: fields.height, links: fields.leafCount, powMs, hashes: mined.tries };
    return fields.height;
  }

  /**
   * Commits a mined block in one transaction. While the database is unavailable (no free client in
   * the pool, a timeout, a conflict it asks to retry) the same block is tried again: the block stays
   * valid as long as nobody seals at its height, which the lock ensures and the primary keys check.
   * The leader gives up when its session is lost (the lock with it) or the sealer stops.
   */
  async #commit(session: pg.Client | undefined, block: SealedBlock): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const started = performance.now();
        await this.#commitOnce(session, block);
        try {
          this.#o.onCommitted?.((performance.now() - started) / 1000);
        } catch {
          /* the block is in: a failing metric changes nothing */
        }
        return;
      } catch (e) {
        // A COMMIT whose answer was lost may have committed: the retry then meets the block's own row.
        if (attempt > 1 && (e as { code?: string }).code === '23505' && (await this.#isCommitted(session, block).catch(() => false))) return;
        const retry = isDatabaseUnavailable(e) && !(session && isReadTimeout(e)) && attempt < COMMIT_ATTEMPTS && this.#session === session && !this.#abort.signal.aborted;
        if (!retry) {
          this.#state = undefined; // someone else may have sealed: re-read the chain
          // Given up unanswered, the COMMIT may still have gone through: settled on the next seal.
          if (session && isReadTimeout(e)) this.#unsure = block;
          throw e;
        }
        this.#o.log?.('committing a block failed; retrying the same block', { height: block.fields.height, attempt, error: (e as Error).message });
        await this.#sleep(COMMIT_RETRY_MS * attempt);
      }
    }
  }

  /**
   * A block given up unanswered: reported now if the chain holds it (its block.sealed event came
   * from the database with its commit). Called holding the lead again, i.e. after the server ended
   * the old session, so its transaction is over either way.
   */
  async #settle(session: pg.Client, block: SealedBlock): Promise<void> {
    const committed = await this.#isCommitted(session, block);
    this.#unsure = undefined;
    if (!committed) return;
    this.#o.log?.('a block whose commit went unanswered is in the chain', { height: block.fields.height });
  }

  /** Whether the chain holds this very block at its height (not another sealer's). */
  async #isCommitted(session: pg.Client | undefined, block: SealedBlock): Promise<boolean> {
    const { rows } = await (session ?? this.#o.pool).query<{ hash: string }>('SELECT hash FROM blocks WHERE height = $1', [block.fields.height]);
    return rows[0]?.hash === block.hash;
  }

  async #commitOnce(session: pg.Client | undefined, block: SealedBlock): Promise<void> {
    if (session) {
      // A failed statement rolls back and the session stays (if it died, its 'end' gives up the
      // lead); one the server never answered leaves the session busy: the caller closes it, which
      // ends the transaction on the server.
      try {
        await session.query('BEGIN');
        await commitBlock(session, block);
        await session.query('COMMIT');
      } catch (e) {
        if (isReadTimeout(e)) throw e;
        try {
          await session.query('ROLLBACK');
        } catch (r) {
          if (isReadTimeout(r)) throw r; // the server went silent since: the session is stuck now
        }
        throw e;
      }
      return;
    }
    // A pool's client that timed out or died is discarded rather than handed to the next request
    // (src/db/pool.ts rollback).
    const client = await this.#o.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await commitBlock(client, block);
      await client.query('COMMIT');
    } catch (e) {
      broken = await rollback(client, e);
      throw e;
    } finally {
      client.release(broken);
    }
  }

  /** The cached chain state, if the database's tip still agrees with it. */
  async #currentState(db: pg.Pool | pg.Client): Promise<ChainState> {
    const tip = await db.query<{ height: string; hash: string }>('SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1');
    const dbNext = tip.rows[0] ? Number(tip.rows[0].height) + 1 : 0;
    if (!this.#state || this.#state.nextHeight !== dbNext || (tip.rows[0] && tip.rows[0].hash !== this.#state.tipHash)) {
      this.#state = await loadChainState(db);
    }
    return this.#state;
  }
}

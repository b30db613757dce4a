// The sealer when the application's pool is saturated or the database fails a commit: the leader
// reads and commits on its lock's session, so a pool with no free client neither stops it nor costs
// it the lead; a commit that fails for the database's sake is retried with the block already mined
// (signed once) — and a COMMIT that went through unheard is recognised — and a pool client whose query
// timed out is destroyed, never handed back busy; and a lock session whose server stops answering is
// closed (the lead given up) instead of holding the sealer until TCP gives up.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeHeader, fromHex } from '../../src/core/index.js';
import { hardenPool } from '../../src/db/pool.js';
import { Sealer, type SealerOptions } from '../../src/ledger/sealer.js';
import type { Notary } from '../../src/ledger/ports.js';
import { hear } from '../helpers/events.js';
import { silentRelay } from '../helpers/relay.js';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

const SEALER_LOCK = 0x706f7073; // src/ledger/sealer.ts

let svc: TestService;
let mapCounter = 0;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => svc?.close());

/** Posts `n` single-link maps through the service (its own pool); returns their hashes. */
async function post(n: number): Promise<string[]> {
  const subs = Array.from({ length: n }, () => makeSubmission(svc.parties['customer']!, { step: 'order', mapId: `overload-${mapCounter++}`, ...VALID['order'] }));
  const r = await svc.request('POST', '/v1/links/batch', { body: { links: subs.map((s) => s.body) } });
  expect(r.status, r.body).toBe(201);
  return subs.map((s) => s.hash);
}

/** A pool like the application's (src/db/pool.ts), with a short wait for a client. */
function appLikePool(max: number, t: { connectMs: number; statementMs: number }): pg.Pool {
  const pool = new pg.Pool({ connectionString: svc.databaseUrl, max });
  pool.on('error', () => {});
  hardenPool(pool, t, () => {});
  return pool;
}

function sealer(pool: pg.Pool, logs: string[], o: { notary?: Notary; difficulty?: number; databaseUrl?: string; sessionTimeouts?: SealerOptions['sessionTimeouts'] } = {}): Sealer {
  return new Sealer({
    databaseUrl: o.databaseUrl ?? svc.databaseUrl,
    ...(o.sessionTimeouts ? { sessionTimeouts: o.sessionTimeouts } : {}),
    pool,
    notary: o.notary ?? svc.notary,
    maxLinks: 10_000,
    intervalMs: 100,
    difficulty: o.difficulty ?? 8,
    now: () => new Date(),
    log: (msg, extra) => logs.push(extra ? `${msg} ${JSON.stringify(extra)}` : msg),
  });
}

/** The backend holding the sealing lock, if any. */
async function lockHolder(): Promise<number | undefined> {
  const { rows } = await svc.pool.query<{ pid: number }>(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    [SEALER_LOCK],
  );
  return rows[0]?.pid;
}

async function sealedCount(hashes: string[]): Promise<number> {
  const { rows } = await svc.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM link_seals WHERE link_hash = ANY($1)', [hashes]);
  return rows[0]!.n;
}

/** Every block chains on the one below it, every link is sealed exactly once, and none waits. */
async function expectConsistentChain(): Promise<void> {
  const blocks = await svc.pool.query<{ height: string; hash: string; prev_hash: string }>('SELECT height, hash, prev_hash FROM blocks ORDER BY height');
  blocks.rows.forEach((b, i) => {
    expect(Number(b.height)).toBe(i);
    expect(b.prev_hash).toBe(i === 0 ? '0'.repeat(64) : blocks.rows[i - 1]!.hash);
  });
  const counts = await svc.pool.query<{ links: number; sealed: number; distinct_sealed: number; waiting: number }>(
    `SELECT (SELECT count(*)::int FROM links) AS links, (SELECT count(*)::int FROM link_seals) AS sealed,
            (SELECT count(DISTINCT link_hash)::int FROM link_seals) AS distinct_sealed, (SELECT count(*)::int FROM unsealed_links) AS waiting`,
  );
  const c = counts.rows[0]!;
  expect(c).toEqual({ links: c.links, sealed: c.links, distinct_sealed: c.links, waiting: 0 });
}

/** A sealer whose lock session goes through a silent relay (short session timeouts), leading, one block sealed. */
async function leadingThroughRelay(): Promise<{ relay: Awaited<ReturnType<typeof silentRelay>>; logs: string[]; s: Sealer; done: () => Promise<void> }> {
  const relay = await silentRelay(svc.databaseUrl);
  const pool = appLikePool(3, { connectMs: 1_000, statementMs: 5_000 });
  const logs: string[] = [];
  const s = sealer(pool, logs, { databaseUrl: relay.url, sessionTimeouts: { statementMs: 300, connectMs: 1_000 } });
  const done = async () => {
    relay.thaw();
    await s.stop();
    await pool.end();
    await relay.close();
  };
  s.start();
  try {
    const first = await post(1);
    await expect.poll(() => sealedCount(first), { timeout: 30_000 }).toBe(1);
  } catch (e) {
    await done();
    throw e;
  }
  return { relay, logs, s, done };
}

describe('the sealer under overload', () => {
  test('with every client of the pool held, the leader still seals the waiting links, on the same lock session', async () => {
    const pool = appLikePool(3, { connectMs: 300, statementMs: 5_000 });
    const logs: string[] = [];
    const s = sealer(pool, logs);
    const held: pg.PoolClient[] = [];
    try {
      s.start();
      const first = await post(1);
      await expect.poll(() => sealedCount(first), { timeout: 30_000 }).toBe(1);
      const leader = await lockHolder();
      expect(leader).toBeDefined();

      // Requests hold every client of the pool (the sealer waiting for one timed out after 300 ms).
      for (let i = 0; i < 3; i++) held.push(await pool.connect());
      const waiting = await post(5);
      const leading: boolean[] = [];
      await expect
        .poll(async () => (leading.push(s.isLeader), sealedCount(waiting)), { timeout: 10_000, interval: 50 })
        .toBe(5);
      expect(leading.every(Boolean), 'the lead never lapsed').toBe(true);
      expect(await lockHolder()).toBe(leader);
      expect(pool.waitingCount, 'the sealer never queued for a client').toBe(0);
      expect(logs).toEqual(['this server is now the sealer']);

      // The sealer's account of its last block: one worker thread counts nonce + 1 hashes.
      const last = s.lastSeal!;
      const row = await svc.pool.query<{ header: string }>('SELECT header FROM blocks WHERE height = $1', [last.height]);
      expect(last.hashes).toBe(decodeHeader(fromHex(row.rows[0]!.header)).nonce + 1);
      expect(last.powMs).toBeGreaterThan(0);
    } finally {
      for (const c of held) c.release();
      await s.stop();
      await pool.end();
    }
    await expectConsistentChain();
  });

  test('a commit that finds no free client is retried with the block already mined', async () => {
    const pool = appLikePool(1, { connectMs: 300, statementMs: 5_000 });
    const logs: string[] = [];
    let holding: Promise<pg.PoolClient> | undefined;
    const signatures: string[] = [];
    // Signing is the last step before the commit: take the pool's only client there.
    const notary: Notary = {
      ...svc.notary,
      sign: (m) => {
        holding ??= pool.connect();
        const sig = svc.notary.sign(m);
        signatures.push(sig);
        return sig;
      },
    };
    const s = sealer(pool, logs, { notary, difficulty: 12 });
    let givenBack = false;
    const giveBack = async () => {
      if (!holding || givenBack) return;
      givenBack = true;
      (await holding).release();
    };
    try {
      const hashes = await post(2);
      const sealing = s.sealOnce();
      await expect.poll(() => logs.some((l) => l.startsWith('committing a block failed; retrying the same block')), { timeout: 10_000 }).toBe(true);
      await giveBack();
      const height = await sealing;
      expect(height).not.toBeNull();
      expect(signatures).toHaveLength(1);
      expect(logs[0]).toContain('timeout exceeded when trying to connect');
      const row = await svc.pool.query<{ notary_sig: string }>('SELECT notary_sig FROM blocks WHERE height = $1', [height]);
      expect(row.rows[0]!.notary_sig).toBe(signatures[0]);
      expect(await sealedCount(hashes)).toBe(2);
    } finally {
      await giveBack();
      await s.stop();
      await pool.end();
    }
    await expectConsistentChain();
  });

  test('a COMMIT that committed but whose answer was lost: the retry finds the block its own, sealed once, announced once', async () => {
    const pool = new pg.Pool({ connectionString: svc.databaseUrl, max: 2 });
    pool.on('error', () => {});
    // The first COMMIT goes through on the server, then the client hears only a dropped connection.
    let lost = false;
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      client.query = ((...args: unknown[]) => {
        if (lost || args[0] !== 'COMMIT' || args.length !== 1) return query(...args);
        lost = true;
        return (query('COMMIT') as Promise<unknown>).then(() => {
          throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
        });
      }) as typeof client.query;
    });
    const logs: string[] = [];
    const heard = await hear(svc.events);
    const s = sealer(pool, logs);
    try {
      const hashes = await post(3);
      const height = await s.sealOnce();
      expect(lost).toBe(true);
      expect(height).not.toBeNull();
      expect(logs.some((l) => l.startsWith('committing a block failed; retrying the same block'))).toBe(true);
      expect(await sealedCount(hashes)).toBe(3);
      // The sealer goes on from that block: the next one chains on it.
      await post(1);
      expect(await s.sealOnce()).toBe(height! + 1);
      // The block's event came once, from its one commit (the retry's rolled back): the next block's comes after it.
      await heard.until((e) => e.type === 'block.sealed' && e.height === height! + 1);
      expect(heard.events.filter((e) => e.type === 'block.sealed')).toEqual([
        expect.objectContaining({ type: 'block.sealed', height }),
        expect.objectContaining({ type: 'block.sealed', height: height! + 1 }),
      ]);
    } finally {
      heard.stop();
      await s.stop();
      await pool.end();
    }
    await expectConsistentChain();
  });

  test('a pool client whose commit timed out is destroyed, not handed back busy', async () => {
    // A client-side read timeout: the server is still working on the query when the error comes.
    const pool = new pg.Pool({ connectionString: svc.databaseUrl, max: 1, query_timeout: 400 });
    pool.on('error', () => {});
    let removed = 0;
    pool.on('remove', () => removed++);
    const logs: string[] = [];
    const s = sealer(pool, logs);
    const blocker = new pg.Client({ connectionString: svc.databaseUrl });
    await blocker.connect();
    try {
      const hashes = await post(1);
      // Reads go on; the block's INSERT waits for this lock until the client gives up on it.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE blocks IN EXCLUSIVE MODE');
      const sealing = s.sealOnce();
      await expect.poll(() => logs.some((l) => l.includes('Query read timeout')), { timeout: 10_000 }).toBe(true);
      await expect.poll(() => removed, { message: 'the timed-out client left the pool' }).toBeGreaterThanOrEqual(1);
      await blocker.query('COMMIT');
      expect(await sealing).not.toBeNull();
      expect(await sealedCount(hashes)).toBe(1);
    } finally {
      await blocker.end().catch(() => {});
      await s.stop();
      await pool.end();
    }
    await expectConsistentChain();
  });

  test('a lock session whose server stops answering: the read times out, the session is closed and the lead given up, then taken back', async () => {
    const { relay, logs, s, done } = await leadingThroughRelay();
    try {
      const leader = await lockHolder();
      expect(s.isLeader).toBe(true);

      relay.freeze(); // the session's next query (the poll, ten times a second) gets no answer
      await expect.poll(() => s.isLeader, { timeout: 20_000, message: 'the lead is given up' }).toBe(false);
      expect(logs.some((l) => l.startsWith('sealer error; retrying') && l.includes('Query read timeout') && !l.includes('keptLead'))).toBe(true);
      // The server still holds the lock for that session: nobody else could seal meanwhile.
      expect(await lockHolder()).toBe(leader);
      const waiting = await post(3);

      relay.thaw(); // the closed session reaches the server, which ends it and frees the lock
      await expect.poll(() => sealedCount(waiting), { timeout: 30_000 }).toBe(3);
      expect(s.isLeader).toBe(true);
      expect(await lockHolder()).not.toBe(leader);
    } finally {
      await done();
    }
    await expectConsistentChain();
  });

  test('a lock session whose server goes silent mid-commit: no retry on the stuck session, the lead given up, the links sealed later', async () => {
    const { relay, logs, s, done } = await leadingThroughRelay();
    try {
      relay.freezeOn('BEGIN'); // the next block's transaction never reaches the server
      const waiting = await post(2);
      await expect.poll(() => s.isLeader, { timeout: 20_000, message: 'the lead is given up' }).toBe(false);
      expect(logs.some((l) => l.startsWith('sealer error; retrying') && l.includes('Query read timeout') && !l.includes('keptLead'))).toBe(true);
      expect(logs.filter((l) => l.startsWith('committing a block failed')), 'no retry on a session that is stuck').toEqual([]);
      expect(await sealedCount(waiting)).toBe(0);
      relay.thaw();
      await expect.poll(() => sealedCount(waiting), { timeout: 30_000 }).toBe(2);
    } finally {
      await done();
    }
    await expectConsistentChain();
  });

  test('a COMMIT held back until the session was given up: it lands late, its block is announced once, the chain goes on from it', async () => {
    const { relay, logs, s, done } = await leadingThroughRelay();
    const heard = await hear(svc.events);
    try {
      relay.freezeOn('COMMIT');
      const late = await post(2);
      await expect.poll(() => s.isLeader, { timeout: 20_000, message: 'the lead is given up' }).toBe(false);
      const { rows } = await svc.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM blocks');
      const before = rows[0]!.n;
      relay.thaw(); // the held COMMIT reaches the server, then the session's close
      await expect.poll(() => sealedCount(late), { timeout: 30_000 }).toBe(2);
      const height = before; // the block that was waiting on its COMMIT
      await heard.until((e) => e.type === 'block.sealed' && e.height === height, 30_000);
      await expect.poll(() => logs, { timeout: 30_000 }).toContain(`a block whose commit went unanswered is in the chain {"height":${height}}`);
      const next = await post(1);
      await expect.poll(() => sealedCount(next), { timeout: 30_000 }).toBe(1);
      await heard.until((e) => e.type === 'block.sealed' && e.height > height, 30_000);
      const heights = heard.events.filter((e) => e.type === 'block.sealed').map((e) => (e as { height: number }).height);
      expect(new Set(heights).size, 'each block announced once').toBe(heights.length);
    } finally {
      heard.stop();
      await done();
    }
    await expectConsistentChain();
  });
});

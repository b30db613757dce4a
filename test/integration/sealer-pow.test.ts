// The sealer mines on worker threads (src/node/pow-pool.ts): stopping it, or losing the sealing lock
// while a block is being mined, cancels the search and terminates the threads, and nothing is sealed
// from a cancelled search.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Sealer } from '../../src/ledger/sealer.js';
import { sharedPowState } from '../../src/node/pow-pool.js';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

const SEALER_LOCK = 0x706f7073; // src/ledger/sealer.ts
const UNREACHABLE_BITS = 60; // the search never ends on its own

let svc: TestService;
let mapCounter = 0;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => svc?.close());

function sealer(logs: string[]): Sealer {
  return new Sealer({
    databaseUrl: svc.databaseUrl,
    pool: svc.pool,
    notary: svc.notary,
    maxLinks: 10_000,
    intervalMs: 10,
    difficulty: UNREACHABLE_BITS,
    now: () => new Date(),
    log: (msg, extra) => logs.push(extra ? `${msg} ${JSON.stringify(extra)}` : msg),
  });
}

async function postOrder(): Promise<string> {
  const s = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: `pow-${mapCounter++}`, ...VALID['order'] });
  const r = await svc.request('POST', '/v1/links', { body: s.body });
  expect(r.status, r.body).toBe(201);
  return s.hash;
}

async function unsealed(): Promise<number> {
  const { rows } = await svc.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM unsealed_links');
  return rows[0]!.n;
}

describe('the sealer on proof-of-work threads', () => {
  test('stop() while a block is mined cancels the search and terminates the threads', async () => {
    const logs: string[] = [];
    const s = sealer(logs);
    await postOrder();
    s.start();
    await expect.poll(() => sharedPowState(), { timeout: 30_000 }).toEqual({ threads: 1, busy: 1 });
    await s.stop();
    expect(sharedPowState()).toEqual({ threads: 0, busy: 0 });
    expect(await unsealed()).toBeGreaterThan(0);
    expect((await svc.request('GET', '/v1/blocks/tip')).status).toBe(404);
    expect(logs).toEqual(['this server is now the sealer']);
  });

  test('losing the sealing lock mid-search cancels it and gives the threads back; leading again restarts them', async () => {
    const logs: string[] = [];
    const s = sealer(logs);
    await postOrder();
    s.start();
    try {
      await expect.poll(() => sharedPowState(), { timeout: 30_000 }).toEqual({ threads: 1, busy: 1 });
      // The lock's session dies (as when the connection to PostgreSQL is lost).
      const killed = await svc.pool.query(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        [SEALER_LOCK],
      );
      expect(killed.rowCount).toBe(1);
      await expect.poll(() => logs.some((l) => l.startsWith('sealer error; retrying') && l.includes('mining cancelled')), { timeout: 30_000 }).toBe(true);
      expect(sharedPowState().busy).toBe(0);
      // It takes the free lock again and mines on new threads.
      await expect.poll(() => sharedPowState(), { timeout: 30_000 }).toEqual({ threads: 1, busy: 1 });
      expect(logs.filter((l) => l === 'this server is now the sealer')).toHaveLength(2);
    } finally {
      await s.stop();
    }
    expect(sharedPowState()).toEqual({ threads: 0, busy: 0 });
    expect((await svc.request('GET', '/v1/blocks/tip')).status).toBe(404);
  });
});

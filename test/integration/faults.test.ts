// The bounded subset of the fault suite (the long run: `npm run test:faults`, test/faults/): a few
// rounds of each kind of fault under continuous load, each followed by every check — nothing the
// service acknowledged lost or sealed twice, anchors neither lost nor doubled, proofs that verify
// offline, `pop chain verify`, and a service that recovered by itself (scenarios in
// test/faults/scenarios.ts; `pop chain verify` runs once per server here, after every round in the
// long run). One `pop serve` runs on its embedded PostgreSQL, anchoring to its local regtest network;
// another on a shared server, whose sessions are terminated under it.
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { hardenPool } from '../../src/db/pool.js';
import { Harness, type Load, freePort, sleep, withDb } from '../helpers/faults.js';
import { FaultReport } from '../faults/report.js';
import { countAcknowledged, killRound, pauseRound, pgRestartRound, poolRound, terminateRound, withRig } from '../faults/scenarios.js';

const h = new Harness('faults');
const report = new FaultReport();
const loads: Load[] = [];

afterAll(async () => {
  countAcknowledged(report, loads);
  report.print();
  await h.cleanup();
});

describe('database failures, named and survived', () => {
  test('a hardened pool: timeouts, an in-use connection killed without crashing the process, failures named', async () => {
    const db = await h.database();
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const logged: string[] = [];
    hardenPool(pool, { statementMs: 300, connectMs: 300 }, (msg) => logged.push(msg));
    try {
      const slow = (await pool.query('SELECT pg_sleep(3)').catch((e: unknown) => e)) as Error & { code?: string };
      expect(slow.code, 'statement_timeout cancels it').toBe('57014');
      expect(isDatabaseUnavailable(slow)).toBe(true);

      // Checked out and idle between two queries when its session is terminated: the client emits
      // 'error' (once for the server's FATAL message, maybe again as the socket closes), and only
      // hardenPool's listener hears it (unheard, it would be an uncaught exception).
      const client = await pool.connect();
      try {
        const { pid } = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!;
        await withDb(db.url, (c) => c.query('SELECT pg_terminate_backend($1)', [pid]));
        for (const end = Date.now() + 5_000; !logged.length && Date.now() < end; ) await sleep(20);
        expect(logged.length).toBeGreaterThan(0);
        expect(new Set(logged)).toEqual(new Set(['a database connection in use failed']));
        const after = await client.query('SELECT 1').catch((e: unknown) => e);
        expect(isDatabaseUnavailable(after), String(after)).toBe(true);
      } finally {
        client.release();
      }

      const held = await pool.connect(); // the pool's only connection
      try {
        const waited = (await pool.query('SELECT 1').catch((e: unknown) => e)) as Error;
        expect(waited.message).toBe('timeout exceeded when trying to connect');
        expect(isDatabaseUnavailable(waited)).toBe(true);
      } finally {
        held.release();
      }

      const nobody = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/none` });
      expect(isDatabaseUnavailable(await nobody.connect().catch((e: unknown) => e))).toBe(true);
      // Not the database being unavailable: the request's or the code's own fault.
      expect(isDatabaseUnavailable(await pool.query('SELEC 1').catch((e: unknown) => e))).toBe(false);
      expect(isDatabaseUnavailable(await pool.query("SELECT 'x'::int").catch((e: unknown) => e))).toBe(false);
      expect(isDatabaseUnavailable(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(false);
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]); // and the pool works on
    } finally {
      await pool.end();
    }
  });
});

describe('faults under load (bounded subset)', () => {
  test('embedded PostgreSQL, regtest anchoring: kill -9, PostgreSQL killed and shut down, paused, out of connections', { timeout: 150_000 }, () =>
    withRig(h, report, loads, { name: 'embedded', chainEveryRound: false }, async (rig) => {
      await killRound(rig);
      await pgRestartRound(rig, 0); // SIGKILL: a crash
      await pgRestartRound(rig, 2); // SIGINT: a fast shutdown
      await pauseRound(rig);
      await poolRound(rig);
    }));

  test('shared server: every session of the service terminated mid-load', { timeout: 60_000 }, async () => {
    const db = await h.database();
    await withRig(h, report, loads, { name: 'shared', databaseUrl: db.url, chainEveryRound: false }, async (rig) => {
      await terminateRound(rig);
      await terminateRound(rig);
    });
  });
});

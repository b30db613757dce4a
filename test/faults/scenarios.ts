// The faults, each one round under continuous load, followed by the checks (test/helpers/faults.ts):
//   kill -9          the service, at a random instant; then started again (as a supervisor would)
//   pg restart       its embedded PostgreSQL killed (SIGKILL, or an immediate or fast shutdown): the
//                    service must restart it by itself, on the same port
//   pg terminate     pg_terminate_backend() of every session of the service, on a shared server
//   pg pause         its embedded PostgreSQL stopped (SIGSTOP, postmaster and every backend) for
//                    longer than the service's database timeouts: 503s, not hangs; then SIGCONT
//   pool exhaustion  many slow requests at once (large batches, large bundles) while every free
//                    connection slot of the cluster is held from outside: 503/429, not 500s or hangs
// After each round: nothing the service acknowledged is lost or sealed twice, anchors are neither
// lost nor doubled (with POP_ANCHOR=regtest), proofs verify, `pop chain verify` passes, and the
// service recovered without anyone's help.
import { randomInt } from 'node:crypto';
import pg from 'pg';
import { expect } from 'vitest';
import {
  HANG_GUARD_MS,
  type Harness,
  Load,
  type Server,
  checkAnchors,
  checkChain,
  checkIdempotent,
  checkInvariants,
  checkProofs,
  childrenOf,
  http,
  register,
  running,
  sleep,
  waitUntilAllSealed,
  waitUntilTipAnchored,
  withDb,
  withLogs,
} from '../helpers/faults.js';
import type { FaultKind, FaultReport } from './report.js';

/** The service's database timeouts in these suites (POP_DB_*), and what follows from them. */
export const DB_TIMEOUTS = { statementMs: 1_000, connectMs: 1_000 };
export const DB_ENV = { POP_DB_STATEMENT_TIMEOUT_MS: String(DB_TIMEOUTS.statementMs), POP_DB_CONNECT_TIMEOUT_MS: String(DB_TIMEOUTS.connectMs) };

export interface Rig {
  h: Harness;
  server: Server;
  load: Load;
  report: FaultReport;
  /** POP_ANCHOR=regtest: check anchors after each round. */
  anchors: boolean;
  /** Run `pop chain verify` after every round (else only when asked by settle(…, true)). */
  chainEveryRound: boolean;
}

/**
 * A `pop serve` with its load, for `fn` to inject faults into; then the final checks (the tip
 * anchored, idempotent re-posts, every check of a round with `pop chain verify`). Without
 * `databaseUrl` it runs on its embedded PostgreSQL and anchors to its local regtest network.
 */
export async function withRig(
  h: Harness,
  report: FaultReport,
  loads: Load[],
  o: { name: string; databaseUrl?: string; chainEveryRound: boolean },
  fn: (rig: Rig) => Promise<void>,
): Promise<void> {
  const anchors = o.databaseUrl === undefined;
  const server = await h.server(o.name, o.databaseUrl, anchors ? { POP_ANCHOR: 'regtest', POP_BLOCK_MAX_LINKS: '100', ...DB_ENV } : DB_ENV);
  await withLogs([server], async () => {
    await server.start();
    const load = new Load(h, o.name, await register(h, server.url), { proofShare: 0.2 });
    loads.push(load);
    const rig: Rig = { h, server, load, report, anchors, chainEveryRound: o.chainEveryRound };
    await fn(rig);
    if (anchors) {
      await waitUntilTipAnchored(server);
      report.anchors = await checkAnchors(server);
      expect(report.anchors.confirmed, 'anchors confirmed').toBeGreaterThan(0);
    }
    await checkIdempotent(h, server.url, load);
    await settle(rig, true);
  });
}

/** Runs the load while `during` injects a fault; returns the recovery time `during` measured. */
async function underLoad(rig: Rig, during: () => Promise<number>, workers = 3): Promise<number> {
  let stopped = false;
  const running = rig.load.run(() => rig.server.url, () => stopped, workers);
  try {
    await sleep(randomInt(200, 800));
    return await during();
  } finally {
    stopped = true;
    await running;
  }
}

/** After a round: in-doubt requests re-posted, then every check. */
export async function settle(rig: Rig, chain = rig.chainEveryRound): Promise<void> {
  const { h, server, load, report } = rig;
  await load.retry(() => server.url);
  expect(load.violations, 'answers no fault excuses (500, 5xx without problem+json, hangs, wrong refusals)').toEqual([]);
  const db = server.databaseUrl;
  await waitUntilAllSealed(db);
  const counts = await checkInvariants(db, load);
  await checkProofs(h, server.url, load, 5);
  report.checks += 2;
  if (chain) {
    await checkChain(h, server.url, counts);
    report.checks++;
  }
  if (rig.anchors) {
    await checkAnchors(server);
    report.checks++;
  }
}

/** POP_FAULT_VERBOSE=1: a line per round (the long run's progress). */
const VERBOSE = process.env['POP_FAULT_VERBOSE'] === '1';

async function round(rig: Rig, kind: FaultKind, fault: () => Promise<number>): Promise<void> {
  const before = new Map(rig.load.kinds);
  const requests = rig.load.stats.requests + rig.load.stats.proofs;
  const t0 = Date.now();
  const recovery = await fault();
  const t1 = Date.now();
  await settle(rig);
  rig.report.round(kind, recovery, before, rig.load.kinds);
  rig.report.requests += rig.load.stats.requests + rig.load.stats.proofs - requests;
  if (VERBOSE) {
    console.info(`${new Date().toISOString()} ${rig.server.name}: ${kind} round: recovered in ${recovery} ms; fault ${t1 - t0} ms, checks ${Date.now() - t1} ms; ${rig.load.acked.size} links acknowledged`);
  }
}

/** Links acknowledged over all loads of the run (each load counts its own). */
export function countAcknowledged(report: FaultReport, loads: Load[]): void {
  report.acknowledged = loads.reduce((n, l) => n + l.acked.size, 0);
}

// ---------------------------------------------------------------------------------------------

export function killRound(rig: Rig): Promise<void> {
  return round(rig, 'kill -9', async () => {
    await underLoad(rig, () => rig.server.kill().then(() => 0));
    const restartedAt = Date.now();
    await rig.server.start();
    // Recovery: from the restart (by us, standing in for systemd or Kubernetes) to the first acknowledgement.
    return underLoad(rig, () => rig.load.recoveredAfter(restartedAt));
  });
}

const PG_SIGNALS = ['SIGKILL', 'SIGQUIT', 'SIGINT'] as const; // a crash, an immediate shutdown, a fast shutdown

export function pgRestartRound(rig: Rig, n: number): Promise<void> {
  const { server } = rig;
  return round(rig, 'pg restart', () =>
    underLoad(rig, async () => {
      const pid = server.pid;
      const pm = server.postmasterPid;
      expect(pm, 'the embedded PostgreSQL runs').toBeDefined();
      const signal = PG_SIGNALS[n % PG_SIGNALS.length]!;
      const at = Date.now();
      process.kill(pm!, signal);
      for (const end = Date.now() + 30_000; running(pm!) && Date.now() < end; ) await sleep(5);
      const recovery = await rig.load.recoveredAfter(at, Date.now());
      await sleep(300);
      expect(server.pid, 'the service itself did not die').toBe(pid);
      expect(server.postmasterPid, 'a new postmaster').not.toBe(pm);
      expect(server.logLines(/PostgreSQL restarted on/).length, 'the service restarted PostgreSQL').toBeGreaterThan(0);
      return recovery;
    }),
  );
}

export function terminateRound(rig: Rig): Promise<void> {
  const { server } = rig;
  return round(rig, 'pg terminate', () =>
    underLoad(rig, async () => {
      let at = 0;
      let terminated = 0;
      for (let i = 0; i < 3; i++) {
        at = Date.now();
        terminated += await withDb(server.databaseUrl, async (c) =>
          (await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [server.applicationName])).rowCount ?? 0,
        );
        await sleep(150);
      }
      expect(terminated, "the service's sessions were there to terminate").toBeGreaterThan(0);
      const recovery = await rig.load.recoveredAfter(at);
      await sleep(300);
      return recovery;
    }),
  );
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      /* gone */
    }
  }
}

export function pauseRound(rig: Rig): Promise<void> {
  const { server, load } = rig;
  /** 503 unavailable answers the load got since `before` (a copy of its counts). */
  const unavailableSince = (before: Map<string, number>) =>
    [...load.kinds].reduce((n, [k, c]) => n + (/^(proof )?503 unavailable$/.test(k) ? c - (before.get(k) ?? 0) : 0), 0);
  return round(rig, 'pg pause', () =>
    underLoad(rig, async () => {
      const pm = server.postmasterPid;
      expect(pm, 'the embedded PostgreSQL runs').toBeDefined();
      const before = new Map(load.kinds);
      const stoppedPids = [pm!];
      let resumedAt: number;
      try {
        process.kill(pm!, 'SIGSTOP'); // first, so that it forks nothing new
        const children = childrenOf(pm!);
        signalAll(children, 'SIGSTOP');
        stoppedPids.push(...children);
        // While paused — the database is resumed only after these answers came, so each of them was
        // given while it was stuck: /healthz answers, /readyz says 503, and the load gets 503s.
        const probe = (path: string) =>
          http(server.url, 'GET', path, undefined, null, HANG_GUARD_MS).catch((e: unknown) => {
            throw new Error(`GET ${path} while the database is paused: ${(e as Error).name === 'TimeoutError' ? `no answer within ${HANG_GUARD_MS} ms (a hang)` : String(e)}`);
          });
        expect((await probe('/healthz')).status).toBe(200);
        const ready = await probe('/readyz');
        expect(ready.status, ready.body).toBe(503);
        expect(ready.contentType).toMatch(/^application\/problem\+json/);
        while (unavailableSince(before) === 0) await sleep(100); // the test's timeout guards this wait
      } finally {
        signalAll(stoppedPids.slice(1), 'SIGCONT');
        signalAll([pm!], 'SIGCONT');
        resumedAt = Date.now();
      }
      expect(unavailableSince(before), 'the paused database was reported as 503 unavailable').toBeGreaterThan(0);
      const recovery = await load.recoveredAfter(resumedAt);
      await sleep(300);
      return recovery;
    }),
  );
}

/** Opens connections to the cluster until it refuses them (max_connections reached), ten at a time. */
async function holdAllSlots(url: string): Promise<pg.Client[]> {
  const held: pg.Client[] = [];
  const open = async (): Promise<boolean> => {
    const c = new pg.Client({ connectionString: url.replace(/\/pop$/, '/postgres'), application_name: 'fault-hog' });
    c.on('error', () => {});
    try {
      await c.connect();
      held.push(c);
      return true;
    } catch (e) {
      expect((e as { code?: string }).code, (e as Error).message).toBe('53300'); // too_many_connections
      return false;
    }
  };
  for (;;) {
    const opened = await Promise.all(Array.from({ length: 10 }, open));
    if (opened.includes(false)) return held;
    if (held.length > 1000) throw new Error('max_connections above 1000?');
  }
}

/** Concurrent slow requests in a pool-exhaustion round: a quarter bundles, the rest 50-link batches. */
const FLOOD = 16;

export function poolRound(rig: Rig): Promise<void> {
  const { h, server, load } = rig;
  return round(rig, 'pool exhaustion', () =>
    underLoad(rig, async () => {
      const before = new Map(load.kinds);
      const t0 = Date.now();
      const held = await holdAllSlots(server.databaseUrl);
      const t1 = Date.now();
      let releasedAt: number;
      try {
        // Many slow requests at once: large batches, and large bundles (everything of the last minute).
        const from = new Date(Date.now() - 60_000).toISOString();
        const flood = Array.from({ length: FLOOD }, async (_, i) => {
          if (i % 4 === 3) {
            const to = new Date().toISOString();
            try {
              const a = await http(server.url, 'GET', `/v1/bundles?process=order-to-cash&from=${from}&to=${to}`, undefined, h.adminKey, HANG_GUARD_MS);
              const kind = `bundle ${a.status}${a.status >= 300 ? ` ${String(a.json['type'] ?? 'no-problem-type').replace(/^.*\//, '')}` : ''}`;
              load.kinds.set(kind, (load.kinds.get(kind) ?? 0) + 1);
              if (a.status >= 500 && a.status !== 503) load.violations.push(`bundle → ${a.status} ${a.body.slice(0, 200)}`);
              if (a.status >= 400 && !a.contentType.startsWith('application/problem+json')) load.violations.push(`bundle → ${a.status} as ${a.contentType}`);
            } catch (e) {
              const kind = (e as Error).name === 'TimeoutError' ? 'bundle hang' : 'bundle cut';
              load.kinds.set(kind, (load.kinds.get(kind) ?? 0) + 1);
              if (kind === 'bundle hang') load.violations.push('bundle: no answer in time');
            }
            return;
          }
          const req = load.batch(50);
          if (!(await load.send(server.url, req))) load.inDoubt.push(req);
        });
        await Promise.all(flood);
      } finally {
        await Promise.all(held.map((c) => c.end().catch(() => {})));
        releasedAt = Date.now();
      }
      if (VERBOSE) console.info(`pool exhaustion: ${held.length} connections held (in ${t1 - t0} ms), flood ${releasedAt - t1} ms`);
      const refused = [...load.kinds].reduce((n, [k, c]) => n + (/(503|429)/.test(k) ? c - (before.get(k) ?? 0) : 0), 0);
      expect(refused, 'with every connection slot taken, some requests were refused with 503/429').toBeGreaterThan(0);
      const recovery = await load.recoveredAfter(releasedAt);
      await sleep(300);
      return recovery;
    }),
  );
}

// `npm run bench`: the benchmarks of issue 8, side by side in one run (see docs/performance.md).
//   npm run bench [-- --quick] [--out FILE]   the service figures, goals and machine; JSON with --out
//                                             (--keep leaves the service log and the bundle behind)
//   npm run bench -- --core [--quick]         the core micro-benchmarks (bench/core.ts)
//   npm run bench -- --profile append|batch|proof   the service under --cpu-prof at saturation
// The service runs from src/ as `pop serve` with default settings on DATABASE_URL, else on a fresh
// database on TEST_DATABASE_URL's server, else on the embedded PostgreSQL. `--set NAME=VALUE`
// (repeatable) changes one of its settings for a what-if run; the report then says so.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { encodeHeader } from '../src/core/header.js';
import { mineRange } from '../src/core/pow.js';
import { bundleFile, downloadBundle, verifyBundle, type VerifyOutcome } from './bundle.js';
import { DEFAULT_POW_BITS, type SeededChain, seedChain } from './chain.js';
import { type BenchDatabases, type Fresh, openDatabases, postgresInfo } from './database.js';
import { type Child, REPO, startCeilingProcess, startServiceProcess } from './processes.js';
import { PROFILE_KINDS, runProfile } from './profile.js';
import { Progress } from './progress.js';
import { CHAIN_LENGTHS, type ChainContext, type ChainEstimate, type Figures, type SealRound, chainEstimate, goals, markdownTable, median } from './report.js';
import type { CpuShares } from './cpu.js';
import { BATCH_CONCURRENCY, BATCH_SIZE, CONNECTIONS, SATURATION_CONNECTIONS, bareLatencyAtRate, batchAppends, durations, latencyAtRate, proofFetches, saturateBest, setUp, waitUntilSealed } from './service-phases.js';
import { tailLine } from './service-metrics.js';

/** Cores used, as "0.92 / 0.45 / 0.21 / 0.40" (n/a where /proc cannot tell). */
function coresLine(c: CpuShares): string {
  return [c.service, c.postgres, c.generator, c.idle].map((v) => (v === null ? 'n/a' : v.toFixed(2))).join(' / ');
}

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    core: { type: 'boolean', default: false },
    profile: { type: 'string' },
    rate: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (args.help) {
  process.stdout.write(
    'npm run bench [-- --quick] [--out FILE] [--keep] [--set NAME=VALUE …]\nnpm run bench -- --core [--quick]\nnpm run bench -- --profile append|batch|proof [--quick] [--out DIR] [--set NAME=VALUE …]\nnpm run bench -- --profile latency --rate N [--quick] [--out DIR] [--set NAME=VALUE …]\n',
  );
  process.exit(0);
}

const settings: Record<string, string> = {};
for (const kv of args.set ?? []) {
  const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(kv);
  if (!m || !(m[1]!.startsWith('POP_') || m[1] === 'LOG_LEVEL')) throw new Error(`--set ${kv}: expected POP_…=value or LOG_LEVEL=value`);
  settings[m[1]!] = m[2]!;
}

const progress = new Progress();
const log = (msg: string) => progress.note(msg);

/** The commit measured, and whether the working tree differed from it. */
function revision(): { commit: string; uncommittedChanges: boolean } | null {
  try {
    const git = (a: string[]) => execFileSync('git', a, { cwd: REPO, encoding: 'utf8' }).trim();
    return { commit: git(['rev-parse', '--short', 'HEAD']), uncommittedChanges: git(['status', '--porcelain', '--untracked-files=no', '--', 'src', 'migrations', 'schemas']) !== '' };
  } catch {
    return null;
  }
}

function machine(pgInfo: Awaited<ReturnType<typeof postgresInfo>>, source: string) {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    openssl: process.versions.openssl,
    postgres: pgInfo.version,
    postgresSettings: { synchronous_commit: pgInfo.synchronousCommit, fsync: pgInfo.fsync, shared_buffers: pgInfo.sharedBuffers, max_connections: pgInfo.maxConnections },
    database: source,
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
  };
}

function powHashesPerSec(quick: boolean): number {
  const header = encodeHeader({
    version: 1, height: 1, timestamp: 0, prevHash: '11'.repeat(32), linksRoot: '22'.repeat(32),
    leafCount: 1, historyRoot: '33'.repeat(32), difficulty: 256, nonce: 0,
  });
  const tries = quick ? 300_000 : 2_000_000;
  let best = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    mineRange(header, 0, tries);
    best = Math.max(best, tries / ((performance.now() - t0) / 1000));
  }
  return best;
}

export interface ChainFigures extends ChainContext, ChainEstimate {
  rounds: number;
  /** Per chain length and round, at powBits: the whole sealOnce(), its mining, the hashes tried. */
  roundsMs: Record<string, number[]>;
  roundsPowMs: Record<string, number[]>;
  roundsHashes: Record<string, number[]>;
  /** Per chain length and round, at difficulty 0. */
  roundsMsNoPow: Record<string, number[]>;
  /** Best round at powBits (its mining's luck included). */
  minMs: Record<string, number | null>;
  seedSeconds: Record<string, number>;
  error?: string;
}

/**
 * Seeds the three chains, then seals round-robin across them in a new random order each round (so
 * the machine's noise falls on every length alike): one warm-up, then `rounds` each, at 16 bits and
 * at 0. The figure is chainEstimate's: per length, the median of (seal − its mining) plus the
 * expected mining time at the run's one hash rate. Mining time is geometric (p95 ≈ 3× the mean) and
 * as long as the rest of a seal, so the raw medians of 101 rounds still came out 32% apart by
 * chance, where the same seals' work was 3% apart; the raw medians stay in the details.
 */
async function chainFigures(dbs: BenchDatabases, quick: boolean): Promise<ChainFigures> {
  const rounds = quick ? 3 : 101;
  const out: ChainFigures = {
    rounds, powBits: DEFAULT_POW_BITS, sealMs: {}, workMs: {}, expectedPowMs: null, hashesPerSec: null,
    medianMs: {}, medianMsNoPow: {}, minMs: {}, minMsNoPow: {},
    roundsMs: {}, roundsPowMs: {}, roundsHashes: {}, roundsMsNoPow: {}, seedSeconds: {},
  };
  const chains: SeededChain[] = [];
  const fresh: Fresh[] = [];
  try {
    for (const n of CHAIN_LENGTHS) {
      const db = await dbs.fresh(`chain${n}`);
      fresh.push(db);
      progress.phase(`seeding a chain of ${n.toLocaleString('en')} blocks`, n, 'blocks');
      const chain = await seedChain(db, n, (d) => progress.update(d));
      chains.push(chain);
      out.seedSeconds[n] = chain.seedSeconds;
      progress.end(`${chain.seedSeconds.toFixed(1)} s`);
    }
    progress.phase('sealing 1,000 links per chain length', rounds, 'rounds');
    for (const c of chains) await c.seal(DEFAULT_POW_BITS); // warm-up: JIT, connections, caches
    const sealed: Record<string, SealRound[]> = {};
    for (let r = 0; r < rounds; r++) {
      const order = chains.map((c) => ({ c, k: Math.random() })).sort((a, b) => a.k - b.k).map((x) => x.c);
      for (const c of order) {
        (sealed[c.blocks] ??= []).push(await c.seal(DEFAULT_POW_BITS));
        (out.roundsMsNoPow[c.blocks] ??= []).push((await c.seal(0)).sealMs);
      }
      progress.update(r + 1);
    }
    Object.assign(out, chainEstimate(sealed, DEFAULT_POW_BITS));
    for (const n of CHAIN_LENGTHS) {
      const at = sealed[n] ?? [];
      out.roundsMs[n] = at.map((x) => x.sealMs);
      out.roundsPowMs[n] = at.map((x) => x.powMs);
      out.roundsHashes[n] = at.map((x) => x.hashes);
      out.medianMs[n] = median(out.roundsMs[n]);
      out.medianMsNoPow[n] = median(out.roundsMsNoPow[n] ?? []);
      out.minMs[n] = at.length ? Math.min(...out.roundsMs[n]) : null;
      out.minMsNoPow[n] = out.roundsMsNoPow[n]?.length ? Math.min(...out.roundsMsNoPow[n]) : null;
    }
    progress.end(`${CHAIN_LENGTHS.map((n) => out.sealMs[n]?.toFixed(0)).join(' / ')} ms (work + expected mining; raw ${CHAIN_LENGTHS.map((n) => out.medianMs[n]?.toFixed(0)).join(' / ')})`);
  } catch (e) {
    progress.end('failed');
    out.error = (e as Error).message;
    for (const n of CHAIN_LENGTHS) {
      out.sealMs[n] ??= null;
      out.workMs[n] ??= null;
      out.medianMs[n] ??= null;
      out.medianMsNoPow[n] ??= null;
      out.minMs[n] ??= null;
      out.minMsNoPow[n] ??= null;
    }
  } finally {
    for (const c of chains) await c.close();
    for (const f of fresh) await f.drop().catch(() => {});
  }
  return out;
}

async function main(): Promise<void> {
  const started = new Date();
  const quick = args.quick;
  const d = durations(quick);
  const work = mkdtempSync(join(tmpdir(), 'pop-bench-run-'));
  const dbs = await openDatabases(log);
  const children: Child[] = [];
  let ceilingTable: string | undefined;
  let finished = false;
  let cleaned: Promise<void> | undefined;
  // Stop the servers, drop what we created, once (at the end, or on Ctrl-C).
  const cleanUp = () =>
    (cleaned ??= (async () => {
      for (const c of children) await c.stop().catch(() => {});
      if (ceilingTable && dbs.source === 'DATABASE_URL') {
        const c = new pg.Client({ connectionString: dbs.url });
        await c.connect().then(() => c.query(`DROP TABLE IF EXISTS ${ceilingTable}`)).finally(() => c.end()).catch(() => {});
      }
      await dbs.close();
      if (finished && !args.keep) rmSync(work, { recursive: true, force: true });
      else process.stderr.write(`service log, bundle and keys kept in ${work}\n`);
    })());
  const interrupted = () => {
    progress.note('interrupted: stopping the servers and dropping the benchmark databases');
    // What was running fails as its connections are cut: that is expected now.
    process.on('unhandledRejection', () => {});
    process.on('uncaughtException', () => {});
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const pgInfo = await postgresInfo(dbs.url);
    const m = machine(pgInfo, dbs.source);
    log(`${m.cores} × ${m.cpuModel}, Node ${m.node}, ${pgInfo.version.split(' ').slice(0, 2).join(' ')} (${dbs.source})${quick ? ', quick' : ''}`);
    if (Object.keys(settings).length) log(`what-if run, not default settings: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')}`);

    const adminKey = randomBytes(24).toString('hex');
    progress.phase('starting the service (pop serve)', 1);
    const service = await startServiceProcess({ databaseUrl: dbs.url, dataDir: work, adminKey, settings });
    children.push(service);
    progress.end(service.url);
    const setup = await setUp(service.url, adminKey);

    // 1. The ceiling: the bare route on the same database.
    ceilingTable = `bench_ceiling_${setup.runId}`;
    const ddl = new pg.Client({ connectionString: dbs.url });
    await ddl.connect();
    await ddl.query(`CREATE TABLE ${ceilingTable} (hash text PRIMARY KEY, canonical text NOT NULL, signatures jsonb NOT NULL, accepted_ts timestamptz NOT NULL DEFAULT now())`);
    await ddl.end();
    const ceilingServer = await startCeilingProcess({ databaseUrl: dbs.url, table: ceilingTable, publicKey: setup.signer.publicKey, logDir: work });
    children.push(ceilingServer);
    const ceiling = await saturateBest(progress, { label: 'ceiling', url: ceilingServer.url, path: '/ceiling', signer: setup.signer, d, servicePid: ceilingServer.process.pid });
    // The appends' latency is measured at half the ceiling: the bare route at that same load first.
    const rate = Math.max(10, Math.round(ceiling.perSec / 2));
    const ceilingLatency = await bareLatencyAtRate(progress, { url: ceilingServer.url, signer: setup.signer, rate, d, servicePid: ceilingServer.process.pid });
    await ceilingServer.stop();

    // 2. Single appends at saturation, 3. at half the ceiling, 4. batches.
    const append = await saturateBest(progress, { label: 'appends', url: service.url, path: '/v1/links', signer: setup.signer, apiKey: await setup.participantKey(), d, servicePid: service.process.pid });
    const latency = await latencyAtRate(progress, { url: service.url, databaseUrl: dbs.url, signer: setup.signer, apiKey: await setup.participantKey(), rate, d, servicePid: service.process.pid });
    // Supplementary: the same at half the measured appendPerSec, a load the service can carry.
    const sustainable = Math.max(10, Math.round(append.perSec / 2));
    const latencyAtHalfAppend = await latencyAtRate(progress, { url: service.url, databaseUrl: dbs.url, signer: setup.signer, apiKey: await setup.participantKey(), rate: sustainable, d: { ...d, latencyS: quick ? 5 : 15 }, servicePid: service.process.pid });
    const batch = await batchAppends(progress, { url: service.url, signer: setup.signer, apiKey: await setup.participantKey(), d });
    await waitUntilSealed(progress, dbs.url);

    // 5. Proofs of random sealed links.
    const proofs = await proofFetches(progress, { url: service.url, apiKey: setup.auditorKey, warmKey: await setup.newAuditorKey(), hashes: [...batch.hashes, ...append.hashes.slice(0, append.created)], d });

    // 6. A bundle of up to 10,000 links: the measured batches' time range (the run's only writer then).
    const take = Math.min(10, batch.acceptedAts.length);
    const from = batch.acceptedAts[0]!;
    const to = batch.acceptedAts.length > take ? batch.acceptedAts[take]! : new Date(Date.parse(batch.acceptedAts[take - 1]!) + 1).toISOString();
    const counted = new pg.Client({ connectionString: dbs.url });
    await counted.connect();
    const bundleLinks = Number((await counted.query<{ n: string }>(
      "SELECT count(*) AS n FROM links l JOIN link_seals s ON s.link_hash = l.hash WHERE l.process = 'order-to-cash' AND l.accepted_ts >= $1 AND l.accepted_ts < $2",
      [from, to],
    )).rows[0]!.n);
    await counted.end();
    progress.phase(`exporting a bundle of ${bundleLinks.toLocaleString('en')} links`, 1);
    const download = await downloadBundle(service.url, await setup.newAuditorKey(), { process: 'order-to-cash', from, to }, bundleFile(work), bundleLinks);
    progress.end(`${(download.bytes / 2 ** 20).toFixed(1)} MiB in ${download.seconds.toFixed(1)} s`);
    await service.stop();
    setup.admin.close();

    // 7. Sealing against chain length, 8. proof-of-work, 9. the bundle verification (last).
    const chain = await chainFigures(dbs, quick);
    progress.phase('proof-of-work (midstate loop, one thread)', 1);
    const pow = powHashesPerSec(quick);
    progress.end(`${(pow / 1e6).toFixed(2)} M/s`);
    progress.phase(`pop verify on the ${bundleLinks.toLocaleString('en')}-link bundle`, 1);
    const verify: VerifyOutcome = await verifyBundle(download.file, bundleLinks, setup.notaryKey);
    progress.end(verify.available ? (verify.ok ? `${verify.linksPerSec.toFixed(0)} links/s` : `failed: ${verify.detail}`) : 'not available');

    const figures: Figures = {
      ceilingPerSec: ceiling.perSec,
      appendPerSec: append.perSec,
      batchAppendPerSec: batch.perSec,
      appendP99Ms: latency.latency.p99,
      ceilingP99Ms: ceilingLatency.latency.p99,
      sealP99Ms: latency.seal.p99,
      proofFetchPerSec: proofs.perSec,
      verifyBundleLinksPerSec: verify.available ? (verify.ok ? verify.linksPerSec : null) : 'not available',
      sealMsByChainLength: chain.sealMs,
      powHashesPerSec: pow,
    };
    const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
    const strip = (x: object) => ({ ...x, hashes: undefined });
    const result = {
      command,
      quick,
      startedAt: started.toISOString(),
      revision: revision(),
      seconds: Math.round((Date.now() - started.getTime()) / 1000),
      machine: { ...m, loadAverageAtEnd: loadavg().map((l) => Number(l.toFixed(2))) },
      settings: {
        service: 'pop serve from src/ (tsx), default settings: pool of 10, LOG_LEVEL info, POP_BLOCK_INTERVAL_MS 1000, POP_BLOCK_MAX_LINKS 10000, POP_POW_BITS 16, rate limit 120,000/min per key',
        changed: Object.keys(settings).length ? settings : 'none',
        load: `autocannon 8, closed loop: saturation at the better of ${SATURATION_CONNECTIONS.join(' and ')} connections, proofs at ${CONNECTIONS}; own open loop at a fixed rate (latency); batches of ${BATCH_SIZE}, ${BATCH_CONCURRENCY} in flight`,
        durations: d,
        chainRounds: chain.rounds,
        chainPowBits: DEFAULT_POW_BITS,
      },
      figures,
      goals: goals(figures, chain),
      details: {
        ceiling: strip(ceiling),
        ceilingLatency,
        append: strip(append),
        latency,
        latencyAtHalfAppend,
        batch: { ...strip(batch), acceptedAts: undefined },
        proofs,
        bundle: { download, verify },
        chain,
      },
    };
    const rev = result.revision;
    const about = [
      `${m.cores} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node} (OpenSSL ${m.openssl}), ${pgInfo.version.split(' ').slice(0, 2).join(' ')} (synchronous_commit ${pgInfo.synchronousCommit}, fsync ${pgInfo.fsync})`,
      `database: ${dbs.source}; load average ${m.loadAverageAtStart[0]} at the start, ${result.machine.loadAverageAtEnd[0]} at the end; ${result.seconds} s`,
      rev ? `revision ${rev.commit}${rev.uncommittedChanges ? ' with uncommitted changes in src/, schemas/ or migrations/' : ''}` : '',
      `saturation at ${SATURATION_CONNECTIONS.join(' / ')} connections: ceiling ${SATURATION_CONNECTIONS.map((c) => ceiling.perSecByConnections[c]!.toFixed(0)).join(' / ')} /s; appends ${SATURATION_CONNECTIONS.map((c) => append.perSecByConnections[c]!.toFixed(0)).join(' / ')} /s (each figure takes the better)`,
      `at ${rate}/s offered (open loop): ceiling p50 ${ceilingLatency.latency.p50.toFixed(1)} / p90 ${ceilingLatency.latency.p90.toFixed(1)} / p99 ${ceilingLatency.latency.p99.toFixed(1)} ms; appends p50 ${latency.latency.p50.toFixed(1)} / p90 ${latency.latency.p90.toFixed(1)} / p99 ${latency.latency.p99.toFixed(1)} ms`,
      `the service at ${rate}/s (its /metrics): ${tailLine(latency.service)}`,
      `cores (server / PostgreSQL / load generator / idle): ceiling ${coresLine(ceiling.cpu)}; ceiling at ${rate}/s ${coresLine(ceilingLatency.cpu)}; appends ${coresLine(append.cpu)}; at ${rate}/s ${coresLine(latency.cpu)}; at ${sustainable}/s ${coresLine(latencyAtHalfAppend.cpu)}`,
    ].filter(Boolean);
    process.stdout.write(`\n${command}\n${about.join('\n')}\n\n${markdownTable(figures, chain)}\n\n`);
    if (args.out) {
      writeFileSync(args.out, JSON.stringify(result, null, 2) + '\n');
      process.stderr.write(`wrote ${args.out}\n`);
    }
    finished = true;
  } finally {
    await cleanUp();
  }
}

if (args.core) {
  await import('./core.js');
} else if (args.profile !== undefined) {
  const usage = (message: string): never => {
    process.stderr.write(`${message}\n`);
    process.exit(2);
  };
  if (!PROFILE_KINDS.includes(args.profile as (typeof PROFILE_KINDS)[number])) usage(`--profile takes ${PROFILE_KINDS.join(', ')}, not ${JSON.stringify(args.profile)}`);
  const rate = args.rate === undefined ? undefined : Number(args.rate);
  if (rate !== undefined && !(Number.isInteger(rate) && rate > 0)) usage(`--rate takes a whole number of appends a second, not ${JSON.stringify(args.rate)}`);
  if ((args.profile === 'latency') !== (rate !== undefined)) usage('--rate N goes with --profile latency, and only with it');
  await runProfile(args.profile, args.quick, args.out, progress, settings, rate);
} else if (args.rate !== undefined) {
  process.stderr.write('--rate N goes with --profile latency, and only with it\n');
  process.exit(2);
} else {
  await main();
}

// Issue 6's bundle figure: "a 100,000-link bundle streams in constant memory and verifies with
// `pop verify` at ≥ 3,000 links/s on this machine".
//
//   npm run build && node --import tsx scripts/measure-bundle.ts --links 100000 [--small 10000] [--out report.json]
//
// 1. Starts the real service (`pop serve` from src/, default settings, as bench/ does) on a fresh
//    database (on DATABASE_URL's or TEST_DATABASE_URL's server, else the embedded PostgreSQL).
// 2. Seeds N signed links through POST /v1/links/batch (1,000 a request, two in flight): maps of five
//    order-to-cash steps (order, confirm, produce co-signed by the retailer, ship, deliver co-signed by
//    the customer) with private data, so bundles hold real transitions and co-signatures. Each batch
//    is signed just before it is sent (createdAt stays within the service's clock skew).
// 3. Waits until every link is sealed.
// 4. For the first `--small` links and then for all N: a fresh service process on the same database,
//    one small bundle to warm it up, then GET /v1/bundles?process&from&to as a regulator, streamed to
//    a file, while the service's RSS is read from /proc/<pid>/status every 100 ms (and its V8 heap
//    from /metrics every 500 ms). Constant memory means the N-link peak is not ~N/small times the
//    small one's: the growth over the idle baseline is what is compared, beside the heap V8 finds
//    live after each major collection (--trace-gc), which is what a bundle really holds — the RSS
//    peak also counts garbage not yet collected, and V8 lets more of it pile up in a longer run.
// The service and pop verify run from a snapshot of the working tree taken at the start (below).
// 5. `pop --version` from dist/ (best of 5), then `pop verify --json --notary-key K` from dist/ on
//    both files (wall time, user+sys CPU and peak RSS through /usr/bin/time when it exists), checking
//    that the report says ok and counts every link.
// Progress goes to stderr; a summary table to stdout; --out writes every figure as JSON.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, sign } from 'node:crypto';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { downloadBundle } from '../bench/bundle.js';
import { openDatabases } from '../bench/database.js';
import { Http } from '../bench/http.js';
import { type Signer, newSigner } from '../bench/links.js';
import { REPO, startServiceProcess } from '../bench/processes.js';
import { Progress } from '../bench/progress.js';
import { waitUntilSealed } from '../bench/service-phases.js';
import { createDisclosures } from '../src/core/disclosure.js';
import { type Json, canonicalJson } from '../src/core/jcs.js';

const { values: args } = parseArgs({
  options: {
    links: { type: 'string', default: '100000' },
    small: { type: 'string', default: '10000' },
    out: { type: 'string' },
    'verify-runs': { type: 'string', default: '2' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
const usage = 'node --import tsx scripts/measure-bundle.ts --links N [--small n] [--out report.json] [--verify-runs k] [--keep]\n';
if (args.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const N = Number(args.links);
const SMALL = Number(args.small);
const VERIFY_RUNS = Number(args['verify-runs']);
if (![N, SMALL, VERIFY_RUNS].every((n) => Number.isSafeInteger(n) && n > 0) || SMALL > N) {
  process.stderr.write(`measure-bundle: --links, --small and --verify-runs must be positive integers, --small ≤ --links\n${usage}`);
  process.exit(2);
}
if (!existsSync(join(REPO, 'dist/cli/main.js'))) {
  process.stderr.write('measure-bundle: dist/ is missing; run `npm run build` first (pop verify is measured as users run it)\n');
  process.exit(2);
}

const progress = new Progress();
const BATCH = 1000;
/** The service's V8 heap limit (--max-old-space-size) for the third stream: about twice what it holds live idle. */
const HEAP_CAP_MIB = 64;
const IN_FLIGHT = 2;
const PROCESS = 'order-to-cash';
const ORDER_TO_CASH = JSON.parse(readFileSync(join(REPO, 'schemas/examples/order-to-cash.json'), 'utf8')) as unknown;

// --- the code measured: a snapshot of the working tree ---

/**
 * The service and `pop verify` run from a copy of src/, migrations/, schemas/, dist/ and bin/ taken
 * at the start, so the whole run measures one version of the code even if the working tree changes
 * meanwhile (the service restarts between phases, and a changed migration would stop it).
 */
function snapshot(dir: string): string {
  for (const part of ['src', 'migrations', 'schemas', 'dist', 'bin', 'package.json', 'tsconfig.json']) cpSync(join(REPO, part), join(dir, part), { recursive: true });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

interface Service {
  url: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * `pop serve` (from the snapshot's src/, through tsx, as bench/ runs it) with every setting at its
 * default, and V8's --trace-gc in its log: the heap that is live after each major collection.
 */
async function startService(code: string, o: { databaseUrl: string; dataDir: string; adminKey: string; nodeFlags?: string[] }): Promise<Service> {
  const child = await startServiceProcess({ ...o, nodeFlags: ['--trace-gc', ...(o.nodeFlags ?? [])], repo: code, appendLog: true });
  return { url: child.url, pid: child.process.pid!, logFile: child.logFile, stop: () => child.stop() };
}

// --- the links: five steps of order-to-cash per map ---

type Party = 'customer' | 'retailer' | 'manufacturer' | 'delivery';
const STEPS: { step: string; author: Party; cosigners: Party[]; meta: Record<string, Json>; priv: Record<string, Json> }[] = [
  { step: 'order', author: 'customer', cosigners: [], meta: { currency: 'EUR', total: 129.9, lines: 2 }, priv: { name: 'Camille Martin', address: 'Rue de la Paix 1, Paris' } },
  { step: 'confirm', author: 'retailer', cosigners: [], meta: { promisedBy: '2026-12-01' }, priv: {} },
  { step: 'produce', author: 'manufacturer', cosigners: ['retailer'], meta: { batch: 'B-7781', units: 2 }, priv: { cost: 41.25 } },
  { step: 'ship', author: 'delivery', cosigners: [], meta: { carrier: 'ACME Freight', parcels: 1 }, priv: { trackingUrl: 'https://track.example/Z91' } },
  { step: 'deliver', author: 'delivery', cosigners: ['customer'], meta: { deliveredAt: '2026-12-02T10:00:00Z' }, priv: {} },
];

interface Batch {
  /** Maps of this batch: their ids and, after the batch is signed, their heads. */
  maps: { id: string; head?: string }[];
  step: number;
  /** The batch that must be accepted first (the previous step of the same maps), or -1. */
  after: number;
}

/** N links as batches: groups of up to 1,000 maps, one batch per step; pairs of groups interleave so two batches can be in flight. */
function plan(total: number, runId: string): Batch[] {
  const groups: { id: string; head?: string }[][] = [];
  const counts: number[][] = []; // per group, links per step
  for (let left = total, g = 0; left > 0; g++) {
    const maps = Math.min(BATCH, Math.ceil(left / STEPS.length));
    const perStep = STEPS.map((_, s) => Math.max(0, Math.min(maps, left - s * maps)));
    groups.push(Array.from({ length: maps }, (_, m) => ({ id: `m-${runId}-${g}-${m}` })));
    counts.push(perStep);
    left -= perStep.reduce((a, b) => a + b, 0);
  }
  const batches: Batch[] = [];
  const index = new Map<string, number>();
  for (let g = 0; g < groups.length; g += IN_FLIGHT) {
    for (let s = 0; s < STEPS.length; s++) {
      for (let h = g; h < Math.min(g + IN_FLIGHT, groups.length); h++) {
        const n = counts[h]![s]!;
        if (n === 0) continue;
        index.set(`${h}/${s}`, batches.length);
        batches.push({ maps: groups[h]!.slice(0, n), step: s, after: s === 0 ? -1 : index.get(`${h}/${s - 1}`)! });
      }
    }
  }
  return batches;
}

const random = (n: number) => new Uint8Array(randomBytes(n));

/** The batch's request body, signed now; records each map's new head. */
function signBatch(b: Batch, parties: Record<Party, Signer>): Buffer {
  const s = STEPS[b.step]!;
  const createdAt = new Date().toISOString();
  const links = b.maps.map((m) => {
    const { disclosures, digests } = createDisclosures(s.priv, random);
    const link = {
      v: 1,
      process: PROCESS,
      processVersion: 1,
      mapId: m.id,
      step: s.step,
      prev: m.head ? [m.head] : [],
      refs: [],
      meta: s.meta,
      tags: [],
      digests,
      author: parties[s.author].id,
      createdAt,
    };
    const hash = createHash('sha256').update(canonicalJson(link)).digest('hex');
    m.head = hash;
    const message = Buffer.from(`pop:link:v1:${hash}`);
    const signatures = [s.author, ...s.cosigners].map((p) => ({ signer: parties[p].id, keyId: parties[p].keyId, alg: 'ed25519', sig: sign(null, message, parties[p].privateKey).toString('hex') }));
    return { link, signatures, ...(disclosures.length ? { private: { disclosures: disclosures.map((d) => d.disclosure) } } : {}) };
  });
  return Buffer.from(JSON.stringify({ links }));
}

async function seed(http: Http, parties: Record<Party, Signer>, runId: string): Promise<{ seconds: number; batches: number }> {
  const batches = plan(N, runId);
  const done = batches.map(() => {
    let resolve!: () => void;
    const p = new Promise<void>((r) => (resolve = r));
    return { p, resolve };
  });
  let next = 0;
  let accepted = 0;
  progress.phase(`seeding ${N.toLocaleString('en')} links`, N, 'links');
  const t0 = performance.now();
  const worker = async () => {
    while (next < batches.length) {
      const i = next++;
      const b = batches[i]!;
      if (b.after >= 0) await done[b.after]!.p;
      const body = signBatch(b, parties);
      const r = await http.send('POST', '/v1/links/batch', body);
      if (r.status !== 201) throw new Error(`batch ${i} (${STEPS[b.step]!.step} ×${b.maps.length}): ${r.status} ${r.body.slice(0, 400)}`);
      accepted += b.maps.length;
      progress.update(accepted, `${(accepted / ((performance.now() - t0) / 1000)).toFixed(0)} links/s`);
      done[i]!.resolve();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - t0) / 1000;
  progress.end(`${accepted} links in ${seconds.toFixed(0)} s (${(accepted / seconds).toFixed(0)} links/s)`);
  return { seconds, batches: batches.length };
}

// --- memory of the service while it streams ---

const rssKiB = (pid: number): number | undefined => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
};

/** Samples the service's RSS every 100 ms (and at the start and the end) and its V8 heap (from /metrics) every 500 ms. */
function sampleMemory(pid: number, url: string) {
  const rss: number[] = [];
  const heap: number[] = [];
  const sample = () => {
    const kib = rssKiB(pid);
    if (kib !== undefined) rss.push(kib);
  };
  sample();
  const rssTimer = setInterval(sample, 100);
  let scraping = false;
  const heapTimer = setInterval(() => {
    if (scraping) return;
    scraping = true;
    fetch(`${url}/metrics`)
      .then((r) => r.text())
      .then((text) => {
        const m = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text);
        if (m) heap.push(Number(m[1]) / 1024);
      })
      .catch(() => {})
      .finally(() => (scraping = false));
  }, 500);
  return {
    stop: () => {
      sample();
      clearInterval(rssTimer);
      clearInterval(heapTimer);
      return { rss, heap };
    },
  };
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const max = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), -Infinity);
const mib = (kib: number) => kib / 1024;

interface Stream {
  links: number;
  bytes: number;
  seconds: number;
  samples: number;
  baselineRssMiB: number;
  peakRssMiB: number;
  growthMiB: number;
  baselineHeapMiB: number | null;
  peakHeapMiB: number | null;
  /** Major collections (mark-compact) while it streamed, and the most heap any of them left live. */
  majorGcs: number;
  liveAfterMajorGcMiB: number | null;
}

/** Mark-Compact lines of --trace-gc: "… Mark-Compact 105.4 (135.5) -> 31.2 (79.8) MB, …" (MB as V8 counts: MiB). */
function majorCollections(log: string): number[] {
  return [...log.matchAll(/Mark-Compact (?:\(reduce\) )?[\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/g)].map((m) => Number(m[1]));
}

async function measureStream(
  code: string,
  o: { databaseUrl: string; dataDir: string; adminKey: string; regulatorKey: string; warmMap: string; from: string; to: string; links: number; file: string; label: string; heapCapMiB?: number },
): Promise<Stream> {
  progress.phase(`starting the service (${o.label})`, 1);
  const nodeFlags = o.heapCapMiB ? [`--max-old-space-size=${o.heapCapMiB}`] : [];
  const svc = await startService(code, { databaseUrl: o.databaseUrl, dataDir: o.dataDir, adminKey: o.adminKey, nodeFlags });
  try {
    progress.end(svc.url);
    const pid = svc.pid;
    // Warm up: one map's bundle loads every code path of the route.
    const warm = await fetch(`${svc.url}/v1/bundles?${new URLSearchParams({ process: PROCESS, mapId: o.warmMap })}`, { headers: { authorization: `Bearer ${o.regulatorKey}` } });
    if (warm.status !== 200) throw new Error(`warm-up bundle: ${warm.status} ${(await warm.text()).slice(0, 300)}`);
    await warm.arrayBuffer();
    await new Promise((r) => setTimeout(r, 1000));
    const idle = sampleMemory(pid, svc.url);
    await new Promise((r) => setTimeout(r, 1500));
    const base = idle.stop();
    const logFrom = readFileSync(svc.logFile, 'utf8').length;
    const sampler = sampleMemory(pid, svc.url);
    progress.phase(`GET /v1/bundles, ${o.links.toLocaleString('en')} links`, 1);
    const d = await downloadBundle(svc.url, o.regulatorKey, { process: PROCESS, from: o.from, to: o.to }, o.file, o.links);
    const during = sampler.stop();
    const live = majorCollections(readFileSync(svc.logFile, 'utf8').slice(logFrom));
    const baselineRss = median(base.rss);
    const peakRss = max(during.rss);
    const s: Stream = {
      links: o.links,
      bytes: d.bytes,
      seconds: d.seconds,
      samples: during.rss.length,
      baselineRssMiB: mib(baselineRss),
      peakRssMiB: mib(peakRss),
      growthMiB: mib(peakRss - baselineRss),
      baselineHeapMiB: base.heap.length ? mib(median(base.heap)) : null,
      peakHeapMiB: during.heap.length ? mib(max(during.heap)) : null,
      majorGcs: live.length,
      liveAfterMajorGcMiB: live.length ? max(live) : null,
    };
    progress.end(
      `${(d.bytes / 1e6).toFixed(1)} MB in ${d.seconds.toFixed(1)} s; RSS ${s.baselineRssMiB.toFixed(0)} → peak ${s.peakRssMiB.toFixed(0)} MiB (+${s.growthMiB.toFixed(0)}); ` +
        `${s.majorGcs} major GCs, at most ${s.liveAfterMajorGcMiB?.toFixed(0) ?? '–'} MiB live after one`,
    );
    return s;
  } finally {
    await svc.stop();
  }
}

// --- pop verify from dist/ ---

const HAVE_TIME = existsSync('/usr/bin/time');

interface Run {
  code: number | null;
  wallSeconds: number;
  cpuSeconds: number | null;
  peakRssMiB: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/pop.js …` under /usr/bin/time (wall, CPU, peak RSS) when it exists, else RSS sampled every 100 ms. */
function pop(code: string, argv: string[], stdoutFile?: string): Promise<Run> {
  const POP_JS = join(code, 'bin/pop.js');
  const timeFile = join(tmpdir(), `pop-time-${randomBytes(4).toString('hex')}`);
  const cmd = HAVE_TIME ? ['/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, process.execPath, POP_JS, ...argv]] as const : [process.execPath, [POP_JS, ...argv]] as const;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd[0], [...cmd[1]], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    let peak = 0;
    const timer = HAVE_TIME ? undefined : setInterval(() => (peak = Math.max(peak, rssKiB(child.pid!) ?? 0)), 100);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      const wall = (performance.now() - t0) / 1000;
      const stdout = Buffer.concat(out).toString('utf8');
      if (stdoutFile) writeFileSync(stdoutFile, stdout);
      let cpu: number | null = null;
      let rss: number | null = peak ? mib(peak) : null;
      if (HAVE_TIME && existsSync(timeFile)) {
        const [, user, sys, maxKb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
        cpu = user! + sys!;
        rss = mib(maxKb!);
        rmSync(timeFile, { force: true });
      }
      resolve({ code, wallSeconds: wall, cpuSeconds: cpu, peakRssMiB: rss, stdout: stdoutFile ? '' : stdout, stderr });
    });
  });
}

interface Verify {
  links: number;
  runs: { wallSeconds: number; cpuSeconds: number | null; peakRssMiB: number | null; linksPerSec: number; linksPerSecAfterStart: number }[];
  best: { wallSeconds: number; linksPerSec: number; linksPerSecAfterStart: number };
}

async function measureVerify(code: string, file: string, expected: number, notaryKey: string, startup: number): Promise<Verify> {
  const runs: Verify['runs'] = [];
  for (let i = 0; i < VERIFY_RUNS; i++) {
    progress.phase(`pop verify ${expected.toLocaleString('en')} links (run ${i + 1}/${VERIFY_RUNS})`, 1);
    const report = `${file}.report.json`;
    const r = await pop(code, ['verify', '--json', '--notary-key', notaryKey, file], report);
    const parsed = (() => {
      try {
        return JSON.parse(readFileSync(report, 'utf8')) as { ok?: boolean; links?: number; verified?: number; failures?: { code: string; message: string }[] };
      } catch {
        return undefined;
      }
    })();
    if (r.code !== 0 || parsed?.ok !== true || parsed.links !== expected || parsed.verified !== expected) {
      throw new Error(`pop verify ${file}: exit ${r.code}, ok ${parsed?.ok}, links ${parsed?.links} (expected ${expected}), first failure ${JSON.stringify(parsed?.failures?.[0])}; ${r.stderr.slice(0, 300)}`);
    }
    const run = {
      wallSeconds: r.wallSeconds,
      cpuSeconds: r.cpuSeconds,
      peakRssMiB: r.peakRssMiB,
      linksPerSec: expected / r.wallSeconds,
      linksPerSecAfterStart: expected / Math.max(1e-3, r.wallSeconds - startup),
    };
    runs.push(run);
    progress.end(`ok, ${run.wallSeconds.toFixed(1)} s, ${run.linksPerSec.toFixed(0)} links/s, CPU ${run.cpuSeconds?.toFixed(1) ?? '?'} s, peak RSS ${run.peakRssMiB?.toFixed(0) ?? '?'} MiB`);
  }
  const best = runs.reduce((a, b) => (b.wallSeconds < a.wallSeconds ? b : a));
  return { links: expected, runs, best: { wallSeconds: best.wallSeconds, linksPerSec: best.linksPerSec, linksPerSecAfterStart: best.linksPerSecAfterStart } };
}

// --- the run ---

const iso = (ms: number) => new Date(ms).toISOString();
const load = () => loadavg().map((l) => Number(l.toFixed(2)));

async function main(): Promise<void> {
  const started = performance.now();
  const loadAtStart = load();
  const dbs = await openDatabases((m) => progress.note(m));
  const work = mkdtempSync(join(tmpdir(), 'pop-measure-bundle-'));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  const code = snapshot(join(work, 'code'));
  const adminKey = randomBytes(32).toString('hex');
  let databaseUrl: string | undefined;
  try {
    databaseUrl = dbs.source === 'DATABASE_URL' ? (await dbs.fresh('bundle')).url : dbs.url;
    progress.note(`database: ${dbs.source}; files in ${work}`);
    const runId = randomBytes(3).toString('hex');
    const parties = {
      customer: newSigner(`customer-${runId}`),
      retailer: newSigner(`retailer-${runId}`),
      manufacturer: newSigner(`manufacturer-${runId}`),
      delivery: newSigner(`delivery-${runId}`),
    } satisfies Record<Party, Signer>;

    progress.phase('starting the service (seeding)', 1);
    const svc = await startService(code, { databaseUrl, dataDir, adminKey });
    progress.end(svc.url);
    let regulatorKey: string;
    let notaryKey: string;
    let seeding: { seconds: number; batches: number };
    try {
      const admin = new Http(svc.url, adminKey, IN_FLIGHT);
      const registered = await admin.send('POST', '/v1/processes', JSON.stringify(ORDER_TO_CASH));
      if (registered.status !== 201) throw new Error(`registering ${PROCESS}: ${registered.status} ${registered.body}`);
      for (const [role, p] of Object.entries(parties)) {
        await admin.json('POST', '/v1/participants', { id: p.id, name: `Measured ${role}`, roles: [role], keys: [{ keyId: p.keyId, alg: 'ed25519', publicKey: p.publicKey }] });
      }
      regulatorKey = (await admin.json<{ secret: string }>('POST', '/v1/api-keys', { role: 'regulator', label: 'measure-bundle' })).secret;
      notaryKey = (await admin.json<{ publicKey: string }>('GET', '/v1/notary')).publicKey;
      seeding = await seed(admin, parties, runId);
      admin.close();
      await waitUntilSealed(progress, databaseUrl);
    } finally {
      await svc.stop();
    }

    // The time ranges: all N links, and the first SMALL (by acceptance time, whole milliseconds).
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    let ranges: { from: string; toSmall: string; toAll: string; small: number; all: number; warmMap: string };
    try {
      const ms = async (sql: string, params: unknown[] = []) => Number((await db.query<{ ms: string }>(sql, params)).rows[0]!.ms);
      const first = Math.floor(await ms('SELECT extract(epoch FROM min(accepted_ts)) * 1000 AS ms FROM links WHERE process = $1', [PROCESS]));
      const last = Math.floor(await ms('SELECT extract(epoch FROM max(accepted_ts)) * 1000 AS ms FROM links WHERE process = $1', [PROCESS]));
      const cut = SMALL < N ? Math.floor(await ms('SELECT extract(epoch FROM accepted_ts) * 1000 AS ms FROM links WHERE process = $1 ORDER BY accepted_ts OFFSET $2 LIMIT 1', [PROCESS, SMALL])) : last + 1;
      const count = async (from: number, to: number) =>
        Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM links l JOIN link_seals s ON s.link_hash = l.hash WHERE l.process = $1 AND l.accepted_ts >= $2 AND l.accepted_ts < $3', [PROCESS, iso(from), iso(to)])).rows[0]!.n);
      const warmMap = (await db.query<{ map_id: string }>('SELECT map_id FROM links WHERE process = $1 ORDER BY accepted_ts LIMIT 1', [PROCESS])).rows[0]!.map_id;
      ranges = { from: iso(first), toSmall: iso(cut), toAll: iso(last + 1), small: await count(first, cut), all: await count(first, last + 1), warmMap };
    } finally {
      await db.end();
    }
    if (ranges.all !== N) throw new Error(`the time range holds ${ranges.all} sealed links, expected ${N}`);
    progress.note(`ranges: ${ranges.small} links from ${ranges.from} to ${ranges.toSmall}; ${ranges.all} to ${ranges.toAll}`);

    const common = { databaseUrl, dataDir, adminKey, regulatorKey, warmMap: ranges.warmMap, from: ranges.from };
    const smallFile = join(work, `bundle-${ranges.small}.json`);
    const allFile = join(work, `bundle-${N}.json`);
    const streamSmall = await measureStream(code, { ...common, to: ranges.toSmall, links: ranges.small, file: smallFile, label: `${ranges.small} links` });
    const streamAll = await measureStream(code, { ...common, to: ranges.toAll, links: N, file: allFile, label: `${N} links` });
    // The proof that nothing grows with the bundle: the same N links from a service whose V8 heap may
    // not exceed HEAP_CAP_MIB (a bundle held in memory would end it with "heap out of memory"), and
    // the same bytes.
    const cappedFile = join(work, `bundle-${N}-capped.json`);
    const streamCapped = await measureStream(code, { ...common, to: ranges.toAll, links: N, file: cappedFile, label: `${N} links, heap ≤ ${HEAP_CAP_MIB} MiB`, heapCapMiB: HEAP_CAP_MIB });
    const sameBytes = (await sha256File(cappedFile)) === (await sha256File(allFile));
    if (!sameBytes) throw new Error('the bundle served under a capped heap differs from the one served without');
    rmSync(cappedFile, { force: true });

    progress.phase('pop --version from dist/ (best of 5)', 5);
    const versions: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await pop(code, ['--version']);
      if (r.code !== 0) throw new Error(`pop --version: exit ${r.code}: ${r.stderr}`);
      versions.push(r.wallSeconds);
      progress.update(i + 1);
    }
    const startup = Math.min(...versions);
    progress.end(`${(startup * 1000).toFixed(0)} ms`);
    const verifySmall = await measureVerify(code, smallFile, ranges.small, notaryKey, startup);
    const verifyAll = await measureVerify(code, allFile, N, notaryKey, startup);

    const report = {
      command: `node --import tsx scripts/measure-bundle.ts --links ${N} --small ${SMALL}`,
      revision: (() => {
        try {
          const git = (a: string[]) => execFileSync('git', a, { cwd: REPO, encoding: 'utf8' }).trim();
          return { commit: git(['rev-parse', '--short', 'HEAD']), uncommittedChanges: git(['status', '--porcelain', '--untracked-files=no', '--', 'src', 'migrations', 'schemas']) !== '' };
        } catch {
          return null;
        }
      })(),
      machine: { cores: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, database: dbs.source },
      loadAverage: { start: loadAtStart, end: load() },
      seconds: (performance.now() - started) / 1000,
      seeding: { links: N, ...seeding, linksPerSec: N / seeding.seconds },
      ranges,
      stream: {
        small: streamSmall,
        all: streamAll,
        capped: { heapCapMiB: HEAP_CAP_MIB, sameBytes, ...streamCapped },
        peakGrowthRatio: streamAll.growthMiB / Math.max(streamSmall.growthMiB, 1e-9),
        linksRatio: N / ranges.small,
      },
      popVersionSeconds: { runs: versions, best: startup },
      verify: { small: verifySmall, all: verifyAll },
      goal: { linksPerSec: 3000, met: verifyAll.best.linksPerSec >= 3000 },
    };
    if (args.out) writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(table(report) + '\n');
  } finally {
    if (args.keep && !dbs.source.startsWith('the embedded')) progress.note(`kept ${work} and the database ${databaseUrl ?? '(none)'}`);
    else {
      await dbs.close();
      if (args.keep) progress.note(`kept ${work}`);
    }
    if (!args.keep) rmSync(work, { recursive: true, force: true });
  }
}

function table(r: {
  command: string;
  loadAverage: { start: number[]; end: number[] };
  seeding: { linksPerSec: number; seconds: number };
  stream: { small: Stream; all: Stream; capped: Stream & { heapCapMiB: number }; peakGrowthRatio: number; linksRatio: number };
  popVersionSeconds: { best: number };
  verify: { small: Verify; all: Verify };
  goal: { met: boolean };
}): string {
  const n = (x: number, d = 0) => x.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
  const s = (x: Stream) =>
    `| GET /v1/bundles, ${n(x.links)} links | ${n(x.bytes / 1e6, 1)} MB in ${n(x.seconds, 1)} s | RSS ${n(x.baselineRssMiB)} → ${n(x.peakRssMiB)} MiB (**+${n(x.growthMiB)} MiB**); ` +
    `${x.majorGcs} major GCs, live after them ≤ ${x.liveAfterMajorGcMiB === null ? '–' : `${n(x.liveAfterMajorGcMiB)} MiB`}; heap sampled ≤ ${x.peakHeapMiB === null ? '?' : `${n(x.peakHeapMiB)} MiB`} |`;
  const v = (x: Verify) =>
    `| pop verify, ${n(x.links)} links | ${x.runs.map((r) => `${n(r.wallSeconds, 1)} s`).join(', ')}: best **${n(x.best.linksPerSec)} links/s** (${n(x.best.linksPerSecAfterStart)} after start-up) | CPU ${x.runs.map((r) => (r.cpuSeconds === null ? '?' : `${n(r.cpuSeconds, 1)} s`)).join(', ')}; peak RSS ${n(max(x.runs.map((r) => r.peakRssMiB ?? NaN)))} MiB |`;
  return [
    r.command,
    `load average ${r.loadAverage.start.join(' ')} at the start, ${r.loadAverage.end.join(' ')} at the end; seeding ${n(r.seeding.linksPerSec)} links/s (${n(r.seeding.seconds)} s)`,
    '',
    '| measured | time | memory |',
    '|---|---|---|',
    s(r.stream.small),
    s(r.stream.all),
    s(r.stream.capped).replace('| GET /v1/bundles,', `| same bytes, the service's heap capped at ${r.stream.capped.heapCapMiB} MiB,`),
    `| peak RSS growth, ${n(r.stream.all.links)} vs ${n(r.stream.small.links)} links | ${n(r.stream.linksRatio, 1)}× the links | **${n(r.stream.peakGrowthRatio, 2)}×** the growth |`,
    `| pop --version (dist/, best of 5) | ${n(r.popVersionSeconds.best * 1000)} ms | |`,
    v(r.verify.small),
    v(r.verify.all),
    '',
    `pop verify ≥ 3,000 links/s on ${n(r.verify.all.links)} links (whole command): ${r.goal.met ? 'met' : 'NOT met'}`,
  ].join('\n');
}

main().catch((e: unknown) => {
  progress.end();
  process.stderr.write(`measure-bundle: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});

// `npm run soak -- --minutes N`: a steady load below saturation for N minutes, to show that the
// service's memory stays flat (issue 9). The service runs as `pop serve` with default settings in a
// child process, on DATABASE_URL if set, else on a fresh database on TEST_DATABASE_URL's server
// (dropped afterwards), else on the embedded PostgreSQL in a temporary directory (bench/database.ts).
// The load is an open loop at a fixed rate (--rate requests/s): single appends, 20-link batches,
// proof fetches, map bundles and link reads, plus --sse subscribers to /v1/events. Every --every
// seconds it prints throughput, p99 latency (from each request's scheduled time, so a stall shows),
// errors, and the service's own heap and RSS from its /metrics (prom-client's default process
// metrics, scraped every 2 s; the heap figure is the window's lowest, the floor under the garbage
// collector's sawtooth). At the end it fits a least-squares line to heap and RSS over the second
// half and says whether memory is flat (both slopes under --max-slope MB/min); --out writes it all
// as JSON. Exit 0 when flat and no request failed with a 5xx or a lost connection, else 1.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openDatabases } from '../bench/database.js';
import { Http } from '../bench/http.js';
import { signedOrder } from '../bench/links.js';
import { percentiles } from '../bench/load.js';
import { type Child, startServiceProcess } from '../bench/processes.js';
import { setUp } from '../bench/service-phases.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '30' },
    sse: { type: 'string', default: '4' },
    every: { type: 'string', default: '10' },
    'max-slope': { type: 'string', default: '1' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (args.help) {
  process.stdout.write('npm run soak -- [--minutes 10] [--rate 30] [--sse 4] [--every 10] [--max-slope 1] [--out FILE]\n');
  process.exit(0);
}
const num = (name: string, v: string, min: number) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} ${v}: expected a number ≥ ${min}`);
  return n;
};
const MINUTES = num('minutes', args.minutes!, 0.5);
const RATE = num('rate', args.rate!, 1);
const SSE = num('sse', args.sse!, 0);
const EVERY_S = num('every', args.every!, 2);
const MAX_SLOPE = num('max-slope', args['max-slope']!, 0);
const SCRAPE_MS = 2_000;
const MAX_IN_FLIGHT = 500; // beyond this the service is saturated: requests are counted as skipped
const MB = 1024 * 1024;
const log = (msg: string) => process.stderr.write(`${msg}\n`);

// ---------------------------------------------------------------------------------------------

interface Window {
  latencies: number[];
  requests: number;
  links: number;
  errors: number;
  heap: number[];
  rss: number[];
  events: number;
}
const newWindow = (): Window => ({ latencies: [], requests: 0, links: 0, errors: 0, heap: [], rss: [], events: 0 });

interface Sample {
  t: number; // seconds since the start
  requestsPerSec: number;
  linksPerSec: number;
  p99Ms: number;
  errors: number;
  heapMB: number; // the window's lowest heap-used (after the collector)
  rssMB: number; // the window's mean RSS
  sseEvents: number;
}

/** Least-squares slope of y against x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** prom-client's text format: the value of an unlabelled metric. */
function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'pop-soak-'));
  const dbs = await openDatabases(log);
  let service: Child | undefined;
  const cleanUp = async () => {
    await service?.stop().catch(() => {});
    await dbs.close().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  try {
    const adminKey = randomBytes(24).toString('hex');
    service = await startServiceProcess({ databaseUrl: dbs.url, dataDir: work, adminKey });
    const setup = await setUp(service.url, adminKey);
    const writer = new Http(service.url, await setup.participantKey(), 64);
    const reader = new Http(service.url, setup.auditorKey, 64);
    const scraper = new Http(service.url, undefined, 1);
    log(`soak: ${MINUTES} min at ${RATE} requests/s with ${SSE} event subscribers on ${service.url} (${dbs.source}); load average ${loadavg()[0]!.toFixed(2)} on ${cpus().length} cores`);

    // Recently acknowledged links (hash, map), for proofs, reads and bundles: a bounded ring.
    const recent: { hash: string; mapId: string; at: number }[] = [];
    const remember = (hash: string, mapId: string) => {
      recent.push({ hash, mapId, at: Date.now() });
      if (recent.length > 5_000) recent.splice(0, recent.length - 5_000);
    };
    const sealedOne = () => {
      const old = recent.filter((r) => Date.now() - r.at > 3_000); // sealed by now at the default 1 s interval
      return old.length ? old[randomInt(old.length)] : undefined;
    };

    let win = newWindow();
    const totals = { requests: 0, links: 0, errors: {} as Record<string, number>, skipped: 0, events: 0, sseReconnects: 0 };
    const allLatencies: number[] = [];
    const fail = (kind: string) => {
      totals.errors[kind] = (totals.errors[kind] ?? 0) + 1;
      win.errors++;
    };
    let serial = 0;
    const runId = randomBytes(3).toString('hex');

    /** One request of the mix, scheduled at `at` (performance.now()). */
    const one = async (at: number): Promise<void> => {
      const roll = Math.random();
      const pick = sealedOne();
      let status: number;
      let links = 0;
      try {
        if (roll < 0.45 || !pick) {
          const l = signedOrder(setup.signer, `soak-${runId}-${++serial}`, new Date().toISOString());
          status = (await writer.send('POST', '/v1/links', JSON.stringify(l.submission))).status;
          if (status === 201) {
            remember(l.hash, l.submission.link['mapId'] as string);
            links = 1;
          }
        } else if (roll < 0.55) {
          const now = new Date().toISOString();
          const batch = Array.from({ length: 20 }, () => signedOrder(setup.signer, `soak-${runId}-${++serial}`, now));
          status = (await writer.send('POST', '/v1/links/batch', JSON.stringify({ links: batch.map((l) => l.submission) }))).status;
          if (status === 201) {
            for (const l of batch) remember(l.hash, l.submission.link['mapId'] as string);
            links = batch.length;
          }
        } else if (roll < 0.8) {
          status = (await reader.send('GET', `/v1/links/${pick.hash}/proof`)).status;
        } else if (roll < 0.9) {
          status = (await reader.send('GET', `/v1/bundles?process=order-to-cash&mapId=${encodeURIComponent(pick.mapId)}`)).status;
        } else {
          status = (await reader.send('GET', `/v1/links/${pick.hash}`)).status;
        }
      } catch (e) {
        fail(`network ${(e as { code?: string }).code ?? (e as Error).name}`);
        return;
      }
      const ms = performance.now() - at;
      win.requests++;
      totals.requests++;
      win.links += links;
      totals.links += links;
      if (status >= 200 && status < 300) {
        win.latencies.push(ms);
        allLatencies.push(ms);
      } else fail(String(status));
    };

    // SSE subscribers: count events; reconnect if the stream ends.
    const sseAgent = new Agent({ keepAlive: false });
    const subscribers: { destroy(): void }[] = [];
    let stopping = false;
    const subscribe = (i: number) => {
      const url = new URL('/v1/events', service!.url);
      const req = get(url, { agent: sseAgent, headers: { authorization: `Bearer ${setup.auditorKey}`, accept: 'text/event-stream' } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const n = chunk.match(/^event: /gm)?.length ?? 0;
          win.events += n;
          totals.events += n;
        });
        res.on('end', () => reconnect(i));
        res.on('error', () => {});
      });
      req.on('error', () => reconnect(i));
      subscribers[i] = req;
    };
    const reconnect = (i: number) => {
      if (stopping) return;
      totals.sseReconnects++;
      setTimeout(() => subscribe(i), 1_000);
    };
    for (let i = 0; i < SSE; i++) subscribe(i);

    // The open loop, the scrapes, and the reports.
    const samples: Sample[] = [];
    const t0 = performance.now();
    const end = t0 + MINUTES * 60_000;
    let sent = 0;
    let inFlight = 0;
    const pending = new Set<Promise<void>>();
    const scrape = async () => {
      try {
        const text = (await scraper.send('GET', '/metrics')).body;
        const heap = metric(text, 'nodejs_heap_size_used_bytes');
        const rss = metric(text, 'process_resident_memory_bytes');
        if (heap !== undefined) win.heap.push(heap / MB);
        if (rss !== undefined) win.rss.push(rss / MB);
      } catch {
        fail('metrics scrape');
      }
    };
    const report = () => {
      const w = win;
      win = newWindow();
      const t = Math.round((performance.now() - t0) / 1000);
      const s: Sample = {
        t,
        requestsPerSec: w.requests / EVERY_S,
        linksPerSec: w.links / EVERY_S,
        p99Ms: percentiles(w.latencies).p99,
        errors: w.errors,
        heapMB: w.heap.length ? Math.min(...w.heap) : NaN,
        rssMB: w.rss.length ? w.rss.reduce((a, b) => a + b, 0) / w.rss.length : NaN,
        sseEvents: w.events,
      };
      samples.push(s);
      log(
        `t=${String(t).padStart(5)} s  ${s.requestsPerSec.toFixed(1).padStart(6)} req/s  ${s.linksPerSec.toFixed(0).padStart(5)} links/s  ` +
          `p99 ${s.p99Ms.toFixed(0).padStart(5)} ms  errors ${String(s.errors).padStart(3)}  heap ${s.heapMB.toFixed(1).padStart(6)} MB  ` +
          `rss ${s.rssMB.toFixed(1).padStart(6)} MB  sse events ${s.sseEvents}`,
      );
    };
    const scrapeTimer = setInterval(() => void scrape(), SCRAPE_MS);
    const reportTimer = setInterval(report, EVERY_S * 1000);
    await scrape();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        while (t0 + (sent * 1000) / RATE <= Math.min(now, end)) {
          const at = t0 + (sent * 1000) / RATE;
          sent++;
          if (inFlight >= MAX_IN_FLIGHT) {
            totals.skipped++;
            continue;
          }
          inFlight++;
          const p = one(at).finally(() => {
            inFlight--;
            pending.delete(p);
          });
          pending.add(p);
        }
        if (now >= end) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    await Promise.all(pending);
    clearInterval(scrapeTimer);
    clearInterval(reportTimer);
    stopping = true;
    for (const s of subscribers) s.destroy();
    for (const h of [writer, reader, scraper, setup.admin]) h.close();

    // Memory over the second half: a least-squares line through the window samples.
    const half = samples.filter((s) => s.t >= (MINUTES * 60) / 2 && Number.isFinite(s.heapMB));
    const minutes = half.map((s) => s.t / 60);
    const heapSlope = slope(minutes, half.map((s) => s.heapMB));
    const rssSlope = slope(minutes, half.map((s) => s.rssMB));
    const flat = Math.max(heapSlope, rssSlope) < MAX_SLOPE;
    const serverErrors = Object.entries(totals.errors).filter(([k]) => /^5|^network/.test(k)).reduce((n, [, c]) => n + c, 0);
    const summary = {
      minutes: MINUTES,
      rate: RATE,
      sseSubscribers: SSE,
      database: dbs.source,
      loadAverageAtEnd: Number(loadavg()[0]!.toFixed(2)),
      requests: totals.requests,
      links: totals.links,
      requestsPerSec: totals.requests / (MINUTES * 60),
      linksPerSec: totals.links / (MINUTES * 60),
      latencyMs: percentiles(allLatencies),
      errors: totals.errors,
      skippedAtSaturation: totals.skipped,
      sseEvents: totals.events,
      sseReconnects: totals.sseReconnects,
      heapSlopeMBPerMin: heapSlope,
      rssSlopeMBPerMin: rssSlope,
      maxSlopeMBPerMin: MAX_SLOPE,
      flat,
    };
    log(
      `soak: ${totals.requests} requests (${summary.requestsPerSec.toFixed(1)}/s), ${totals.links} links, p99 ${summary.latencyMs.p99.toFixed(0)} ms, ` +
        `errors ${JSON.stringify(totals.errors)}, ${totals.skipped} skipped, ${totals.events} events to ${SSE} subscribers (${totals.sseReconnects} reconnects)`,
    );
    log(
      `memory over the second half: heap ${heapSlope.toFixed(3)} MB/min, RSS ${rssSlope.toFixed(3)} MB/min → ` +
        (flat ? `flat (both under ${MAX_SLOPE} MB/min)` : `NOT flat (limit ${MAX_SLOPE} MB/min)`),
    );
    if (args.out) writeFileSync(args.out, JSON.stringify({ summary, samples }, null, 2) + '\n');
    process.exitCode = flat && serverErrors === 0 ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

await main();

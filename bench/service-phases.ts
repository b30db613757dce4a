// The phases that run against live servers: the ceiling route, single appends at saturation, single
// appends at half the ceiling (latency and time to seal), batches, proof fetches and the bundle.
// Every POST carries a link signed before its phase's clock starts and never sent before.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Http } from './http.js';
import { type SignedLink, type Signer, newSigner, signOrders, singleBodies } from './links.js';
import { type Percentiles, closedLoop, count, openLoop, percentiles } from './load.js';
import { RawHttp } from './raw-http.js';
import { type CpuShares, meterCpu } from './cpu.js';
import { type ServiceTail, scrapeMetrics, serviceTail } from './service-metrics.js';
import type { Progress } from './progress.js';

const ORDER_TO_CASH = JSON.parse(readFileSync(new URL('../schemas/examples/order-to-cash.json', import.meta.url), 'utf8')) as unknown;

export const CONNECTIONS = 50;
/**
 * Saturation is each server's better run of these many connections: the bare route is bound by its
 * one thread from 50 on, while the service, whose requests pass a worker thread and a group commit,
 * left half a core idle at 50 and needed ≈ 100 to reach its own limit (docs/performance.md).
 */
export const SATURATION_CONNECTIONS = [50, 100] as const;
export const BATCH_SIZE = 1000;
export const BATCH_CONCURRENCY = 2;

export interface Durations {
  warmS: number;
  saturationS: number;
  latencyS: number;
  batches: number;
  warmBatches: number;
  proofS: number;
}

export const durations = (quick: boolean): Durations =>
  quick
    ? { warmS: 2, saturationS: 4, latencyS: 5, batches: 4, warmBatches: 1, proofS: 4 }
    : { warmS: 4, saturationS: 15, latencyS: 15, batches: 20, warmBatches: 2, proofS: 15 };

export interface Setup {
  runId: string;
  signer: Signer;
  admin: Http;
  /** A fresh participant API key per phase (the default rate limit is per key, 120,000/min). */
  participantKey(): Promise<string>;
  /** A fresh auditor API key (proof fetches at saturation can use up one key's 120,000 a minute). */
  newAuditorKey(): Promise<string>;
  auditorKey: string;
  notaryKey: string;
}

/** Registers the order-to-cash process (if absent), a customer with an Ed25519 key, and keys. */
export async function setUp(url: string, adminKey: string): Promise<Setup> {
  const runId = randomBytes(4).toString('hex');
  const admin = new Http(url, adminKey, 4);
  const registered = await admin.send('POST', '/v1/processes', JSON.stringify(ORDER_TO_CASH));
  if (registered.status !== 201 && registered.status !== 409) throw new Error(`registering order-to-cash: ${registered.status} ${registered.body}`);
  const signer = newSigner(`bench-customer-${runId}`);
  await admin.json('POST', '/v1/participants', {
    id: signer.id,
    name: 'Benchmark customer',
    roles: ['customer'],
    keys: [{ keyId: signer.keyId, alg: 'ed25519', publicKey: signer.publicKey }],
  });
  const secret = async (body: unknown) => (await admin.json<{ secret: string }>('POST', '/v1/api-keys', body)).secret;
  return {
    runId,
    signer,
    admin,
    participantKey: () => secret({ role: 'participant', participantId: signer.id, label: 'benchmark' }),
    newAuditorKey: () => secret({ role: 'auditor', label: 'benchmark' }),
    auditorKey: await secret({ role: 'auditor', label: 'benchmark' }),
    notaryKey: (await admin.json<{ publicKey: string }>('GET', '/v1/notary')).publicKey,
  };
}

const jsonHeaders = (apiKey?: string): Record<string, string> => ({ 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) });

async function presign(progress: Progress, signer: Signer, label: string, n: number): Promise<SignedLink[]> {
  progress.phase(`pre-signing ${label}`, n, 'links');
  const links = await signOrders(signer, label, n, (done) => progress.update(done));
  progress.end(`${n} links`);
  return links;
}

/** Monotonic microseconds (CLOCK_MONOTONIC, the clock of V8's CPU profiles on Linux). */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

export interface Window {
  startUs: number;
  endUs: number;
}

export interface Saturation {
  perSec: number;
  created: number;
  seconds: number;
  statuses: Record<string, number>;
  errors: number;
  latency: Percentiles;
  warmPerSec: number;
  /** Links the measured run accepted (201), by hash. */
  hashes: string[];
  window: Window;
  /** Cores used during the measured run (`servicePid`: whose process is the server's). */
  cpu: CpuShares;
  connections: number;
}

/** Closed-loop saturation of a single-link POST: a warm-up run, then a measured run. */
export async function saturate(progress: Progress, o: { label: string; url: string; path: string; signer: Signer; apiKey?: string; d: Durations; servicePid?: number; connections?: number }): Promise<Saturation> {
  const headers = jsonHeaders(o.apiKey);
  const connections = o.connections ?? CONNECTIONS;
  const warmLinks = await presign(progress, o.signer, `${o.label}-warm`, 3000 * o.d.warmS + connections * 2 + 1);
  // One request alone first, as a running service has seen one: the service compiles a process
  // version's step schemas on first use without single-flight, so N concurrent first requests
  // compile it N times (measured: ~0.3 s each, on the event loop). docs/performance.md has it.
  const bodies = singleBodies(warmLinks);
  const prime = new Http(o.url, o.apiKey, 1);
  const first = await prime.send('POST', o.path, bodies.pop());
  prime.close();
  if (first.status !== 201) throw new Error(`${o.label}: the first request answered ${first.status} ${first.body.slice(0, 300)}`);
  progress.phase(`${o.label}: warm-up`, o.d.warmS, 's');
  const warm = await closedLoop({ url: o.url, connections, seconds: o.d.warmS, headers, method: 'POST', path: o.path, bodies, onTick: (t) => progress.update(t) });
  const warmPerSec = count(warm, 201) / warm.seconds;
  progress.end(`${warmPerSec.toFixed(0)} /s`);
  // Enough links for 1.6× the warm-up rate (at least 500/s) over the measured run.
  const links = await presign(progress, o.signer, o.label, Math.ceil(Math.max(warmPerSec, 500) * o.d.saturationS * 1.6) + connections * 2);
  progress.phase(`${o.label}: measuring`, o.d.saturationS, 's');
  const startUs = monotonicUs();
  const cpu = meterCpu(o.servicePid);
  const r = await closedLoop({
    url: o.url,
    connections,
    seconds: o.d.saturationS,
    headers,
    method: 'POST',
    path: o.path,
    bodies: singleBodies(links),
    onTick: (t, n) => progress.update(t, `${(n / Math.max(t, 0.001)).toFixed(0)} /s`),
  });
  const window = { startUs, endUs: monotonicUs() };
  const cores = cpu();
  const created = count(r, 201);
  progress.end(`${(created / r.seconds).toFixed(0)} /s`);
  return { perSec: created / r.seconds, created, seconds: r.seconds, statuses: r.statuses, errors: r.errors, latency: r.latency, warmPerSec, hashes: links.slice(0, r.used).map((l) => l.hash), window, cpu: cores, connections };
}

/** saturate() at each of SATURATION_CONNECTIONS; the run with the most answers a second, and every rate. */
export async function saturateBest(progress: Progress, o: Parameters<typeof saturate>[1]): Promise<Saturation & { perSecByConnections: Record<number, number> }> {
  let best: Saturation | undefined;
  const perSecByConnections: Record<number, number> = {};
  for (const connections of SATURATION_CONNECTIONS) {
    const r = await saturate(progress, { ...o, label: `${o.label}-${connections}c`, connections }); // the label names maps: no spaces
    perSecByConnections[connections] = r.perSec;
    if (!best || r.perSec > best.perSec) best = r;
  }
  return { ...best!, perSecByConnections };
}

/** Watches the blocks table and notes when each new block became visible (every 20 ms). */
class SealWatcher {
  readonly seenAt = new Map<number, number>();
  #client: pg.Client;
  #last = -1;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(url: string) {
    this.#client = new pg.Client({ connectionString: url });
    this.#client.on('error', () => {});
  }

  async start(): Promise<void> {
    await this.#client.connect();
    const { rows } = await this.#client.query<{ h: string | null }>('SELECT max(height) AS h FROM blocks');
    this.#last = rows[0]?.h === null || rows[0]?.h === undefined ? -1 : Number(rows[0].h);
    this.#timer = setInterval(() => void this.#poll(), 20);
  }

  async #poll(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const { rows } = await this.#client.query<{ height: string }>('SELECT height FROM blocks WHERE height > $1 ORDER BY height', [this.#last]);
      const now = Date.now();
      for (const r of rows) {
        this.seenAt.set(Number(r.height), now);
        this.#last = Math.max(this.#last, Number(r.height));
      }
    } catch {
      // a missed poll only delays a sighting by 20 ms; a lost connection ends the phase anyway
    } finally {
      this.#busy = false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 5));
    await this.#client.end();
  }
}

/** An open loop's outcome: what was offered and answered, the latency of the answers, the cores used. */
export interface OpenLoopLatency {
  offeredPerSec: number;
  seconds: number;
  sent: number;
  statuses: Record<string, number>;
  errors: number;
  latency: Percentiles;
  /** Cores used while the load was offered (the unmeasured first second included). */
  cpu: CpuShares;
}

export interface Latency extends OpenLoopLatency {
  seal: Percentiles & { links: number; blocks: number };
  /** What the service's /metrics saw meanwhile (the unmeasured first second included), or why it could not be read. */
  service: ServiceTail | string;
}

/** Seconds at the offered rate before the latency is measured (connections opened, JIT warm for this traffic). */
const LATENCY_WARM_S = 1;

/** A latency figure needs answers: a phase whose requests were all refused stops the run with their statuses. */
function requireAccepted(label: string, r: { statuses: Record<string, number>; errors: number; sent: number; firstCounted: number }): void {
  if ((r.statuses['201'] ?? 0) > 0) return;
  throw new Error(`${label}: none of ${r.sent - r.firstCounted} requests was accepted (statuses ${JSON.stringify(r.statuses)}, ${r.errors} connection errors)`);
}

/**
 * The bare route (bench/ceiling-server.ts) at a fixed offered rate, the same open loop and bodies as
 * the appends' latency: what the machine gives the irreducible work at that load, so the service's
 * tail can be read against it (the trust's cost in latency, not only in throughput).
 */
export async function bareLatencyAtRate(progress: Progress, o: { url: string; signer: Signer; rate: number; d: Durations; servicePid?: number }): Promise<OpenLoopLatency> {
  const links = await presign(progress, o.signer, 'ceiling-latency', Math.ceil(o.rate * (o.d.latencyS + LATENCY_WARM_S)) + 10);
  const http = new RawHttp(o.url);
  try {
    progress.phase(`ceiling at ${o.rate}/s (open loop, ${LATENCY_WARM_S} s not counted first)`, LATENCY_WARM_S + o.d.latencyS, 's');
    const cpu = meterCpu(o.servicePid);
    const r = await openLoop({ http, path: '/ceiling', bodies: singleBodies(links), rate: o.rate, seconds: o.d.latencyS, warmS: LATENCY_WARM_S, onTick: (t) => progress.update(t) });
    const cores = cpu();
    requireAccepted(`the bare route at ${o.rate}/s`, r);
    progress.end(`p99 ${r.latency.p99.toFixed(1)} ms`);
    return { offeredPerSec: o.rate, seconds: r.seconds, sent: r.sent - r.firstCounted, statuses: r.statuses, errors: r.errors, latency: r.latency, cpu: cores };
  } finally {
    http.close();
  }
}

/** Single appends at a fixed offered rate; latency per request and time from acceptance to sealed. */
export async function latencyAtRate(progress: Progress, o: { url: string; databaseUrl: string; signer: Signer; apiKey: string; rate: number; d: Durations; servicePid?: number }): Promise<Latency> {
  const links = await presign(progress, o.signer, 'latency', Math.ceil(o.rate * (o.d.latencyS + LATENCY_WARM_S)) + 10);
  const http = new RawHttp(o.url, o.apiKey);
  const watcher = new SealWatcher(o.databaseUrl);
  await watcher.start();
  try {
    progress.phase(`appends at ${o.rate}/s (open loop, ${LATENCY_WARM_S} s not counted first)`, LATENCY_WARM_S + o.d.latencyS, 's');
    const metricsBefore = await scrapeMetrics(o.url);
    const cpu = meterCpu(o.servicePid);
    const r = await openLoop({ http, path: '/v1/links', bodies: singleBodies(links), rate: o.rate, seconds: o.d.latencyS, warmS: LATENCY_WARM_S, onTick: (t) => progress.update(t) });
    const cores = cpu();
    const service = serviceTail(metricsBefore, await scrapeMetrics(o.url));
    requireAccepted(`appends at ${o.rate}/s`, r);
    progress.end(`p99 ${r.latency.p99.toFixed(1)} ms`);
    const hashes = links.slice(r.firstCounted, r.sent).map((l) => l.hash);
    progress.phase('waiting until they are sealed', hashes.length, 'links');
    const db = new pg.Client({ connectionString: o.databaseUrl });
    await db.connect();
    try {
      type Row = { height: string; accepted_ms: number };
      let rows: Row[] = [];
      const accepted = r.statuses['201'] ?? 0;
      const t0 = performance.now();
      for (;;) {
        rows = (await db.query<Row>(
          'SELECT s.height, extract(epoch FROM l.accepted_ts) * 1000 AS accepted_ms FROM links l JOIN link_seals s ON s.link_hash = l.hash WHERE l.hash = ANY($1)',
          [hashes],
        )).rows;
        progress.update(rows.length);
        if (rows.length >= accepted || performance.now() - t0 > 60_000) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      await new Promise((res) => setTimeout(res, 100)); // let the watcher see the last block
      const delays: number[] = [];
      const blocks = new Set<number>();
      for (const row of rows) {
        const seen = watcher.seenAt.get(Number(row.height));
        if (seen === undefined) continue;
        blocks.add(Number(row.height));
        delays.push(seen - Number(row.accepted_ms));
      }
      const seal = { ...percentiles(delays), links: delays.length, blocks: blocks.size };
      progress.end(`p99 ${seal.p99.toFixed(0)} ms over ${seal.blocks} blocks`);
      return { offeredPerSec: o.rate, seconds: r.seconds, sent: r.sent - r.firstCounted, statuses: r.statuses, errors: r.errors, latency: r.latency, seal, cpu: cores, service };
    } finally {
      await db.end();
    }
  } finally {
    await watcher.stop();
    http.close();
  }
}

export interface Batches {
  perSec: number;
  links: number;
  seconds: number;
  statuses: Record<string, number>;
  /** acceptedAt of each measured batch (they share one per batch), in order. */
  acceptedAts: string[];
  hashes: string[];
  window: Window;
}

/** POST /v1/links/batch with 1,000 links each, two requests in flight. */
export async function batchAppends(progress: Progress, o: { url: string; signer: Signer; apiKey: string; d: Durations }): Promise<Batches> {
  const total = (o.d.warmBatches + o.d.batches) * BATCH_SIZE;
  const links = await presign(progress, o.signer, 'batch', total);
  const bodies: Buffer[] = [];
  for (let i = 0; i < links.length; i += BATCH_SIZE) bodies.push(Buffer.from(JSON.stringify({ links: links.slice(i, i + BATCH_SIZE).map((l) => l.submission) })));
  const http = new Http(o.url, o.apiKey, BATCH_CONCURRENCY);
  try {
    progress.phase('batches: warm-up', o.d.warmBatches, 'batches');
    for (let i = 0; i < o.d.warmBatches; i++) {
      const r = await http.send('POST', '/v1/links/batch', bodies[i]);
      if (r.status !== 201) throw new Error(`warm-up batch: ${r.status} ${r.body.slice(0, 300)}`);
      progress.update(i + 1);
    }
    progress.end('');
    progress.phase('batches of 1,000: measuring', o.d.batches, 'batches');
    const statuses: Record<string, number> = {};
    const acceptedAts: string[] = [];
    const hashes: string[] = [];
    let next = o.d.warmBatches;
    let done = 0;
    let accepted = 0;
    const startUs = monotonicUs();
    const t0 = performance.now();
    const worker = async () => {
      while (next < bodies.length) {
        const i = next++;
        const r = await http.send('POST', '/v1/links/batch', bodies[i]);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 201) {
          accepted += BATCH_SIZE;
          acceptedAts.push((JSON.parse(r.body) as { items: { receipt: { acceptedAt: string } }[] }).items[0]!.receipt.acceptedAt);
          hashes.push(...links.slice(i * BATCH_SIZE, (i + 1) * BATCH_SIZE).map((l) => l.hash));
        }
        progress.update(++done, `${(accepted / ((performance.now() - t0) / 1000)).toFixed(0)} links/s`);
      }
    };
    await Promise.all(Array.from({ length: BATCH_CONCURRENCY }, worker));
    const seconds = (performance.now() - t0) / 1000;
    progress.end(`${(accepted / seconds).toFixed(0)} links/s`);
    return { perSec: accepted / seconds, links: accepted, seconds, statuses, acceptedAts: acceptedAts.sort(), hashes, window: { startUs, endUs: monotonicUs() } };
  } finally {
    http.close();
  }
}

/** Waits until the sealer has emptied the queue. */
export async function waitUntilSealed(progress: Progress, databaseUrl: string): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const first = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM unsealed_links')).rows[0]!.n);
    progress.phase('waiting for the sealer', first, 'links');
    const t0 = performance.now();
    for (;;) {
      const n = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM unsealed_links')).rows[0]!.n);
      progress.update(first - n);
      if (n === 0) break;
      if (performance.now() - t0 > 180_000) throw new Error(`${n} links still unsealed after 3 minutes`);
      await new Promise((r) => setTimeout(r, 200));
    }
    progress.end(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await db.end();
  }
}

export interface ProofFetch {
  window: Window;
  perSec: number;
  seconds: number;
  statuses: Record<string, number>;
  errors: number;
  latency: Percentiles;
}

/** GET /v1/links/:hash/proof for random sealed links, closed loop, as an auditor. */
export async function proofFetches(progress: Progress, o: { url: string; apiKey: string; warmKey?: string; hashes: string[]; d: Durations }): Promise<ProofFetch> {
  const headers = { authorization: `Bearer ${o.apiKey}` };
  const path = () => `/v1/links/${o.hashes[Math.floor(Math.random() * o.hashes.length)]}/proof`;
  progress.phase('proofs: warm-up', o.d.warmS, 's');
  // Its own key, when given: a key's rate limit (120,000 a minute) is per minute, warm-up included.
  const warm = { authorization: `Bearer ${o.warmKey ?? o.apiKey}` };
  await closedLoop({ url: o.url, connections: CONNECTIONS, seconds: o.d.warmS, headers: warm, method: 'GET', path, onTick: (t) => progress.update(t) });
  progress.end('');
  progress.phase('proofs: measuring', o.d.proofS, 's');
  const startUs = monotonicUs();
  const r = await closedLoop({ url: o.url, connections: CONNECTIONS, seconds: o.d.proofS, headers, method: 'GET', path, onTick: (t, n) => progress.update(t, `${(n / Math.max(t, 0.001)).toFixed(0)} /s`) });
  const ok = count(r, 200);
  progress.end(`${(ok / r.seconds).toFixed(0)} /s`);
  return { window: { startUs, endUs: monotonicUs() }, perSec: ok / r.seconds, seconds: r.seconds, statuses: r.statuses, errors: r.errors, latency: r.latency };
}

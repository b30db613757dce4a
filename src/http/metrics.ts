// Prometheus metrics (prom-client) on a registry of the app's own, so two apps in one process
// (tests) do not collide.
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LedgerObserver } from '../ledger/ports.js';

export interface Metrics {
  registry: Registry;
  rejections: Counter<'type'>;
  /** The ledger's own reports (single appends stored together). */
  observer: Required<LedgerObserver>;
  /** A block's commit (its one transaction), in seconds: the sealer reports it on the server that seals. */
  blockCommitted(seconds: number): void;
}

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function metricsPlugin(app: FastifyInstance): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'pop_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'pop_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'],
    buckets: SECONDS,
    registers: [registry],
  });
  // Single appends wait for the group call in flight and go in the next: how long those calls take
  // (commit included) and how many links each carries is what an append's latency is made of.
  const groupSeconds = new Histogram({
    name: 'pop_append_group_seconds',
    help: 'Database calls storing single appends gathered together, failed ones too: seconds from the parameters serialized to the answer (pool wait and commit included)',
    buckets: SECONDS,
    registers: [registry],
  });
  const groupLinks = new Histogram({
    name: 'pop_append_group_links',
    help: 'Database calls storing single appends gathered together, failed ones too: links per call',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  const blockCommit = new Histogram({
    name: 'pop_block_commit_seconds',
    help: 'Blocks committed by this server (the sealer): seconds of the try that committed each',
    buckets: SECONDS,
    registers: [registry],
  });
  const linksAccepted = new Counter({ name: 'pop_links_accepted_total', help: 'Links accepted by this server (new, not re-posts)', registers: [registry] });
  const rejections = new Counter({ name: 'pop_rejections_total', help: 'Requests refused, by problem type', labelNames: ['type'], registers: [registry] });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  return {
    registry,
    rejections,
    observer: {
      appendGroup(links, seconds) {
        groupLinks.observe(links);
        groupSeconds.observe(seconds);
      },
      linksAccepted: (count) => linksAccepted.inc(count),
    },
    blockCommitted: (seconds) => blockCommit.observe(seconds),
  };
}

/** Chain and anchoring gauges, read from the database at scrape time (any server reports them). */
export function ledgerGauges(registry: Registry, pool: Pool): void {
  new Gauge({
    name: 'pop_chain_height',
    help: 'Height of the latest sealed block (-1 before the first)',
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ h: string | null }>('SELECT max(height) AS h FROM blocks');
      this.set(rows[0]?.h === null || rows[0]?.h === undefined ? -1 : Number(rows[0].h));
    },
  });
  new Gauge({
    name: 'pop_links_unsealed',
    help: 'Accepted links waiting for a block',
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM unsealed_links');
      this.set(rows[0]?.n ?? 0);
    },
  });
  new Gauge({
    name: 'pop_anchors',
    help: 'Bitcoin anchors by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM anchors GROUP BY status');
      this.reset();
      for (const r of rows) this.set({ status: r.status }, r.n);
    },
  });
  new Gauge({
    name: 'pop_event_queue_usage',
    help: "PostgreSQL's notification queue in use (0 to 1): events not yet read by every listening session; when full, writes fail",
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ u: number }>('SELECT pg_notification_queue_usage() AS u');
      this.set(rows[0]?.u ?? 0);
    },
  });
  new Gauge({
    name: 'pop_anchor_state',
    help: 'The anchorer state (1 for the current one): ok, waiting, insufficient-funds, unreachable, rejected',
    labelNames: ['state', 'network'],
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ state: string; network: string }>('SELECT state, network FROM anchor_state WHERE id = 1');
      this.reset();
      if (rows[0]) this.set({ state: rows[0].state, network: rows[0].network }, 1);
    },
  });
}

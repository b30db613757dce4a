// GET /v1/stats: what the console's overview needs in one cheap round trip — the caller's role, the
// chain's tip, link counts by stage, and acceptance throughput for the last ten minutes in
// ten-second buckets. Count queries over indexed columns only; no link content.
//
// The counts are chain-wide for every role: sealed and anchored counts follow from block leaf counts,
// which every role can read anyway (GET /v1/blocks). The SQL sits here rather than in ledger/
// because this read model is the console's alone.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Ledger } from '../../ledger/index.js';
import { ALL_ROLES, actorOf } from '../auth.js';

const BUCKET_SECONDS = 10;
const WINDOW_BUCKETS = 60;

interface CountsRow {
  total: string;
  accepted: string;
  sealed: string;
  confirmed: string;
  anchored: string;
  last_minute: string;
  height: string | null;
  hash: string | null;
  timestamp_ms: string | null;
}

// One statement, so the numbers are from one snapshot. "confirmed" / "anchored" follow the link
// statuses of GET /v1/links/:hash: a link is confirmed when a confirmed anchor commits to its block
// or a later one, anchored when only a broadcast anchor does.
const COUNTS = `
WITH tip AS (SELECT height, hash, timestamp_ms FROM blocks ORDER BY height DESC LIMIT 1),
     conf AS (SELECT max(block_height) AS h FROM anchors WHERE status = 'confirmed'),
     bcast AS (SELECT max(block_height) AS h FROM anchors WHERE status = 'broadcast')
SELECT
  (SELECT count(*) FROM links) AS total,
  (SELECT count(*) FROM unsealed_links) AS accepted,
  (SELECT count(*) FROM link_seals) AS sealed,
  (SELECT count(*) FROM link_seals WHERE height <= (SELECT h FROM conf)) AS confirmed,
  (SELECT count(*) FROM link_seals WHERE height <= (SELECT h FROM bcast) AND height > coalesce((SELECT h FROM conf), -1)) AS anchored,
  (SELECT count(*) FROM links WHERE accepted_ts >= $1) AS last_minute,
  (SELECT height FROM tip) AS height, (SELECT hash FROM tip) AS hash, (SELECT timestamp_ms FROM tip) AS timestamp_ms`;

const SERIES = `
SELECT floor(extract(epoch FROM accepted_ts) / ${BUCKET_SECONDS})::bigint AS bucket, count(*)::int AS n
  FROM links WHERE accepted_ts >= $1 AND accepted_ts < $2 GROUP BY bucket`;

const statsRoutes: FastifyPluginAsync<{ ledger: Ledger }> = async (app: FastifyInstance, { ledger }) => {
  const { pool } = ledger.deps;
  app.get('/v1/stats', {
    config: { roles: ALL_ROLES },
    schema: { tags: ['console'], summary: "Chain tip, link counts by stage, recent throughput, and the caller's role (for the console)" },
  }, async (request, reply) => {
    const actor = actorOf(request);
    const now = ledger.deps.now().getTime();
    // The window ends at the end of the current bucket, so the last bar fills as links arrive.
    const until = (Math.floor(now / 1000 / BUCKET_SECONDS) + 1) * BUCKET_SECONDS * 1000;
    const since = until - WINDOW_BUCKETS * BUCKET_SECONDS * 1000;
    const [counts, series] = await Promise.all([
      pool.query<CountsRow>(COUNTS, [new Date(now - 60_000)]),
      pool.query<{ bucket: string; n: number }>(SERIES, [new Date(since), new Date(until)]),
    ]);
    const c = counts.rows[0]!;
    const buckets = new Array<number>(WINDOW_BUCKETS).fill(0);
    const first = since / 1000 / BUCKET_SECONDS;
    for (const r of series.rows) {
      const i = Number(r.bucket) - first;
      if (i >= 0 && i < WINDOW_BUCKETS) buckets[i] = r.n;
    }
    reply.header('cache-control', 'no-store');
    return {
      viewer: { role: actor.role, participantId: actor.participantId, keyId: actor.keyId },
      chain: {
        height: c.height === null ? null : Number(c.height),
        hash: c.hash,
        timestamp: c.timestamp_ms === null ? null : Number(c.timestamp_ms),
        blocks: c.height === null ? 0 : Number(c.height) + 1,
      },
      links: { total: Number(c.total), accepted: Number(c.accepted), sealed: Number(c.sealed), anchored: Number(c.anchored), confirmed: Number(c.confirmed) },
      throughput: { bucketSeconds: BUCKET_SECONDS, since: new Date(since).toISOString(), until: new Date(until).toISOString(), buckets, lastMinute: Number(c.last_minute) },
    };
  });
};

export default statsRoutes;

// sealMsByChainLength: the time Sealer.sealOnce() takes for a 1,000-link block on top of a chain of
// 10², 10⁴ and 10⁵ blocks. The chain is seeded straight into a fresh database: blocks (placeholder
// headers and signatures; a real prev-hash chain), one block_levels row each, and every history
// node the accumulator completes, so loadChainState finds consistent peaks and a tip. The links to
// seal are inserted with SQL too (the sealer reads only unsealed_links and the link rows' keys).
// Each timing uses a new Sealer, so it includes restoring the chain state from the database, and
// comes with the sealer's own account of it (Sealer.lastSeal): the time spent mining and the hashes
// tried. Mining takes a geometric number of hashes whatever the chain, so its luck is noise on a
// comparison between chain lengths: the caller (bench/main.ts) reports the rest of each seal plus
// the expected mining time (bench/report.ts chainEstimate), alternates chain lengths round by round
// (the machine's noise then hits every length alike), and also seals at difficulty 0.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { fromHex } from '../src/core/bytes.js';
import { HistoryAccumulator } from '../src/core/history.js';
import { Sealer } from '../src/ledger/sealer.js';
import { ed25519Notary } from '../src/node/notary.js';
import type { Fresh } from './database.js';
import type { SealRound } from './report.js';

export const DEFAULT_POW_BITS = 16;
const LINKS_PER_BLOCK = 1000;
const CHUNK = 10_000;

export interface SeededChain {
  blocks: number;
  seedSeconds: number;
  /** Queues 1,000 links, then times one Sealer.sealOnce() (a new Sealer: it restores the state). */
  seal(difficulty: number): Promise<SealRound>;
  close(): Promise<void>;
}

async function seed(pool: pg.Pool, blocks: number, onProgress: (done: number) => void): Promise<void> {
  await pool.query("INSERT INTO participants (id, name, roles) VALUES ('bench', 'Bench', '{customer}')");
  await pool.query(
    "INSERT INTO processes (id, version, definition, hash) VALUES ('order-to-cash', 1, '{}', repeat('0', 64))",
  );
  const acc = new HistoryAccumulator();
  let prev = '0'.repeat(64);
  for (let start = 0; start < blocks; start += CHUNK) {
    const heights: number[] = [];
    const hashes: string[] = [];
    const prevs: string[] = [];
    const nodeLevels: number[] = [];
    const nodeIdx: number[] = [];
    const nodeHashes: string[] = [];
    for (let h = start; h < Math.min(blocks, start + CHUNK); h++) {
      const hash = createHash('sha256').update(`bench-block-${h}`).digest('hex');
      heights.push(h);
      hashes.push(hash);
      prevs.push(prev);
      prev = hash;
      for (const n of acc.append(fromHex(hash))) {
        nodeLevels.push(n.level);
        nodeIdx.push(n.index);
        nodeHashes.push(Buffer.from(n.hash).toString('hex'));
      }
    }
    await pool.query(
      `INSERT INTO blocks (height, hash, header, prev_hash, links_root, leaf_count, history_root, timestamp_ms, difficulty, nonce, notary_key_id, notary_sig)
       SELECT h, hash, repeat('0', 272), prev, hash, 1, repeat('0', 64), 1700000000000 + h, 0, 0, 'bench-seed', repeat('0', 128)
         FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(h, hash, prev)`,
      [heights, hashes, prevs],
    );
    await pool.query("INSERT INTO block_levels (height, level, hashes) SELECT h, 0, decode(hash, 'hex') FROM unnest($1::bigint[], $2::text[]) AS t(h, hash)", [heights, hashes]);
    await pool.query("INSERT INTO history_nodes (level, idx, hash) SELECT l, i, decode(h, 'hex') FROM unnest($1::int[], $2::bigint[], $3::text[]) AS t(l, i, h)", [nodeLevels, nodeIdx, nodeHashes]);
    onProgress(Math.min(blocks, start + CHUNK));
  }
  // Leave the seeded pages as a long-running server would have them: vacuumed, analysed, on disk.
  await pool.query('VACUUM (ANALYZE) blocks, block_levels, history_nodes');
  await pool.query('CHECKPOINT').catch(() => {}); // needs superuser or pg_checkpoint
}

async function queueLinks(pool: pg.Pool): Promise<void> {
  const hashes = Array.from({ length: LINKS_PER_BLOCK }, () => randomBytes(32).toString('hex'));
  await pool.query(
    `WITH ins AS (
       INSERT INTO links (hash, process, process_version, map_id, step, author, created_at, prev, refs, tags, canonical, signatures, accepted_at, accepted_ts, receipt_sig)
       SELECT h, 'order-to-cash', 1, 'm-' || h, 'order', 'bench', now(), '{}', '{}', '{}', '{}', '[]', '2026-01-01T00:00:00.000Z', now(), 'x'
         FROM unnest($1::text[]) AS t(h)
       RETURNING seq, hash, accepted_ts)
     INSERT INTO unsealed_links (seq, link_hash, accepted_ts) SELECT seq, hash, accepted_ts FROM ins`,
    [hashes],
  );
}

export async function seedChain(db: Fresh, blocks: number, onProgress: (done: number) => void): Promise<SeededChain> {
  const pool = new pg.Pool({ connectionString: db.url, max: 10 });
  const t0 = performance.now();
  try {
    await seed(pool, blocks, onProgress);
  } catch (e) {
    await pool.end();
    throw e;
  }
  const notary = ed25519Notary(randomBytes(32));
  return {
    blocks,
    seedSeconds: (performance.now() - t0) / 1000,
    async seal(difficulty) {
      await queueLinks(pool);
      const sealer = new Sealer({
        databaseUrl: db.url,
        pool,
        notary,
        maxLinks: 10_000,
        intervalMs: 1_000,
        difficulty,
        now: () => new Date(),
      });
      const s0 = performance.now();
      const height = await sealer.sealOnce();
      const sealMs = performance.now() - s0;
      const cost = sealer.lastSeal;
      if (height === null || cost?.height !== height) throw new Error('nothing was sealed');
      return { sealMs, powMs: cost.powMs, hashes: cost.hashes };
    },
    close: () => pool.end(),
  };
}

// The chain's persistent state: the tip, the history accumulator (rebuilt from its O(log n) peaks in
// history_nodes, never from all blocks), and the one transaction that commits a sealed block with
// its link assignments, tree levels and history nodes. Exactly-once is enforced by the primary keys
// (blocks.height, link_seals.link_hash), not by the sealer's good behaviour.
import type { ClientBase, Pool } from 'pg';
import { toHex } from '../core/bytes.js';
import { type HeaderFields, ZERO_HASH } from '../core/header.js';
import { HistoryAccumulator, type StoredNode } from '../core/history.js';

export interface ChainState {
  /** Height the next block gets (= number of blocks). */
  nextHeight: number;
  tipHash: string;
  accumulator: HistoryAccumulator;
}

/** The perfect subtrees ("peaks") of a history of `size` leaves, largest first. */
export function peakIds(size: number): { level: number; index: number }[] {
  const out: { level: number; index: number }[] = [];
  let covered = 0;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (Math.floor(size / width) % 2 === 1) {
      out.push({ level, index: covered / width });
      covered += width;
    }
  }
  return out;
}

export async function loadChainState(db: Pool | ClientBase): Promise<ChainState> {
  const tip = await db.query<{ height: string; hash: string }>('SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1');
  const size = tip.rows[0] ? Number(tip.rows[0].height) + 1 : 0;
  const ids = peakIds(size);
  const peaks: Uint8Array[] = [];
  if (ids.length) {
    const { rows } = await db.query<{ level: number; idx: string; hash: Buffer }>(
      'SELECT level, idx, hash FROM history_nodes WHERE (level, idx) IN (SELECT * FROM unnest($1::int[], $2::bigint[]))',
      [ids.map((i) => i.level), ids.map((i) => i.index)],
    );
    for (const id of ids) {
      const row = rows.find((r) => r.level === id.level && Number(r.idx) === id.index);
      if (!row) throw new Error(`history node ${id.level}:${id.index} is missing: the store is damaged`);
      peaks.push(new Uint8Array(row.hash));
    }
  }
  return { nextHeight: size, tipHash: tip.rows[0]?.hash ?? ZERO_HASH, accumulator: new HistoryAccumulator(size, peaks) };
}

/**
 * The links the next block seals: the first `maxLinks` of the queue in seq order (leaf i is the
 * i-th), read as one row of aggregated text rather than a row each: the request thread parses one
 * hex string instead of ~1,500 row objects and hashes.
 */
export interface PendingLinks {
  count: number;
  /** Their 32-byte hashes, concatenated in leaf order: the tree's leaves. */
  leaves: Uint8Array;
  /** The same hashes as lowercase hex, concatenated: link_seals' rows, split by the database. */
  hashes: string;
  /** Their places in the queue (unsealed_links.seq), comma-separated: the rows the block removes. */
  seqs: string;
}

export async function readPending(db: Pool | ClientBase, maxLinks: number): Promise<PendingLinks | undefined> {
  const { rows } = await db.query<{ count: number; hashes: string | null; seqs: string | null }>(
    `SELECT count(*)::int AS count, string_agg(link_hash, '' ORDER BY seq) AS hashes, string_agg(seq::text, ',' ORDER BY seq) AS seqs
       FROM (SELECT seq, link_hash FROM unsealed_links ORDER BY seq LIMIT $1) q`,
    [maxLinks],
  );
  const { count, hashes, seqs } = rows[0]!;
  if (count === 0 || hashes === null || seqs === null) return undefined;
  // links.hash is checked to be 64 lowercase hex digits; Buffer.from would stop short at anything else.
  const leaves = Buffer.from(hashes, 'hex');
  if (leaves.length !== count * 32) throw new Error('the sealing queue holds a link hash that is not 64 hex digits: the store is damaged');
  return { count, leaves, hashes, seqs };
}

export interface SealedBlock {
  fields: HeaderFields;
  header: Uint8Array;
  hash: string;
  notaryKeyId: string;
  notarySig: string;
  links: Pick<PendingLinks, 'hashes' | 'seqs'>;
  /** The links' tree, leaves first, each level's 32-byte hashes concatenated. */
  levels: Uint8Array[];
  historyNodes: StoredNode[];
}

/** Commits a sealed block; throws a unique violation (23505) if another sealer got there first. */
export async function commitBlock(client: ClientBase, b: SealedBlock): Promise<void> {
  const f = b.fields;
  await client.query(
    `INSERT INTO blocks (height, hash, header, prev_hash, links_root, leaf_count, history_root, timestamp_ms, difficulty, nonce, notary_key_id, notary_sig)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [f.height, b.hash, toHex(b.header), f.prevHash, f.linksRoot, f.leafCount, f.historyRoot, f.timestamp, f.difficulty, f.nonce, b.notaryKeyId, b.notarySig],
  );
  if (b.links.hashes) {
    // The hex is split as bytes (bytea's substring is O(1)); text's substring in a multibyte
    // database walks from the string's start at every row.
    await client.query(
      `INSERT INTO link_seals (link_hash, height, leaf_index)
       SELECT encode(substring(b FROM i * 32 + 1 FOR 32), 'hex'), $2, i FROM decode($1, 'hex') AS b, generate_series(0, length(b) / 32 - 1) AS i`,
      [b.links.hashes, f.height],
    );
    await client.query("DELETE FROM unsealed_links WHERE seq = ANY(string_to_array($1, ',')::bigint[])", [b.links.seqs]);
  }
  await client.query(
    'INSERT INTO block_levels (height, level, hashes) SELECT $1, l - 1, h FROM unnest($2::bytea[]) WITH ORDINALITY AS t(h, l)',
    [f.height, b.levels.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength))],
  );
  await client.query(
    'INSERT INTO history_nodes (level, idx, hash) SELECT * FROM unnest($1::int[], $2::bigint[], $3::bytea[])',
    [b.historyNodes.map((n) => n.level), b.historyNodes.map((n) => n.index), b.historyNodes.map((n) => Buffer.from(n.hash))],
  );
}

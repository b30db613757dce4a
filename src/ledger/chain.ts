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

export interface SealedBlock {
  fields: HeaderFields;
  header: Uint8Array;
  hash: string;
  notaryKeyId: string;
  notarySig: string;
  linkHashes: string[];
  seqs: string[];
  levels: Uint8Array[][];
  historyNodes: StoredNode[];
}

function concat(hashes: Uint8Array[]): Buffer {
  return Buffer.concat(hashes.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength)));
}

/** Commits a sealed block; throws a unique violation (23505) if another sealer got there first. */
export async function commitBlock(client: ClientBase, b: SealedBlock): Promise<void> {
  const f = b.fields;
  await client.query(
    `INSERT INTO blocks (height, hash, header, prev_hash, links_root, leaf_count, history_root, timestamp_ms, difficulty, nonce, notary_key_id, notary_sig)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [f.height, b.hash, toHex(b.header), f.prevHash, f.linksRoot, f.leafCount, f.historyRoot, f.timestamp, f.difficulty, f.nonce, b.notaryKeyId, b.notarySig],
  );
  if (b.linkHashes.length) {
    await client.query(
      'INSERT INTO link_seals (link_hash, height, leaf_index) SELECT h, $2, i - 1 FROM unnest($1::text[]) WITH ORDINALITY AS t(h, i)',
      [b.linkHashes, f.height],
    );
    await client.query('DELETE FROM unsealed_links WHERE seq = ANY($1::bigint[])', [b.seqs]);
  }
  await client.query(
    'INSERT INTO block_levels (height, level, hashes) SELECT $1, l - 1, h FROM unnest($2::bytea[]) WITH ORDINALITY AS t(h, l)',
    [f.height, b.levels.map(concat)],
  );
  await client.query(
    'INSERT INTO history_nodes (level, idx, hash) SELECT * FROM unnest($1::int[], $2::bigint[], $3::bytea[])',
    [b.historyNodes.map((n) => n.level), b.historyNodes.map((n) => n.index), b.historyNodes.map((n) => Buffer.from(n.hash))],
  );
}

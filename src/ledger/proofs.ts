// Proofs and blocks, assembled from stored data: a link's audit path comes from its block's stored
// tree levels (one 32-byte slice per level), history proofs from stored perfect-subtree nodes. No
// request rebuilds a tree.
//
// Proof fetches that arrive while earlier ones are being read go together (Coalescer): one statement
// reads their links, seals, the tip and the first confirmed anchor at or after each block (one
// snapshot), and one more slices the audit paths of the links whose block is not cached. Everything
// else in a proof never changes once written — sealed blocks, their tree levels, history nodes, and
// the (participant, keyId, alg, publicKey) of a key (only its revocation can change, and a proof does
// not show it) — so it is kept in a byte-bounded LRU cache that stays correct with several servers on
// one database. The tip and anchors are never cached: another server may have sealed a newer block,
// and a Bitcoin reorg can move or drop an anchor.
import type { Pool } from 'pg';
import { toHex } from '../core/bytes.js';
import { type NodeId, assembleProof, consistencyRanges, inclusionRanges, nodeKey, nodesFor } from '../core/history.js';
import type { ProofV1 } from '../core/proof.js';
import { PROOF_TYPE } from '../core/proof.js';
import { Coalescer, LruCache } from './cache.js';
import { peakIds } from './chain.js';
import type { Actor } from './api-keys.js';
import { refuse } from './errors.js';
import type { SubmittedSignature } from './links.js';
import { type Page, decodeCursor, encodeCursor } from './pagination.js';
import type { Notary } from './ports.js';
import type { Queries } from './queries.js';
import { nodeHash } from '../core/rfc6962.js';
import { EMPTY_ROOT } from '../core/rfc6962.js';

export interface BlockRecord {
  height: number;
  hash: string;
  header: string;
  notarySig: string;
  notaryKeyId: string;
  prevHash: string;
  linksRoot: string;
  leafCount: number;
  historyRoot: string;
  timestamp: number;
  difficulty: number;
  nonce: number;
  sealedAt: string;
}

interface BlockRow {
  height: string;
  hash: string;
  header: string;
  notary_sig: string;
  notary_key_id: string;
  prev_hash: string;
  links_root: string;
  leaf_count: number;
  history_root: string;
  timestamp_ms: string;
  difficulty: number;
  nonce: string;
  sealed_at: Date;
}

const toBlock = (r: BlockRow): BlockRecord => ({
  height: Number(r.height),
  hash: r.hash,
  header: r.header,
  notarySig: r.notary_sig,
  notaryKeyId: r.notary_key_id,
  prevHash: r.prev_hash,
  linksRoot: r.links_root,
  leafCount: r.leaf_count,
  historyRoot: r.history_root,
  timestamp: Number(r.timestamp_ms),
  difficulty: r.difficulty,
  nonce: Number(r.nonce),
  sealedAt: r.sealed_at.toISOString(),
});

interface AnchorEvidenceRow {
  id: string;
  network: string;
  block_height: string;
  block_hash: string;
  txid: string;
  raw_tx: string;
  fee_sats: string;
  vsize: number;
  status: string;
  created_at: Date;
  broadcast_at: Date | null;
  confirmed_at: Date | null;
  bitcoin_block_hash: string | null;
  bitcoin_height: number | null;
  bitcoin_header: string | null;
  merkle_pos: number | null;
  merkle_siblings: string[] | null;
  detail: string | null;
}

export interface AnchorRecord {
  network: string;
  blockHeight: number;
  blockHash: string;
  txid: string;
  status: string;
  feeSats: number;
  vsize: number;
  createdAt: string;
  broadcastAt: string | null;
  confirmedAt: string | null;
  bitcoinBlock: { hash: string; height: number } | null;
  detail: string | null;
}

const toAnchorRecord = (a: AnchorEvidenceRow): AnchorRecord => ({
  network: a.network,
  blockHeight: Number(a.block_height),
  blockHash: a.block_hash,
  txid: a.txid,
  status: a.status,
  feeSats: Number(a.fee_sats),
  vsize: a.vsize,
  createdAt: a.created_at.toISOString(),
  broadcastAt: a.broadcast_at?.toISOString() ?? null,
  confirmedAt: a.confirmed_at?.toISOString() ?? null,
  bitcoinBlock: a.bitcoin_block_hash ? { hash: a.bitcoin_block_hash, height: a.bitcoin_height! } : null,
  detail: a.detail,
});

type EvidenceColumns = Pick<AnchorEvidenceRow, 'network' | 'block_hash' | 'txid' | 'raw_tx' | 'bitcoin_block_hash' | 'bitcoin_height' | 'bitcoin_header' | 'merkle_pos' | 'merkle_siblings'>;

/** The anchor evidence of protocol.md §11, from a confirmed anchor's row. */
function anchorEvidence(a: EvidenceColumns) {
  return {
    network: a.network,
    blockHash: a.block_hash,
    txid: a.txid,
    tx: a.raw_tx,
    bitcoinBlock: { hash: a.bitcoin_block_hash!, height: a.bitcoin_height!, header: a.bitcoin_header! },
    merkle: { pos: a.merkle_pos!, siblings: a.merkle_siblings! },
  };
}

export type ProofAnswer =
  | { status: 'sealed'; /** the pop/proof/v1 as JSON text */ json: string }
  | { status: 'accepted'; linkHash: string; acceptedAt: string; detail: string };

/** A link, its seal, the tip and the first confirmed anchor at or after its block: one row per link. */
interface ProofRow {
  hash: string;
  process: string;
  canonical: string;
  signatures: SubmittedSignature[];
  accepted_at: string;
  height: string | null;
  leaf_index: number | null;
  tip: string | null;
  anchor_height: string | null;
  network: string | null;
  block_hash: string | null;
  txid: string | null;
  raw_tx: string | null;
  bitcoin_block_hash: string | null;
  bitcoin_height: number | null;
  bitcoin_header: string | null;
  merkle_pos: number | null;
  merkle_siblings: string[] | null;
  leaf_count: number | null;
}

/** What a batch read gives each link: its row and, once sealed, its audit path (hex, bottom-up). */
interface Fetched {
  row: ProofRow;
  path: string[] | undefined;
}

// One statement, so the tip and the anchor come from the same snapshot. Named: prepared once per
// connection.
const PROOF_ROWS = {
  name: 'pop-proof-rows',
  text: `SELECT l.hash, l.process, l.canonical, l.signatures, l.accepted_at, s.height, s.leaf_index,
       (SELECT max(height) FROM blocks) AS tip, a.block_height AS anchor_height, a.network, a.block_hash, a.txid,
       a.raw_tx, a.bitcoin_block_hash, a.bitcoin_height, a.bitcoin_header, a.merkle_pos, a.merkle_siblings, b.leaf_count
  FROM links l
  LEFT JOIN link_seals s ON s.link_hash = l.hash
  LEFT JOIN blocks b ON b.height = s.height
  LEFT JOIN LATERAL (SELECT * FROM anchors WHERE status = 'confirmed' AND block_height >= s.height ORDER BY block_height, id LIMIT 1) a ON true
 WHERE l.hash = ANY($1::text[])`,
};

// The audit paths of many links in one statement: at level k a link's sibling is node
// (leafIndex >> k) XOR 1, present when it is below the level's width ceil(leafCount / 2^k).
const AUDIT_PATHS = {
  name: 'pop-audit-paths',
  text: `SELECT w.i, encode(string_agg(substring(v.hashes FROM ((w.leaf_index >> v.level) # 1) * 32 + 1 FOR 32), ''::bytea ORDER BY v.level), 'hex') AS path
  FROM unnest($1::bigint[], $2::int[], $3::int[]) WITH ORDINALITY AS w(height, leaf_index, leaf_count, i)
  JOIN block_levels v ON v.height = w.height
   AND ((w.leaf_index >> v.level) # 1) < ((w.leaf_count::bigint + (1::bigint << v.level) - 1) >> v.level)
 GROUP BY w.i`,
};

/** A block whose audit paths were sliced in SQL this many times has its levels loaded into the cache. */
const HOT_AFTER = 4;

type KeyEntry = ProofV1['keys'][number];

// What the cache's accounting charges per entry beyond its payload (Map slot, key, object headers).
const ENTRY_OVERHEAD = 96;

/**
 * JSON.stringify(JSON.parse(canonical)) without the round trip where they agree: RFC 8785 text is
 * what JSON.stringify writes, except that JSON.parse moves integer-like member names ("9", "10") to
 * the front in numeric order. Any such name takes the round trip, so the bytes served never change.
 */
export function linkJson(canonical: string): string {
  return /[{,]"[0-9]+":/.test(canonical) ? JSON.stringify(JSON.parse(canonical)) : canonical;
}

/** The sibling at each level, as [level, index] pairs (RFC 6962 audit path over stored levels). */
function siblings(leafIndex: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  let index = leafIndex;
  let width = size;
  for (let level = 0; width > 1; level++) {
    const sibling = index ^ 1;
    if (sibling < width) out.push([level, sibling]);
    index = Math.floor(index / 2);
    width = Math.ceil(width / 2);
  }
  return out;
}

/** A link's audit path (hex) cut from its block's levels. */
function pathOf(height: number, levels: Buffer[], leafIndex: number, leafCount: number): string[] {
  return siblings(leafIndex, leafCount).map(([level, index]) => {
    const hashes = levels[level];
    if (!hashes || hashes.length < (index + 1) * 32) throw new Error(`block ${height}: stored tree levels are incomplete`);
    return hashes.toString('hex', index * 32, index * 32 + 32);
  });
}

export class Proofs {
  readonly #pool: Pool;
  readonly #notary: Notary;
  readonly #queries: Queries;
  readonly #rows: Coalescer<string, Fetched>;
  /** Immutable data only: blocks (b:), tree levels (l:), keys (k:), history nodes (n:) and paths (h:). */
  readonly cache: LruCache<unknown>;
  /** How often each block's audit paths were sliced in SQL lately (bounded: cleared when large). */
  readonly #heat = new Map<number, number>();

  constructor(pool: Pool, notary: Notary, queries: Queries, cacheBytes?: number) {
    this.#pool = pool;
    this.#notary = notary;
    this.#queries = queries;
    this.cache = new LruCache(cacheBytes);
    // Two batches in flight: one is read while the previous one is answered (measured ≈ +10–30%).
    this.#rows = new Coalescer((hashes) => this.#fetch(hashes), { maxInFlight: 2 });
  }

  async tip(): Promise<BlockRecord | null> {
    const { rows } = await this.#pool.query<BlockRow>('SELECT * FROM blocks ORDER BY height DESC LIMIT 1');
    return rows[0] ? toBlock(rows[0]) : null;
  }

  /** A sealed block (blocks never change: cached). */
  async block(height: number): Promise<BlockRecord> {
    return (await this.cache.through(
      `b:${height}`,
      async () => {
        const { rows } = await this.#pool.query<BlockRow>('SELECT * FROM blocks WHERE height = $1', [height]);
        if (!rows[0]) refuse('not-found', `no block ${height}`);
        return toBlock(rows[0]);
      },
      () => 1024,
    )) as BlockRecord;
  }

  /** Blocks in ascending height from `from` (default 0), or descending from the tip with `desc`. */
  async blocks(limit: number, cursor: string | undefined, order: 'asc' | 'desc', from?: number): Promise<Page<BlockRecord>> {
    const start = cursor === undefined ? from : (decodeCursor(cursor, (v) => Number.isSafeInteger(v)) as number);
    const { rows } = order === 'asc'
      ? await this.#pool.query<BlockRow>('SELECT * FROM blocks WHERE height >= $1 ORDER BY height LIMIT $2', [start ?? 0, limit + 1])
      : await this.#pool.query<BlockRow>('SELECT * FROM blocks WHERE ($1::bigint IS NULL OR height <= $1) ORDER BY height DESC LIMIT $2', [start ?? null, limit + 1]);
    const items = rows.slice(0, limit).map(toBlock);
    const nextRow = rows[limit];
    return { items, next: nextRow ? encodeCursor(Number(nextRow.height)) : null };
  }

  /** A block's link hashes in leaf order. */
  async blockLinks(height: number, limit: number, cursor?: string): Promise<Page<string>> {
    await this.block(height);
    const after = cursor === undefined ? -1 : (decodeCursor(cursor, (v) => Number.isSafeInteger(v)) as number);
    const { rows } = await this.#pool.query<{ link_hash: string; leaf_index: number }>(
      'SELECT link_hash, leaf_index FROM link_seals WHERE height = $1 AND leaf_index > $2 ORDER BY leaf_index LIMIT $3',
      [height, after, limit + 1],
    );
    const items = rows.slice(0, limit);
    return { items: items.map((r) => r.link_hash), next: rows.length > limit ? encodeCursor(items[items.length - 1]!.leaf_index) : null };
  }

  /**
   * A link's proof as JSON text, member for member what `JSON.stringify` of the ProofV1 object gives:
   * type, link, linkHash, signatures, keys, inclusion, block, notary, then history and anchor when
   * there are any. The block is tied to the first anchored block at or after it (with its anchor
   * evidence), or else to the tip, so the proof shows the block's place in the chain either way.
   */
  async proof(hash: string, actor: Actor): Promise<ProofAnswer> {
    const [fetched, visible] = await Promise.all([this.#rows.load(hash), this.#queries.visibleProcesses(actor)]);
    if (!fetched || (visible && !visible.includes(fetched.row.process))) refuse('not-found', `no link ${hash}`);
    const { row } = fetched;
    if (row.height === null || row.leaf_index === null) {
      return { status: 'accepted', linkHash: hash, acceptedAt: row.accepted_at, detail: 'accepted, not sealed yet: retry shortly' };
    }
    const height = Number(row.height);
    const leafIndex = row.leaf_index;
    const anchorHeight = row.anchor_height === null ? undefined : Number(row.anchor_height);
    const laterHeight = anchorHeight ?? Number(row.tip);
    const block = await this.block(height);
    const { path } = fetched;
    if (!path) throw new Error(`block ${height}: no audit path for ${hash}`); // a seal's block always exists (foreign key)
    const [keys, history] = await Promise.all([
      this.#keys(row.signatures),
      laterHeight > height ? this.#history(height, laterHeight) : undefined,
    ]);
    const { keyId, publicKey } = this.#notary;
    const rest = JSON.stringify({
      linkHash: hash,
      signatures: row.signatures,
      keys,
      inclusion: { leafIndex, treeSize: block.leafCount, path },
      block: { header: block.header, notarySig: block.notarySig },
      notary: { keyId, alg: 'ed25519', publicKey },
      ...(history ? { history } : {}),
      ...(anchorHeight !== undefined ? { anchor: anchorEvidence(row as ProofRow & EvidenceColumns) } : {}),
    });
    return { status: 'sealed', json: `{"type":${JSON.stringify(PROOF_TYPE)},"link":${linkJson(row.canonical)},${rest.slice(1)}` };
  }

  /** Block `height`'s place in the history of `laterHeight` blocks: fixed once both exist (cached). */
  async #history(height: number, laterHeight: number): Promise<NonNullable<ProofV1['history']>> {
    return (await this.cache.through(
      `h:${height}:${laterHeight}`,
      async () => {
        const [later, path] = await Promise.all([this.block(laterHeight), this.#historyProof(inclusionRanges(height, laterHeight))]);
        return { block: { header: later.header, notarySig: later.notarySig }, path: path.map(toHex) };
      },
      (v) => ENTRY_OVERHEAD * 2 + 800 + (v as { path: string[] }).path.length * (ENTRY_OVERHEAD / 2 + 128),
    )) as NonNullable<ProofV1['history']>;
  }

  /** One batch: the rows, then the audit paths, from cached levels or else sliced in one statement. */
  async #fetch(hashes: string[]): Promise<Map<string, Fetched>> {
    const { rows } = await this.#pool.query<ProofRow>({ ...PROOF_ROWS, values: [hashes] });
    const out = new Map<string, Fetched>();
    const cold: { hash: string; height: number; leafIndex: number; leafCount: number }[] = [];
    for (const row of rows) {
      out.set(row.hash, { row, path: row.leaf_count !== null && row.leaf_count < 2 ? [] : undefined });
      if (row.height === null || row.leaf_index === null || row.leaf_count === null || row.leaf_count < 2) continue;
      const height = Number(row.height);
      const levels = this.cache.get(`l:${height}`) as Buffer[] | undefined;
      if (levels) out.set(row.hash, { row, path: pathOf(height, levels, row.leaf_index, row.leaf_count) });
      else cold.push({ hash: row.hash, height, leafIndex: row.leaf_index, leafCount: row.leaf_count });
    }
    if (cold.length === 0) return out;
    const paths = await this.#pool.query<{ i: string; path: string }>({
      ...AUDIT_PATHS,
      values: [cold.map((c) => c.height), cold.map((c) => c.leafIndex), cold.map((c) => c.leafCount)],
    });
    const byIndex = new Map(paths.rows.map((r) => [Number(r.i) - 1, r.path]));
    cold.forEach((c, i) => {
      const hex = byIndex.get(i) ?? '';
      const wanted = siblings(c.leafIndex, c.leafCount).length;
      if (hex.length !== wanted * 64) throw new Error(`block ${c.height}: stored tree levels are incomplete`);
      out.set(c.hash, { row: out.get(c.hash)!.row, path: Array.from({ length: wanted }, (_, k) => hex.slice(k * 64, k * 64 + 64)) });
      this.#warm(c.height, c.leafCount);
    });
    return out;
  }

  /**
   * Counts a block's SQL-sliced paths and, once it is hot, loads its levels into the cache (in the
   * background: the request already has its path). A block read once, like most in a random walk
   * over a long chain, never costs a full load; blocks too large for a fair share of the cache never
   * get one.
   */
  #warm(height: number, leafCount: number): void {
    if (leafCount * 64 > this.cache.budget / 8) return;
    const n = (this.#heat.get(height) ?? 0) + 1;
    if (this.#heat.size >= 4096) this.#heat.clear();
    this.#heat.set(height, n);
    if (n === HOT_AFTER) {
      this.#heat.delete(height);
      this.#levels(height).catch(() => {}); // a failed load only means the next paths are sliced in SQL
    }
  }

  #levels(height: number): Promise<Buffer[]> {
    return this.cache.through(
      `l:${height}`,
      async () => {
        const { rows } = await this.#pool.query<{ level: number; hashes: Buffer }>('SELECT level, hashes FROM block_levels WHERE height = $1', [height]);
        const levels: Buffer[] = [];
        for (const r of rows) levels[r.level] = r.hashes;
        return levels;
      },
      (v) => ENTRY_OVERHEAD + (v as Buffer[]).reduce((n, b) => n + (b?.length ?? 0) + ENTRY_OVERHEAD, 0),
    ) as Promise<Buffer[]>;
  }

  /** The evidence of the confirmed anchor that commits to exactly this block, if any. */
  async anchorEvidence(height: number): Promise<ReturnType<typeof anchorEvidence> | undefined> {
    const { rows } = await this.#pool.query<AnchorEvidenceRow>("SELECT * FROM anchors WHERE status = 'confirmed' AND block_height = $1 ORDER BY id LIMIT 1", [height]);
    return rows[0] && anchorEvidence(rows[0]);
  }

  /** A history proof (hex) for the given ranges, from stored nodes. */
  async historyPath(ranges: ReturnType<typeof inclusionRanges>): Promise<string[]> {
    return (await this.#historyProof(ranges)).map(toHex);
  }

  async anchors(limit: number, cursor?: string): Promise<Page<AnchorRecord>> {
    const before = cursor === undefined ? null : (decodeCursor(cursor, (v) => Number.isSafeInteger(v)) as number);
    const { rows } = await this.#pool.query<AnchorEvidenceRow>(
      'SELECT * FROM anchors WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2',
      [before, limit + 1],
    );
    const items = rows.slice(0, limit).map(toAnchorRecord);
    return { items, next: rows.length > limit ? encodeCursor(Number(rows[limit - 1]!.id)) : null };
  }

  async anchorStatus(): Promise<Record<string, unknown>> {
    const state = await this.#pool.query<{ network: string; address: string; state: string; detail: string | null; updated_at: Date }>('SELECT * FROM anchor_state WHERE id = 1');
    const counts = await this.#pool.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM anchors GROUP BY status');
    const last = await this.#pool.query<AnchorEvidenceRow>("SELECT * FROM anchors WHERE status = 'confirmed' ORDER BY block_height DESC LIMIT 1");
    const inFlight = await this.#pool.query<AnchorEvidenceRow>("SELECT * FROM anchors WHERE status IN ('signed', 'broadcast') LIMIT 1");
    const s = state.rows[0];
    return {
      enabled: s !== undefined,
      ...(s ? { network: s.network, address: s.address, state: s.state, detail: s.detail, updatedAt: s.updated_at.toISOString() } : { state: 'off' }),
      counts: Object.fromEntries(counts.rows.map((r) => [r.status, r.n])),
      lastConfirmed: last.rows[0] ? toAnchorRecord(last.rows[0]) : null,
      inFlight: inFlight.rows[0] ? toAnchorRecord(inFlight.rows[0]) : null,
    };
  }

  /** RFC 6962 consistency proof of the history from size `from` to size `to`, with both roots. */
  async consistency(from: number, to: number): Promise<{ from: number; to: number; rootFrom: string; rootTo: string; proof: string[] }> {
    const tip = await this.tip();
    const size = tip ? tip.height + 1 : 0;
    if (!(from >= 1 && from <= to && to <= size)) refuse('malformed', `need 1 ≤ from ≤ to ≤ ${size} (the number of blocks)`);
    const proof = await this.#historyProof(consistencyRanges(from, to));
    return { from, to, rootFrom: await this.#historyRoot(from), rootTo: await this.#historyRoot(to), proof: proof.map(toHex) };
  }

  /** Root of the history of `size` blocks: a header's field when a block has that height, else folded from peaks. */
  async #historyRoot(size: number): Promise<string> {
    const { rows } = await this.#pool.query<{ history_root: string }>('SELECT history_root FROM blocks WHERE height = $1', [size]);
    if (rows[0]) return rows[0].history_root;
    const ids = peakIds(size);
    const nodes = await this.#nodes(ids);
    const hashes = ids.map((id) => nodes.get(nodeKey(id))!);
    if (hashes.length === 0) return toHex(EMPTY_ROOT);
    let acc = hashes[hashes.length - 1]!;
    for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
    return toHex(acc);
  }

  async #historyProof(ranges: ReturnType<typeof inclusionRanges>): Promise<Uint8Array[]> {
    return assembleProof(ranges, await this.#nodes(nodesFor(ranges)));
  }

  /** History nodes by nodeKey; stored nodes never change, so only the missing ones are read. */
  async #nodes(ids: NodeId[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const missing: NodeId[] = [];
    for (const id of ids) {
      const hit = this.cache.get(`n:${nodeKey(id)}`) as Uint8Array | undefined;
      if (hit) out.set(nodeKey(id), hit);
      else missing.push(id);
    }
    if (missing.length === 0) return out;
    const { rows } = await this.#pool.query<{ level: number; idx: string; hash: Buffer }>(
      'SELECT level, idx, hash FROM history_nodes WHERE (level, idx) IN (SELECT * FROM unnest($1::int[], $2::bigint[]))',
      [missing.map((i) => i.level), missing.map((i) => i.index)],
    );
    for (const r of rows) {
      const key = nodeKey({ level: r.level, index: Number(r.idx) });
      const hash = new Uint8Array(r.hash);
      out.set(key, hash);
      this.cache.set(`n:${key}`, hash, ENTRY_OVERHEAD + 32);
    }
    return out;
  }

  /** The signers' keys as a proof shows them: fields a key keeps for ever (its revocation is not shown). */
  async #keys(signatures: SubmittedSignature[]): Promise<KeyEntry[]> {
    // U+0000 cannot be stored in PostgreSQL text: the separator is unambiguous.
    const keyOf = (participant: string, keyId: string) => `k:${participant}\0${keyId}`;
    const found = new Map<string, KeyEntry>();
    const missing: SubmittedSignature[] = [];
    for (const s of signatures) {
      const hit = this.cache.get(keyOf(s.signer, s.keyId)) as KeyEntry | undefined;
      if (hit) found.set(keyOf(s.signer, s.keyId), hit);
      else missing.push(s);
    }
    if (missing.length) {
      const { rows } = await this.#pool.query<{ participant_id: string; key_id: string; alg: KeyEntry['alg']; public_key: string }>(
        'SELECT participant_id, key_id, alg, public_key FROM participant_keys WHERE (participant_id, key_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))',
        [missing.map((s) => s.signer), missing.map((s) => s.keyId)],
      );
      for (const r of rows) {
        const key: KeyEntry = { participant: r.participant_id, keyId: r.key_id, alg: r.alg, publicKey: r.public_key };
        found.set(keyOf(r.participant_id, r.key_id), key);
        this.cache.set(keyOf(r.participant_id, r.key_id), key, ENTRY_OVERHEAD * 2 + 2 * (r.participant_id.length + r.key_id.length + r.public_key.length));
      }
    }
    return signatures.map((s) => {
      const k = found.get(keyOf(s.signer, s.keyId));
      if (!k) throw new Error(`the key ${s.keyId} of ${s.signer}, which signed a stored link, is missing`);
      return k;
    });
  }
}

// Proofs and blocks, assembled from stored data: a link's audit path comes from its block's stored
// tree levels (one 32-byte slice per level), history proofs from stored perfect-subtree nodes. No
// request rebuilds a tree.
import type { Pool } from 'pg';
import { toHex } from '../core/bytes.js';
import { type NodeId, assembleProof, consistencyRanges, inclusionRanges, nodeKey, nodesFor } from '../core/history.js';
import type { ProofV1 } from '../core/proof.js';
import type { Link } from '../core/link.js';
import { PROOF_TYPE } from '../core/proof.js';
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

/** The anchor evidence of protocol.md §11, from a confirmed anchor's row. */
function anchorEvidence(a: AnchorEvidenceRow) {
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
  | { status: 'sealed'; proof: ProofV1 }
  | { status: 'accepted'; linkHash: string; acceptedAt: string; detail: string };

export class Proofs {
  readonly #pool: Pool;
  readonly #notary: Notary;
  readonly #queries: Queries;

  constructor(pool: Pool, notary: Notary, queries: Queries) {
    this.#pool = pool;
    this.#notary = notary;
    this.#queries = queries;
  }

  async tip(): Promise<BlockRecord | null> {
    const { rows } = await this.#pool.query<BlockRow>('SELECT * FROM blocks ORDER BY height DESC LIMIT 1');
    return rows[0] ? toBlock(rows[0]) : null;
  }

  async block(height: number): Promise<BlockRecord> {
    const { rows } = await this.#pool.query<BlockRow>('SELECT * FROM blocks WHERE height = $1', [height]);
    if (!rows[0]) refuse('not-found', `no block ${height}`);
    return toBlock(rows[0]);
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

  async proof(hash: string, actor: Actor): Promise<ProofAnswer> {
    const record = await this.#queries.link(hash, actor); // visibility and existence
    const seal = await this.#pool.query<{ height: string; leaf_index: number }>('SELECT height, leaf_index FROM link_seals WHERE link_hash = $1', [hash]);
    if (!seal.rows[0]) {
      return { status: 'accepted', linkHash: hash, acceptedAt: record.receipt.acceptedAt, detail: 'accepted, not sealed yet: retry shortly' };
    }
    const height = Number(seal.rows[0].height);
    const leafIndex = seal.rows[0].leaf_index;
    const block = await this.block(height);
    const path = await this.#auditPath(height, leafIndex, block.leafCount);
    const keys = await this.#keys(record.signatures);
    const proof: ProofV1 = {
      type: PROOF_TYPE,
      link: record.link as Link,
      linkHash: hash,
      signatures: record.signatures as ProofV1['signatures'],
      keys,
      inclusion: { leafIndex, treeSize: block.leafCount, path },
      block: { header: block.header, notarySig: block.notarySig },
      notary: { keyId: this.#notary.keyId, alg: 'ed25519', publicKey: this.#notary.publicKey },
    };
    // Tie the block to the first anchored block at or after it (with its anchor evidence), or else
    // to the tip, so the proof shows the block's place in the chain either way.
    const anchor = await this.#firstAnchorFrom(height);
    const later = anchor ? await this.block(anchor.height) : await this.tip();
    if (later && later.height > height) {
      proof.history = {
        block: { header: later.header, notarySig: later.notarySig },
        path: (await this.#historyProof(inclusionRanges(height, later.height))).map(toHex),
      };
    }
    if (anchor) proof.anchor = anchor.evidence;
    return { status: 'sealed', proof };
  }

  async #firstAnchorFrom(height: number): Promise<{ height: number; evidence: NonNullable<ProofV1['anchor']> } | undefined> {
    const { rows } = await this.#pool.query<AnchorEvidenceRow>(
      "SELECT * FROM anchors WHERE status = 'confirmed' AND block_height >= $1 ORDER BY block_height, id LIMIT 1",
      [height],
    );
    const a = rows[0];
    return a && { height: Number(a.block_height), evidence: anchorEvidence(a) as NonNullable<ProofV1['anchor']> };
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

  async #nodes(ids: NodeId[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    if (ids.length === 0) return out;
    const { rows } = await this.#pool.query<{ level: number; idx: string; hash: Buffer }>(
      'SELECT level, idx, hash FROM history_nodes WHERE (level, idx) IN (SELECT * FROM unnest($1::int[], $2::bigint[]))',
      [ids.map((i) => i.level), ids.map((i) => i.index)],
    );
    for (const r of rows) out.set(nodeKey({ level: r.level, index: Number(r.idx) }), new Uint8Array(r.hash));
    return out;
  }

  /** The sibling at each level, read as 32-byte slices of the stored levels. */
  async #auditPath(height: number, leafIndex: number, size: number): Promise<string[]> {
    const wanted: { level: number; offset: number }[] = [];
    let index = leafIndex;
    let width = size;
    for (let level = 0; width > 1; level++) {
      const sibling = index ^ 1;
      if (sibling < width) wanted.push({ level, offset: sibling * 32 + 1 });
      index = Math.floor(index / 2);
      width = Math.ceil(width / 2);
    }
    if (wanted.length === 0) return [];
    const { rows } = await this.#pool.query<{ level: number; h: Buffer }>(
      `SELECT b.level, substring(b.hashes FROM w.off FOR 32) AS h
         FROM block_levels b JOIN unnest($2::int[], $3::int[]) AS w(level, off) ON w.level = b.level
        WHERE b.height = $1 ORDER BY b.level`,
      [height, wanted.map((w) => w.level), wanted.map((w) => w.offset)],
    );
    if (rows.length !== wanted.length) throw new Error(`block ${height}: stored tree levels are incomplete`);
    return rows.map((r) => r.h.toString('hex'));
  }

  async #keys(signatures: SubmittedSignature[]): Promise<ProofV1['keys']> {
    const { rows } = await this.#pool.query<{ participant_id: string; key_id: string; alg: ProofV1['keys'][number]['alg']; public_key: string }>(
      'SELECT participant_id, key_id, alg, public_key FROM participant_keys WHERE (participant_id, key_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))',
      [signatures.map((s) => s.signer), signatures.map((s) => s.keyId)],
    );
    return signatures.map((s) => {
      const r = rows.find((k) => k.participant_id === s.signer && k.key_id === s.keyId)!;
      return { participant: r.participant_id, keyId: r.key_id, alg: r.alg, publicKey: r.public_key };
    });
  }
}

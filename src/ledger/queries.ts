// The read side: a link's public record, its private data (for those entitled), search with cursor
// pagination, and maps. Public records are rebuilt from the canonical text, so they are byte for byte
// what was signed.
import type { Pool } from 'pg';
import { parseDisclosure } from '../core/disclosure.js';
import type { Json } from '../core/jcs.js';
import type { Link } from '../core/link.js';
import type { Actor } from './api-keys.js';
import { refuse } from './errors.js';
import type { Receipt, SubmittedSignature } from './links.js';
import { type Page, decodeCursor, encodeCursor } from './pagination.js';
import type { DataCipher, Notary } from './ports.js';

export interface LinkRecord {
  linkHash: string;
  /** accepted → sealed (in a block) → anchored (tx broadcast) → confirmed (enough confirmations) */
  status: 'accepted' | 'sealed' | 'anchored' | 'confirmed';
  block: { height: number; leafIndex: number } | null;
  link: Link;
  signatures: SubmittedSignature[];
  receipt: Receipt;
}

interface LinkRow {
  seq: string;
  hash: string;
  canonical: string;
  signatures: SubmittedSignature[];
  accepted_at: string;
  receipt_sig: string;
  author: string;
  seal_height: string | null;
  seal_index: number | null;
  status: LinkRecord['status'];
}

// Status: accepted → sealed → anchored (an anchor covering its block is broadcast) → confirmed.
const LINK_SELECT = `SELECT l.*, s.height AS seal_height, s.leaf_index AS seal_index,
  CASE WHEN s.height IS NULL THEN 'accepted'
       WHEN EXISTS (SELECT 1 FROM anchors a WHERE a.status = 'confirmed' AND a.block_height >= s.height) THEN 'confirmed'
       WHEN EXISTS (SELECT 1 FROM anchors a WHERE a.status = 'broadcast' AND a.block_height >= s.height) THEN 'anchored'
       ELSE 'sealed' END AS status
  FROM links l LEFT JOIN link_seals s ON s.link_hash = l.hash`;

export interface LinkFilters {
  process?: string;
  mapId?: string;
  step?: string;
  tags?: string[];
  author?: string;
  prev?: string;
  ref?: string;
  from?: string; // acceptance time, inclusive
  to?: string; // acceptance time, exclusive
}

export interface MapSummary {
  process: string;
  mapId: string;
  heads: string[];
  links: number;
  createdAt: string;
  updatedAt: string;
}

const isSeqCursor = (v: unknown) => typeof v === 'string' && /^[0-9]{1,19}$/.test(v) && BigInt(v) <= 9223372036854775807n;

export class Queries {
  readonly #pool: Pool;
  readonly #notary: Notary;
  readonly #cipher: DataCipher;

  constructor(pool: Pool, notary: Notary, cipher: DataCipher) {
    this.#pool = pool;
    this.#notary = notary;
    this.#cipher = cipher;
  }

  #record(r: LinkRow): LinkRecord {
    const { keyId, publicKey } = this.#notary;
    return {
      linkHash: r.hash,
      status: r.status,
      block: r.seal_height === null ? null : { height: Number(r.seal_height), leafIndex: r.seal_index! },
      link: JSON.parse(r.canonical) as Link,
      signatures: r.signatures,
      receipt: { linkHash: r.hash, acceptedAt: r.accepted_at, notary: { keyId, alg: 'ed25519', publicKey }, sig: r.receipt_sig },
    };
  }

  /**
   * The processes an actor may read: all for admins, auditors and regulators; for a participant,
   * those whose roles include one of its roles (null = no restriction).
   */
  async visibleProcesses(actor: Actor): Promise<string[] | null> {
    if (actor.role !== 'participant') return null;
    const { rows } = await this.#pool.query<{ id: string }>(
      `SELECT DISTINCT pr.id FROM processes pr, participants pa
        WHERE pa.id = $1 AND (pr.definition -> 'roles') ?| pa.roles`,
      [actor.participantId],
    );
    return rows.map((r) => r.id);
  }

  async link(hash: string, actor: Actor): Promise<LinkRecord> {
    const { rows } = await this.#pool.query<LinkRow & { process: string }>(`${LINK_SELECT} WHERE l.hash = $1`, [hash]);
    const visible = await this.visibleProcesses(actor);
    if (!rows[0] || (visible && !visible.includes(rows[0].process))) refuse('not-found', `no link ${hash}`);
    return this.#record(rows[0]);
  }

  /** The private fields and their disclosures: for an admin or the link's author only. */
  async privateData(hash: string, actor: Actor): Promise<{ linkHash: string; fields: Record<string, Json>; disclosures: string[] }> {
    const { rows } = await this.#pool.query<LinkRow & { process: string; iv: Buffer | null; ciphertext: Buffer | null; tag: Buffer | null; erased_at: Date | null }>(
      `SELECT l.hash, l.author, l.process, p.iv, p.ciphertext, p.tag, e.erased_at FROM links l
         LEFT JOIN private_data p ON p.link_hash = l.hash LEFT JOIN erasures e ON e.link_hash = l.hash WHERE l.hash = $1`,
      [hash],
    );
    const row = rows[0];
    const visible = await this.visibleProcesses(actor);
    if (!row || (visible && !visible.includes(row.process))) refuse('not-found', `no link ${hash}`);
    if (actor.role !== 'admin' && !(actor.role === 'participant' && actor.participantId === row.author)) {
      refuse('forbidden', 'private data is readable by an admin and by the link\'s author only');
    }
    if (row.erased_at) refuse('gone', `the private data of ${hash} was erased at ${row.erased_at.toISOString()}`);
    if (!row.ciphertext || !row.iv || !row.tag) return { linkHash: hash, fields: {}, disclosures: [] };
    const disclosures = JSON.parse(this.#cipher.decrypt({ iv: row.iv, ciphertext: row.ciphertext, tag: row.tag }, hash)) as string[];
    const fields: Record<string, Json> = {};
    for (const d of disclosures) {
      const { field, value } = parseDisclosure(d);
      fields[field] = value;
    }
    return { linkHash: hash, fields, disclosures };
  }

  async search(f: LinkFilters, limit: number, cursor: string | undefined, actor: Actor): Promise<Page<LinkRecord>> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      args.push(value);
      where.push(sql.replace('?', `$${args.length}`));
    };
    const visible = await this.visibleProcesses(actor);
    if (visible) add('process = ANY(?)', visible);
    if (f.process !== undefined) add('process = ?', f.process);
    if (f.mapId !== undefined) add('map_id = ?', f.mapId);
    if (f.step !== undefined) add('step = ?', f.step);
    if (f.author !== undefined) add('author = ?', f.author);
    if (f.tags?.length) add('tags @> ?', f.tags);
    if (f.prev !== undefined) add('prev @> ?', [f.prev]);
    if (f.ref !== undefined) add('refs @> ?', [f.ref]);
    if (f.from !== undefined) add('accepted_ts >= ?', f.from);
    if (f.to !== undefined) add('accepted_ts < ?', f.to);
    if (cursor !== undefined) add('seq > ?', decodeCursor(cursor, isSeqCursor));
    args.push(limit + 1);
    const { rows } = await this.#pool.query<LinkRow>(
      `${LINK_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY l.seq LIMIT $${args.length}`,
      args,
    );
    const page = rows.slice(0, limit);
    return { items: page.map((r) => this.#record(r)), next: rows.length > limit ? encodeCursor(page[page.length - 1]!.seq) : null };
  }

  async maps(process: string | undefined, limit: number, cursor: string | undefined, actor: Actor): Promise<Page<MapSummary>> {
    const visible = await this.visibleProcesses(actor);
    const after = cursor === undefined ? null : (decodeCursor(cursor, (v) => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string')) as [string, string]);
    const { rows } = await this.#pool.query<{ process: string; map_id: string; heads: string[]; links: number; created_at: Date; updated_at: Date }>(
      `SELECT * FROM maps WHERE ($1::text IS NULL OR process = $1)
         AND ($2::text IS NULL OR (process, map_id) > ($2, $3))
         AND ($5::text[] IS NULL OR process = ANY($5)) ORDER BY process, map_id LIMIT $4`,
      [process ?? null, after?.[0] ?? null, after?.[1] ?? null, limit + 1, visible],
    );
    const items = rows.slice(0, limit).map((r) => ({
      process: r.process,
      mapId: r.map_id,
      heads: r.heads,
      links: r.links,
      createdAt: r.created_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    }));
    const last = items[items.length - 1];
    return { items, next: rows.length > limit && last ? encodeCursor([last.process, last.mapId]) : null };
  }

  /** A map with its links in acceptance order (at most `limit`, then a cursor). */
  async map(process: string, mapId: string, limit: number, cursor: string | undefined, actor: Actor): Promise<MapSummary & { items: LinkRecord[]; next: string | null }> {
    const exact = await this.#mapSummary(process, mapId);
    const visible = await this.visibleProcesses(actor);
    if (!exact || (visible && !visible.includes(process))) refuse('not-found', `process ${process} has no map ${mapId}`);
    const links = await this.search({ process, mapId }, limit, cursor, actor);
    return { ...exact, items: links.items, next: links.next };
  }

  async #mapSummary(process: string, mapId: string): Promise<MapSummary | undefined> {
    const { rows } = await this.#pool.query<{ process: string; map_id: string; heads: string[]; links: number; created_at: Date; updated_at: Date }>(
      'SELECT * FROM maps WHERE process = $1 AND map_id = $2',
      [process, mapId],
    );
    const r = rows[0];
    return r && { process: r.process, mapId: r.map_id, heads: r.heads, links: r.links, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString() };
  }
}

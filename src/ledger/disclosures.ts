// Selective disclosure and erasure. An admin or a link's author grants a reader (an auditor's or a
// regulator's API key) named private fields of a link, or of a whole map; the reader then gets those
// fields' disclosures (protocol.md §3), which it checks against the link's public digests itself.
// Erasure destroys the private data and its salts — proofs and bundles do not change — and records
// who erased what, when and why.
import type { Pool } from 'pg';
import { parseDisclosure } from '../core/disclosure.js';
import type { Actor } from './api-keys.js';
import { refuse } from './errors.js';
import type { DataCipher } from './ports.js';
import type { Queries } from './queries.js';
import { rollback } from '../db/pool.js';

interface PrivateRow {
  hash: string;
  author: string;
  process: string;
  iv: Buffer | null;
  ciphertext: Buffer | null;
  tag: Buffer | null;
  erased_at: Date | null;
}

export class Disclosures {
  readonly #pool: Pool;
  readonly #cipher: DataCipher;
  readonly #queries: Queries;

  constructor(pool: Pool, cipher: DataCipher, queries: Queries) {
    this.#pool = pool;
    this.#cipher = cipher;
    this.#queries = queries;
  }

  async #load(hashes: string[]): Promise<PrivateRow[]> {
    const { rows } = await this.#pool.query<PrivateRow>(
      `SELECT l.hash, l.author, l.process, p.iv, p.ciphertext, p.tag, e.erased_at FROM links l
         LEFT JOIN private_data p ON p.link_hash = l.hash LEFT JOIN erasures e ON e.link_hash = l.hash
        WHERE l.hash = ANY($1)`,
      [hashes],
    );
    return rows;
  }

  #open(row: PrivateRow): string[] {
    if (!row.ciphertext || !row.iv || !row.tag) return [];
    return JSON.parse(this.#cipher.decrypt({ iv: row.iv, ciphertext: row.ciphertext, tag: row.tag }, row.hash)) as string[];
  }

  async #owned(hash: string, actor: Actor): Promise<PrivateRow> {
    const [row] = await this.#load([hash]);
    const visible = await this.#queries.visibleProcesses(actor);
    if (!row || (visible && !visible.includes(row.process))) refuse('not-found', `no link ${hash}`);
    if (actor.role !== 'admin' && actor.participantId !== row.author) refuse('forbidden', "only an admin or the link's author may disclose or erase its private data");
    if (row.erased_at) refuse('gone', `the private data of ${hash} was erased at ${row.erased_at.toISOString()}`);
    return row;
  }

  async #reader(readerKeyId: string): Promise<void> {
    const { rows } = await this.#pool.query<{ role: string; revoked_at: Date | null }>('SELECT role, revoked_at FROM api_keys WHERE id = $1', [readerKeyId]);
    const r = rows[0];
    if (!r || r.revoked_at) refuse('not-found', `no active API key ${readerKeyId}`);
    if (r.role !== 'auditor' && r.role !== 'regulator') refuse('malformed', `fields are disclosed to auditor or regulator keys; ${readerKeyId} is ${r.role}`);
  }

  /** Grants `fields` of one link to a reader; returns the fields granted. */
  async grant(hash: string, readerKeyId: string, fields: string[], actor: Actor): Promise<{ linkHash: string; reader: string; fields: string[] }> {
    const row = await this.#owned(hash, actor);
    await this.#reader(readerKeyId);
    const present = new Set(this.#open(row).map((d) => parseDisclosure(d).field));
    const missing = fields.filter((f) => !present.has(f));
    if (missing.length) refuse('malformed', `the link has no private field named ${missing.map((f) => JSON.stringify(f)).join(', ')}`);
    await this.#insert([hash], fields, readerKeyId, actor);
    return { linkHash: hash, reader: readerKeyId, fields };
  }

  /** Grants `fields` of every link of a map (authored by the actor, unless admin) that has them. */
  async grantMap(process: string, mapId: string, readerKeyId: string, fields: string[], actor: Actor): Promise<{ reader: string; fields: string[]; links: string[] }> {
    await this.#reader(readerKeyId);
    const visible = await this.#queries.visibleProcesses(actor);
    if (visible && !visible.includes(process)) refuse('not-found', `process ${process} has no map ${mapId}`);
    const { rows } = await this.#pool.query<{ hash: string }>(
      'SELECT hash FROM links WHERE process = $1 AND map_id = $2 AND ($3::text IS NULL OR author = $3) ORDER BY seq',
      [process, mapId, actor.role === 'admin' ? null : actor.participantId],
    );
    if (rows.length === 0) refuse('not-found', `process ${process} has no map ${mapId}${actor.role === 'admin' ? '' : ' with links you authored'}`);
    const links: string[] = [];
    for (const row of (await this.#load(rows.map((r) => r.hash))).filter((r) => !r.erased_at)) {
      const present = new Set(this.#open(row).map((d) => parseDisclosure(d).field));
      const granted = fields.filter((f) => present.has(f));
      if (granted.length === 0) continue;
      await this.#insert([row.hash], granted, readerKeyId, actor);
      links.push(row.hash);
    }
    return { reader: readerKeyId, fields, links };
  }

  async #insert(hashes: string[], fields: string[], readerKeyId: string, actor: Actor): Promise<void> {
    await this.#pool.query(
      `INSERT INTO disclosure_grants (link_hash, field, reader_key_id, granted_by)
       SELECT h, f, $3, $4 FROM unnest($1::text[]) h, unnest($2::text[]) f ON CONFLICT DO NOTHING`,
      [hashes, fields, readerKeyId, actor.keyId],
    );
  }

  /** The disclosures of one link that this reader may see (an admin or the author sees all). */
  async forReader(hash: string, actor: Actor): Promise<{ linkHash: string; disclosures: string[] }> {
    const [row] = await this.#load([hash]);
    const visible = await this.#queries.visibleProcesses(actor);
    if (!row || (visible && !visible.includes(row.process))) refuse('not-found', `no link ${hash}`);
    if (row.erased_at) refuse('gone', `the private data of ${hash} was erased at ${row.erased_at.toISOString()}`);
    if (actor.role === 'admin' || actor.participantId === row.author) return { linkHash: hash, disclosures: this.#open(row) };
    if (actor.role === 'participant') refuse('forbidden', "a participant sees the disclosures of the links it authored");
    return { linkHash: hash, disclosures: (await this.forReaderMany([hash], actor.keyId)).get(hash) ?? [] };
  }

  /** Granted disclosures for many links at once (bundles): link hash → disclosure strings. */
  async forReaderMany(hashes: string[], readerKeyId: string): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const { rows } = await this.#pool.query<{ link_hash: string; field: string }>(
      'SELECT link_hash, field FROM disclosure_grants WHERE reader_key_id = $1 AND link_hash = ANY($2)',
      [readerKeyId, hashes],
    );
    if (rows.length === 0) return out;
    const wanted = new Map<string, Set<string>>();
    for (const r of rows) (wanted.get(r.link_hash) ?? wanted.set(r.link_hash, new Set()).get(r.link_hash)!).add(r.field);
    for (const row of await this.#load([...wanted.keys()])) {
      if (row.erased_at) continue;
      const fields = wanted.get(row.hash)!;
      const granted = this.#open(row).filter((d) => fields.has(parseDisclosure(d).field));
      if (granted.length) out.set(row.hash, granted);
    }
    return out;
  }

  /** Destroys a link's private data and salts; the erasure itself is recorded. */
  async erase(hash: string, reason: string, actor: Actor): Promise<{ linkHash: string; erasedAt: string; reason: string }> {
    await this.#owned(hash, actor);
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query('DELETE FROM private_data WHERE link_hash = $1', [hash]);
      const { rows } = await client.query<{ erased_at: Date }>(
        'INSERT INTO erasures (link_hash, reason, erased_by) VALUES ($1, $2, $3) RETURNING erased_at',
        [hash, reason, actor.keyId],
      );
      await client.query('COMMIT');
      return { linkHash: hash, erasedAt: rows[0]!.erased_at.toISOString(), reason };
    } catch (e) {
      broken = await rollback(client, e);
      if ((e as { code?: string }).code === '23505') refuse('gone', `the private data of ${hash} was already erased`);
      throw e;
    } finally {
      client.release(broken);
    }
  }
}

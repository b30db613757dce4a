// Participants (organisations or systems) with roles and public keys. Keys are added and revoked,
// never changed or deleted: a link signed before a revocation stays valid, one signed after it is
// refused.
import type { Pool, PoolClient } from 'pg';
import { parseHex } from '../core/bytes.js';
import { type Alg, isAlg, publicKeyValid } from '../core/signature.js';
import { isStorableInstant, refuse } from './errors.js';
import { type Page, decodeCursor, encodeCursor } from './pagination.js';
import { rollback } from '../db/pool.js';

export interface KeyRecord {
  keyId: string;
  alg: Alg;
  publicKey: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface Participant {
  id: string;
  name: string;
  roles: string[];
  createdAt: string;
  keys: KeyRecord[];
}

export interface NewKey {
  keyId: string;
  alg: string;
  publicKey: string;
  expiresAt?: string;
}

interface KeyRow {
  participant_id: string;
  key_id: string;
  alg: Alg;
  public_key: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}

const toKey = (r: KeyRow): KeyRecord => ({
  keyId: r.key_id,
  alg: r.alg,
  publicKey: r.public_key,
  createdAt: r.created_at.toISOString(),
  expiresAt: r.expires_at?.toISOString() ?? null,
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

function checkKey(k: NewKey, now: Date): void {
  if (!isAlg(k.alg)) refuse('key-invalid', `key ${k.keyId}: unknown algorithm ${k.alg}`);
  const bytes = parseHex(k.publicKey);
  if (!bytes || !publicKeyValid(k.alg, bytes)) {
    refuse('key-invalid', `key ${k.keyId} is not a valid ${k.alg} public key (${k.alg === 'ed25519' ? '32 bytes, canonical, not of small order' : '33-byte compressed point on the curve'})`);
  }
  if (k.expiresAt !== undefined && !isStorableInstant(k.expiresAt)) refuse('malformed', `key ${k.keyId}: expiresAt ${k.expiresAt} is not a real instant`);
  if (k.expiresAt !== undefined && Date.parse(k.expiresAt) <= now.getTime()) refuse('key-invalid', `key ${k.keyId} has already expired`);
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === '23505';
}

export class Participants {
  readonly #pool: Pool;
  readonly #now: () => Date;

  constructor(pool: Pool, now: () => Date) {
    this.#pool = pool;
    this.#now = now;
  }

  async add(input: { id: string; name: string; roles: string[]; keys?: NewKey[] }): Promise<Participant> {
    const now = this.#now();
    for (const k of input.keys ?? []) checkKey(k, now);
    if (new Set((input.keys ?? []).map((k) => k.keyId)).size !== (input.keys ?? []).length) refuse('malformed', 'two keys with one keyId');
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO participants (id, name, roles) VALUES ($1, $2, $3)', [input.id, input.name, [...new Set(input.roles)]]);
      for (const k of input.keys ?? []) await insertKey(client, input.id, k);
      await client.query('COMMIT');
    } catch (e) {
      broken = await rollback(client, e);
      if (isUniqueViolation(e)) refuse('conflict', `participant ${input.id} exists`);
      throw e;
    } finally {
      client.release(broken);
    }
    return this.get(input.id);
  }

  async addKey(participantId: string, key: NewKey): Promise<KeyRecord> {
    checkKey(key, this.#now());
    await this.get(participantId);
    try {
      await insertKey(this.#pool, participantId, key);
    } catch (e) {
      if (isUniqueViolation(e)) refuse('conflict', `participant ${participantId} already has a key ${key.keyId}`);
      throw e;
    }
    return (await this.get(participantId)).keys.find((k) => k.keyId === key.keyId)!;
  }

  async revokeKey(participantId: string, keyId: string, reason: string | undefined): Promise<KeyRecord> {
    const { rows } = await this.#pool.query<KeyRow>(
      `UPDATE participant_keys SET revoked_at = $3, revoke_reason = $4
        WHERE participant_id = $1 AND key_id = $2 AND revoked_at IS NULL RETURNING *`,
      [participantId, keyId, this.#now(), reason ?? null],
    );
    if (rows[0]) return toKey(rows[0]);
    const existing = (await this.get(participantId)).keys.find((k) => k.keyId === keyId);
    if (!existing) refuse('not-found', `participant ${participantId} has no key ${keyId}`);
    refuse('conflict', `key ${participantId}/${keyId} was already revoked at ${existing.revokedAt}`);
  }

  async get(id: string): Promise<Participant> {
    const { rows } = await this.#pool.query<{ id: string; name: string; roles: string[]; created_at: Date }>(
      'SELECT * FROM participants WHERE id = $1',
      [id],
    );
    if (!rows[0]) refuse('not-found', `participant ${id} does not exist`);
    const keys = await this.#pool.query<KeyRow>('SELECT * FROM participant_keys WHERE participant_id = $1 ORDER BY created_at, key_id', [id]);
    return { id: rows[0].id, name: rows[0].name, roles: rows[0].roles, createdAt: rows[0].created_at.toISOString(), keys: keys.rows.map(toKey) };
  }

  async list(limit: number, cursor?: string): Promise<Page<Omit<Participant, 'keys'>>> {
    const after = cursor === undefined ? '' : (decodeCursor(cursor, (v) => typeof v === 'string') as string);
    const { rows } = await this.#pool.query<{ id: string; name: string; roles: string[]; created_at: Date }>(
      'SELECT * FROM participants WHERE id > $1 ORDER BY id LIMIT $2',
      [after, limit + 1],
    );
    const items = rows.slice(0, limit).map((r) => ({ id: r.id, name: r.name, roles: r.roles, createdAt: r.created_at.toISOString() }));
    return { items, next: rows.length > limit ? encodeCursor(items[items.length - 1]!.id) : null };
  }
}

/**
 * One public key belongs to one participant: otherwise a participant registering another's key could
 * present that one's signatures as its own (co-)signatures. (Two registrations of one key racing each
 * other could both pass this check; registering keys is an administrative act, not a hot path.)
 */
async function insertKey(db: Pool | PoolClient, participantId: string, k: NewKey): Promise<void> {
  const { rowCount } = await db.query(
    `INSERT INTO participant_keys (participant_id, key_id, alg, public_key, expires_at)
     SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM participant_keys WHERE public_key = $4 AND participant_id <> $1)`,
    [participantId, k.keyId, k.alg, k.publicKey, k.expiresAt ?? null],
  );
  if (rowCount !== 1) refuse('conflict', `key ${k.keyId}: this public key is registered to another participant`);
}

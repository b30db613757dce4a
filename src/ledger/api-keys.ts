// Bearer API keys. Only SHA-256 of a secret is stored; the secret is shown once, at creation.
// Lookups are cached for a few seconds (a revocation takes effect within KEY_CACHE_MS).
import { randomBytes } from 'node:crypto';
import { nodeSha256Hex } from '../node/hash.js';
import type { Pool } from 'pg';
import { refuse } from './errors.js';
import { rollback } from '../db/pool.js';

export const ROLES = ['admin', 'participant', 'auditor', 'regulator'] as const;
export type Role = (typeof ROLES)[number];

export interface Actor {
  keyId: string;
  role: Role;
  participantId: string | null;
}

const KEY_CACHE_MS = 5_000;
const hashSecret = (secret: string) => nodeSha256Hex(secret);

export class ApiKeys {
  readonly #pool: Pool;
  readonly #cache = new Map<string, { actor: Actor | null; until: number }>();

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** What the cache knows of a key: its actor, null (unknown or revoked), or undefined (not cached: authenticate looks it up). */
  cached(secret: string): Actor | null | undefined {
    if (secret.length < 16 || secret.length > 256) return null;
    const cached = this.#cache.get(hashSecret(secret));
    return cached && cached.until > Date.now() ? cached.actor : undefined;
  }

  async authenticate(secret: string): Promise<Actor | null> {
    const known = this.cached(secret);
    if (known !== undefined) return known;
    const hash = hashSecret(secret);
    const { rows } = await this.#pool.query<{ id: string; role: Role; participant_id: string | null }>(
      'SELECT id, role, participant_id FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL',
      [hash],
    );
    const actor = rows[0] ? { keyId: rows[0].id, role: rows[0].role, participantId: rows[0].participant_id } : null;
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(hash, { actor, until: Date.now() + KEY_CACHE_MS });
    return actor;
  }

  async create(input: { role: Role; participantId?: string; label?: string }): Promise<{ id: string; secret: string; role: Role; participantId: string | null }> {
    if ((input.role === 'participant') !== (input.participantId !== undefined)) {
      refuse('malformed', 'a participant key needs a participantId, and only a participant key has one');
    }
    if (input.participantId !== undefined) {
      const { rowCount } = await this.#pool.query('SELECT 1 FROM participants WHERE id = $1', [input.participantId]);
      if (!rowCount) refuse('unknown-participant', `participant ${input.participantId} does not exist`);
    }
    const id = `key_${randomBytes(8).toString('hex')}`;
    const secret = `pop_${randomBytes(32).toString('base64url')}`;
    await this.#pool.query('INSERT INTO api_keys (id, secret_hash, role, participant_id, label) VALUES ($1, $2, $3, $4, $5)', [
      id,
      hashSecret(secret),
      input.role,
      input.participantId ?? null,
      input.label ?? null,
    ]);
    return { id, secret, role: input.role, participantId: input.participantId ?? null };
  }

  /** Makes `secret` a valid admin key (idempotent): the bootstrap key from POP_ADMIN_KEY. */
  async ensureAdmin(secret: string, label = 'bootstrap admin (POP_ADMIN_KEY)'): Promise<void> {
    await this.#pool.query(
      `INSERT INTO api_keys (id, secret_hash, role, label) VALUES ($1, $2, 'admin', $3) ON CONFLICT (secret_hash) DO NOTHING`,
      [`key_${hashSecret(secret).slice(0, 16)}`, hashSecret(secret), label],
    );
  }

  /** Creates a first admin key when none exists; returns its secret, or null when one exists. */
  async bootstrapAdmin(): Promise<string | null> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['pop:bootstrap-admin']);
      const { rowCount } = await client.query("SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1");
      if (rowCount) {
        await client.query('COMMIT');
        return null;
      }
      const secret = `pop_${randomBytes(32).toString('base64url')}`;
      await client.query("INSERT INTO api_keys (id, secret_hash, role, label) VALUES ($1, $2, 'admin', 'first admin')", [
        `key_${randomBytes(8).toString('hex')}`,
        hashSecret(secret),
      ]);
      await client.query('COMMIT');
      return secret;
    } catch (e) {
      broken = await rollback(client, e);
      throw e;
    } finally {
      client.release(broken);
    }
  }

  async revoke(id: string): Promise<void> {
    const { rowCount } = await this.#pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
    if (!rowCount) refuse('not-found', `no active API key ${id}`);
    this.#cache.clear();
  }
}

// Forward-only SQL migrations from migrations/NNN_name.sql, one transaction each. Concurrent runners
// (several `pop serve` starting at once) serialize on an advisory lock, and each re-reads what is
// applied after taking it, so every migration runs exactly once. An applied file whose content
// changed is an error: migrations are history, never edited.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Pool } from 'pg';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
const LOCK_KEY = 0x706f706d; // 'popm'

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  return files.map((file, i) => {
    const m = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`migration file ${file} is not named NNN_name.sql`);
    const version = Number(m[1]);
    if (version !== i + 1) throw new Error(`migration ${file}: expected number ${i + 1}`);
    const sql = readFileSync(`${dir}/${file}`, 'utf8');
    return { version, name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
}

/** Applies pending migrations; returns the versions applied by this call. */
export async function migrate(pool: Pool, migrations = loadMigrations()): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS pop_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number; checksum: string }>('SELECT version, checksum FROM pop_migrations');
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    for (const v of done.keys()) {
      if (!migrations.some((m) => m.version === v)) throw new Error(`database has migration ${v}, which this version does not know: is it older than the database?`);
    }
    for (const m of migrations) {
      const checksum = done.get(m.version);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) throw new Error(`migration ${m.version}_${m.name} was edited after it was applied`);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO pop_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.version}_${m.name} failed: ${(e as Error).message}`, { cause: e });
      }
      applied.push(m.version);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
    client.release();
  }
  return applied;
}

/** True when every known migration is applied (for /readyz). */
export async function migrationsCurrent(pool: Pool, migrations = loadMigrations()): Promise<boolean> {
  try {
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM pop_migrations');
    return Number(rows[0]?.n) === migrations.length;
  } catch (e) {
    if ((e as { code?: string }).code === '42P01') return false; // undefined_table: not even the bookkeeping table yet
    throw e; // the database is unreachable: say so, not "migrations are not applied"
  }
}

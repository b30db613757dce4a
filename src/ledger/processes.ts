// Processes: register (version 1), new version, get, list. Versions are immutable rows; compiled
// validators are cached per version, and a version is compiled once however many requests want it
// at the same time: after a start, 50 concurrent appends used to compile order-to-cash 50 times
// (≈ 0.3 s each on the event loop; docs/performance.md, cold start).
import type { Pool } from 'pg';
import { sha256Hex } from '../core/hash.js';
import { canonicalJson } from '../core/jcs.js';
import { refuse } from './errors.js';
import { type CompiledProcess, type ProcessDefinition, checkDefinition, compileProcess } from './process-rules.js';
import { type Page, decodeCursor, encodeCursor } from './pagination.js';
import { rollback } from '../db/pool.js';

export interface ProcessVersion {
  id: string;
  version: number;
  hash: string;
  definition: ProcessDefinition;
  createdAt: string;
}

interface Row {
  id: string;
  version: number;
  hash: string;
  definition: ProcessDefinition;
  created_at: Date;
}

const toVersion = (r: Row): ProcessVersion => ({
  id: r.id,
  version: r.version,
  hash: r.hash,
  definition: r.definition,
  createdAt: r.created_at.toISOString(),
});

export interface ProcessesOptions {
  /** Compiles a version's validators (default compileProcess; tests count the calls). */
  compile?: typeof compileProcess;
}

export class Processes {
  readonly #pool: Pool;
  readonly #compile: typeof compileProcess;
  /** Per `id@version`: the compiled validators, or the one load-and-compile in flight (single flight). */
  readonly #compiled = new Map<string, Promise<CompiledProcess | undefined>>();

  constructor(pool: Pool, options: ProcessesOptions = {}) {
    this.#pool = pool;
    this.#compile = options.compile ?? compileProcess;
  }

  /** Registers a new process (version 1), or a new version of an existing one when `id` is given. */
  async register(value: unknown, existingId?: string): Promise<ProcessVersion> {
    const def = checkDefinition(value);
    if (existingId !== undefined && def.id !== existingId) {
      refuse('process-invalid', `the definition's id ${def.id} is not the process ${existingId}`);
    }
    const hash = sha256Hex(canonicalJson(def));
    this.#compile(def.id, 0, hash, def); // refuses schemas that do not compile, before anything is stored
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      // Serialize version numbering per process id.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`process:${def.id}`]);
      const { rows } = await client.query<{ max: number | null }>('SELECT max(version) AS max FROM processes WHERE id = $1', [def.id]);
      const latest = rows[0]?.max ?? null;
      if (existingId === undefined && latest !== null) refuse('conflict', `process ${def.id} exists; post a new version to /v1/processes/${def.id}/versions`);
      if (existingId !== undefined && latest === null) refuse('not-found', `process ${existingId} does not exist`);
      const version = (latest ?? 0) + 1;
      const inserted = await client.query<Row>(
        'INSERT INTO processes (id, version, definition, hash) VALUES ($1, $2, $3, $4) RETURNING *',
        [def.id, version, JSON.stringify(def), hash],
      );
      await client.query('COMMIT');
      return toVersion(inserted.rows[0]!);
    } catch (e) {
      broken = await rollback(client, e);
      throw e;
    } finally {
      client.release(broken);
    }
  }

  async get(id: string, version?: number): Promise<ProcessVersion> {
    const { rows } = version === undefined
      ? await this.#pool.query<Row>('SELECT * FROM processes WHERE id = $1 ORDER BY version DESC LIMIT 1', [id])
      : await this.#pool.query<Row>('SELECT * FROM processes WHERE id = $1 AND version = $2', [id, version]);
    if (!rows[0]) refuse('not-found', version === undefined ? `process ${id} does not exist` : `process ${id} has no version ${version}`);
    return toVersion(rows[0]);
  }

  /** Latest version of each process, by id. */
  async list(limit: number, cursor?: string): Promise<Page<ProcessVersion>> {
    const after = cursor === undefined ? '' : decodeCursor(cursor, (v) => typeof v === 'string') as string;
    const { rows } = await this.#pool.query<Row>(
      `SELECT DISTINCT ON (id) * FROM processes WHERE id > $1 ORDER BY id, version DESC LIMIT $2`,
      [after, limit + 1],
    );
    const items = rows.slice(0, limit).map(toVersion);
    return { items, next: rows.length > limit ? encodeCursor(items[items.length - 1]!.id) : null };
  }

  async versions(id: string): Promise<ProcessVersion[]> {
    const { rows } = await this.#pool.query<Row>('SELECT * FROM processes WHERE id = $1 ORDER BY version', [id]);
    if (rows.length === 0) refuse('not-found', `process ${id} does not exist`);
    return rows.map(toVersion);
  }

  /**
   * The compiled validators of a version, or undefined when it does not exist. Concurrent callers
   * share one load-and-compile; a failure or a missing version is not kept, so a later call tries again.
   */
  compiled(id: string, version: number): Promise<CompiledProcess | undefined> {
    const key = `${id}@${version}`;
    let c = this.#compiled.get(key);
    if (!c) {
      c = this.#load(id, version);
      this.#compiled.set(key, c);
      const forget = () => {
        if (this.#compiled.get(key) === c) this.#compiled.delete(key);
      };
      c.then((found) => {
        if (!found) forget();
      }, forget);
    }
    return c;
  }

  async #load(id: string, version: number): Promise<CompiledProcess | undefined> {
    const { rows } = await this.#pool.query<Row>('SELECT * FROM processes WHERE id = $1 AND version = $2', [id, version]);
    return rows[0] ? this.#compile(id, version, rows[0].hash, rows[0].definition) : undefined;
  }
}

// Where the benchmark's databases live: DATABASE_URL as given (the service's own rule), else a fresh
// database on TEST_DATABASE_URL's server, else the embedded PostgreSQL (the service's zero-setup
// default) in a temporary directory. The seal-versus-chain-length figures always get fresh databases
// of their own on the same server: they seed a chain directly and must not touch a real ledger.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { createDatabase, onServer } from '../src/db/scratch.js';

export interface Fresh {
  url: string;
  drop(): Promise<void>;
}

export interface BenchDatabases {
  /** The database the service runs on. */
  url: string;
  /** How it was chosen, for the report. */
  source: string;
  /** A new, migrated database on the same server (dropped by `drop` or `close`). */
  fresh(label: string): Promise<Fresh>;
  close(): Promise<void>;
}

function freshOn(serverUrl: string, created: Set<Fresh>) {
  return async (label: string): Promise<Fresh> => {
    const db = await createDatabase(serverUrl, `pop_bench_${label}_${randomBytes(4).toString('hex')}`);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
    const fresh: Fresh = {
      url: db.url,
      drop: async () => {
        if (created.delete(fresh)) await db.drop();
      },
    };
    created.add(fresh);
    return fresh;
  };
}

export async function openDatabases(log: (msg: string) => void): Promise<BenchDatabases> {
  const created = new Set<Fresh>();
  const dropAll = async () => {
    for (const f of [...created]) await f.drop().catch((e: Error) => log(`could not drop a benchmark database: ${e.message}`));
  };
  const given = process.env['DATABASE_URL'];
  if (given) {
    return { url: given, source: 'DATABASE_URL', fresh: freshOn(given, created), close: dropAll };
  }
  const testServer = process.env['TEST_DATABASE_URL'];
  if (testServer) {
    const fresh = freshOn(testServer, created);
    const main = await fresh('service');
    return { url: main.url, source: 'a fresh database on TEST_DATABASE_URL\'s server', fresh, close: dropAll };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'pop-bench-'));
  chmodSync(dataDir, 0o755); // the embedded server runs as the postgres user when we are root
  const embedded = await startEmbeddedPostgres({ dataDir, log: (msg) => !msg.startsWith('postgres:') && log(msg) });
  const fresh = freshOn(embedded.url, created);
  const main = await fresh('service');
  return {
    url: main.url,
    source: 'the embedded PostgreSQL (a temporary data directory)',
    fresh,
    close: async () => {
      await dropAll();
      await embedded.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The server's description and the durability settings that bound commit-heavy paths. */
export async function postgresInfo(url: string): Promise<{ version: string; synchronousCommit: string; fsync: string; sharedBuffers: string; maxConnections: string }> {
  return onServer(url, async (c) => {
    const show = async (name: string) => (await c.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name]!;
    return {
      version: (await c.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v,
      synchronousCommit: await show('synchronous_commit'),
      fsync: await show('fsync'),
      sharedBuffers: await show('shared_buffers'),
      maxConnections: await show('max_connections'),
    };
  });
}

// A fresh, uniquely named database per caller, on TEST_DATABASE_URL's server when that is set (CI),
// else on the embedded server that test/setup/database.ts (a vitest globalSetup) started for the run.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL ?? inject('embeddedDatabaseUrl');
  if (!url) {
    throw new Error(
      'No test database server: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test), ' +
        "or add 'test/setup/database.ts' to globalSetup in the vitest config.",
    );
  }
  return url;
}

async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const base = serverUrl();
  const name = `pop_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  await onServer(base, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    // WITH (FORCE) (PostgreSQL 13+) terminates the sessions still connected, e.g. from a pool the
    // test did not end, which would otherwise make DROP DATABASE fail.
    drop: () =>
      (dropped ??= onServer(base, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
      })),
  };
}

// createTestDatabase() against whichever server this run uses: TEST_DATABASE_URL's, or the embedded
// one started by the globalSetup test/setup/database.ts.
import pg from 'pg';
import { afterEach, expect, test } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import type { TestDatabase } from '../helpers/db.js';

const made: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((db) => db.drop()));
});

async function make(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  made.push(db);
  return db;
}

test('each call gives a fresh, separate, usable database', async () => {
  const [a, b] = await Promise.all([make(), make()]);
  expect(a.url).not.toBe(b.url);
  const pa = new pg.Pool({ connectionString: a.url });
  const pb = new pg.Pool({ connectionString: b.url });
  try {
    const { rows } = await pa.query('SELECT current_database() AS name');
    expect(a.url.endsWith(`/${rows[0].name}`)).toBe(true);
    expect((await pa.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).rows[0].n).toBe(0);
    await pa.query('CREATE TABLE only_in_a (x int)');
    expect((await pb.query(`SELECT to_regclass('only_in_a') AS t`)).rows[0].t).toBeNull();
  } finally {
    await Promise.all([pa.end(), pb.end()]);
  }
});

test('drop() removes the database even with sessions still connected to it', async () => {
  const db = await createTestDatabase();
  const name = decodeURIComponent(new URL(db.url).pathname.slice(1));
  const left = new pg.Client({ connectionString: db.url });
  const ended = new Promise<unknown>((resolve) => left.on('error', resolve));
  await left.connect();
  await left.query('SELECT 1');
  await db.drop();
  expect(String(await ended)).toMatch(/terminat/i);

  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? db.url.replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  try {
    expect((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount).toBe(0);
  } finally {
    await admin.end();
  }
  await db.drop(); // idempotent
});

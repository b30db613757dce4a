// rollback() (src/db/pool.ts): after a failed transaction a pooled client goes back to the pool only
// when it can serve the next borrower. A server-side error leaves the connection usable (the same
// backend serves again); a client-side timeout leaves it running the statement, so it is discarded
// and the next borrower gets a fresh connection instead of waiting behind the old statement.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rollback } from '../../src/db/pool.js';
import { type TestDatabase, createTestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  // One client, so "the next borrower" gets whatever the last one gave back.
  pool = new pg.Pool({ connectionString: db.url, max: 1, query_timeout: 300 });
});

afterAll(async () => {
  await pool.end();
  await db.drop();
});

async function backendPid(): Promise<number> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

/** Runs `statement` in a transaction that fails, and releases the client as the ledger does. */
async function failingTransaction(statement: string): Promise<{ error: unknown; discarded: Error | undefined }> {
  const client = await pool.connect();
  let discarded: Error | undefined;
  let error: unknown;
  try {
    await client.query('BEGIN');
    await client.query(statement);
  } catch (e) {
    error = e;
    discarded = await rollback(client, e);
  } finally {
    client.release(discarded);
  }
  return { error, discarded };
}

describe('rollback() and release', () => {
  test('a server error: rolled back, the same connection serves the next borrower', async () => {
    const before = await backendPid();
    const { error, discarded } = await failingTransaction('SELECT 1 / 0');
    expect((error as { code?: string }).code).toBe('22012');
    expect(discarded).toBeUndefined();
    expect(await backendPid()).toBe(before);
    // and it is not left inside the failed transaction
    const { rows } = await pool.query<{ t: string }>("SELECT current_setting('transaction_isolation') AS t, now() = statement_timestamp() AS fresh");
    expect(rows).toHaveLength(1);
  });

  test('a client-side timeout: the connection is discarded, the next borrower gets a fresh one at once', async () => {
    const before = await backendPid();
    const { error, discarded } = await failingTransaction('SELECT pg_sleep(5)');
    expect((error as Error).message).toBe('Query read timeout');
    expect(discarded).toBeInstanceOf(Error);
    // Had the busy client come back, this would wait for the sleep and then time out itself.
    const after = await backendPid();
    expect(after).not.toBe(before);
  });
});

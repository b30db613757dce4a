// Timeouts for the service's connection pool, so that a database that is down, paused or saturated
// turns into quick 503 answers instead of requests that wait forever. Without them node-postgres
// waits without limit: for a free client when the pool is full, for the server's answer to a new
// connection (a stopped server's kernel still accepts the TCP connection), and for every query.
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { isDatabaseUnavailable } from './errors.js';

export interface DbTimeouts {
  /** Server side: PostgreSQL cancels a statement running longer than this. */
  statementMs: number;
  /** Waiting for a free client of the pool, and for a new connection's handshake. */
  connectMs: number;
}

/** Slack for a server that has not even been able to cancel its own statement (stopped, hung, cut off). */
export const CLIENT_SLACK_MS = 2_000;

/** pg's own message for a client-side query_timeout (the server did not answer at all), also as a cause. */
export function isReadTimeout(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) if (e.message === 'Query read timeout') return true;
  return false;
}

export function poolTimeouts(t: DbTimeouts): Pick<PoolConfig, 'connectionTimeoutMillis' | 'statement_timeout' | 'query_timeout' | 'idle_in_transaction_session_timeout'> {
  return {
    connectionTimeoutMillis: t.connectMs,
    statement_timeout: t.statementMs,
    // Client side: the answer to any query, in case the server cannot cancel (see CLIENT_SLACK_MS).
    query_timeout: t.statementMs + CLIENT_SLACK_MS,
    // A transaction left open by a client that stopped talking releases its locks.
    idle_in_transaction_session_timeout: t.statementMs + CLIENT_SLACK_MS,
  };
}

/**
 * Makes a pool made elsewhere (buildApp's) safe against a failing database, before its first
 * connection:
 * - the timeouts above: pg-pool reads `options` whenever it waits for a client or makes one, and
 *   hands them to every new client;
 * - an 'error' listener on every client for its whole life. pg-pool listens only while a client is
 *   idle; a checked-out client whose connection dies (a database restart, pg_terminate_backend, a
 *   fast shutdown) emits 'error' too — its query fails as well — and an unheard 'error' event takes
 *   the whole process down. The client is unusable afterwards and the pool drops it on release.
 */
export function hardenPool(pool: Pool, t: DbTimeouts, log: (msg: string, extra: Record<string, unknown>) => void): void {
  if (pool.totalCount > 0) throw new Error('hardenPool: the pool already has connections');
  Object.assign(pool.options, poolTimeouts(t));
  pool.on('connect', (client) => {
    client.on('error', (e: Error & { code?: string }) => log('a database connection in use failed', { err: { message: e.message, code: e.code } }));
  });
}

/**
 * Ends a transaction that failed: ROLLBACK, and returns what to pass to `client.release()` — nothing
 * when the client can serve again, an error when the pool must discard it: the database was
 * unavailable (after a client-side timeout the connection may still be running the statement, and
 * the next borrower would wait behind it; after a dropped connection it is dead) or the ROLLBACK
 * itself failed.
 */
export async function rollback(client: PoolClient, error: unknown): Promise<Error | undefined> {
  const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
  if (isDatabaseUnavailable(error)) return asError(error);
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (e) {
    return asError(e);
  }
}

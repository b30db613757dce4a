// Which database failures mean "the database is unavailable right now" (so the caller should retry:
// HTTP 503) as opposed to a bug (500). They come from three places: PostgreSQL itself (SQLSTATE
// classes 08 connection exception and 53 insufficient resources, the 57P0x shutdowns, a statement or
// lock timeout), the `pg` client and pool (their own timeouts and dead connections, which carry no
// code, only a message), and the operating system's socket errors.

/** SQLSTATEs worth a retry: https://www.postgresql.org/docs/current/errcodes-appendix.html */
const RETRYABLE_STATES = new Set([
  '57014', // query_canceled: statement_timeout (we never cancel queries otherwise)
  '57P01', // admin_shutdown: a fast shutdown, or pg_terminate_backend()
  '57P02', // crash_shutdown: another backend crashed and the server restarts
  '57P03', // cannot_connect_now: the server is starting up, shutting down or in recovery
  '57P05', // idle_session_timeout
  '55P03', // lock_not_available: lock_timeout
  '25P03', // idle_in_transaction_session_timeout
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EAI_AGAIN']);

// node-postgres (pg, pg-pool) errors without a code, matched by their fixed messages.
const CLIENT_MESSAGES = [
  /^timeout exceeded when trying to connect$/, // pool: no free client within connectionTimeoutMillis
  /^Connection terminated due to connection timeout$/,
  /^Query read timeout$/, // client side query_timeout: the server did not answer at all
  /^Connection terminated( unexpectedly)?$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
];

/** True when `error` (or an error in its `cause` chain) says the database is unreachable or overloaded. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (code.startsWith('08') || code.startsWith('53') || RETRYABLE_STATES.has(code) || SOCKET_CODES.has(code)) return true;
    }
    if (CLIENT_MESSAGES.some((m) => m.test(e.message))) return true;
    // net.connect to several addresses (localhost: ::1 and 127.0.0.1) fails with an AggregateError.
    if (e instanceof AggregateError && e.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
  }
  return false;
}

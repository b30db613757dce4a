// buildApp wires the HTTP edge: it never listens (the CLI's `serve` does). Bodies are parsed by a
// strict JSON parser (no duplicate member names, bounded depth) and validated by an Ajv that never
// coerces, fills defaults or strips properties; query strings and path parameters get a second Ajv
// that may coerce ("?limit=10" is a string on the wire).
import fastifyPostgres from '@fastify/postgres';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import type { Pool } from 'pg';
import { type DbTimeouts, hardenPool } from '../db/pool.js';
import { AJV_OPTIONS } from '../core/schema.js';
import { type Ledger, EventBus, createLedger } from '../ledger/index.js';
import type { Limits, Notary, DataCipher } from '../ledger/ports.js';
import type { SignatureVerifier } from '../core/signature.js';
import { migrationsCurrent } from '../db/migrate.js';
import { authPlugin } from './auth.js';
import { type BodyError, parseStrictJson } from './json-body.js';
import { LedgerError } from '../ledger/errors.js';
import { type Metrics, ledgerGauges, metricsPlugin } from './metrics.js';
import { PROBLEM_BASE, problemsPlugin, sendProblem } from './problems.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { blockRoutes } from './routes/blocks.js';
import { bundleRoutes } from './routes/bundles.js';
import { type EventStreamOptions, eventRoutes } from './routes/events.js';
import { linkRoutes } from './routes/links.js';
import { participantRoutes } from './routes/participants.js';
import { processRoutes } from './routes/processes.js';

const DEFAULT_DB_TIMEOUTS: DbTimeouts = { statementMs: 30_000, connectMs: 5_000 };

export interface AppOptions {
  databaseUrl: string;
  notary: Notary;
  cipher: DataCipher;
  verifier: SignatureVerifier;
  /** cacheBytes: the memory for proofs' immutable data (blocks, tree levels, keys, history nodes). */
  limits: Limits & { bodyLimitBytes: number; rateLimitPerMinute: number; authFailuresPerMinute?: number; cacheBytes?: number };
  now?: () => Date;
  /** Statement and connection timeouts of the pool (default: 30 s and 5 s, as the service's settings). */
  dbTimeouts?: DbTimeouts;
  logger?: FastifyServerOptions['logger'];
  poolSize?: number;
  /** The event stream's timings and bounds (src/http/routes/events.ts; tests change them). */
  eventStream?: EventStreamOptions;
}

export interface App {
  app: FastifyInstance;
  ledger: Ledger;
  events: EventBus;
  pool: Pool;
  metrics: Metrics;
}

/**
 * One log line per request, when it is answered, instead of Fastify's two (received, completed),
 * which cost 10% of a proof fetch (docs/performance.md). The path only: a query string is the
 * caller's, not ours to keep. Fastify's other lines (stream and serializer errors) stay as they are.
 */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, path: request.url.split('?', 1)[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, ip: request.ip };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request');
  }
}

export async function buildApp(opts: AppOptions): Promise<App> {
  // Security headers on every answer: helmet's defaults without CSP (the console sets its own).
  // Its middleware is built once here; @fastify/helmet built it again for every request, ≈ 15% of
  // the bytes an append kept alive across a scavenge (docs/performance.md).
  const securityHeaders = helmet({ contentSecurityPolicy: false });
  // The same headers as raw lines, for the answers written straight to a socket (below): helmet's
  // middleware run once against a stand-in response that only records what it sets.
  const rawSecurityHeaders: string[] = [];
  securityHeaders(
    {} as IncomingMessage,
    { setHeader: (name: string, value: string | number) => void rawSecurityHeaders.push(`${name}: ${String(value)}\r\n`), removeHeader: () => {} } as unknown as ServerResponse,
    () => {},
  );
  const app = Fastify({
    logger: opts.logger ?? false,
    logController: new OneLinePerRequest(),
    bodyLimit: opts.limits.bodyLimitBytes,
    trustProxy: false,
    routerOptions: { maxParamLength: 200 },
    // Errors Fastify raises before routing (bad percent-encoding, over-long parameters) and on the
    // socket (garbled request lines) are problem+json too; the former, answered before any hook,
    // get the security headers here.
    frameworkErrors: (error, request, reply) => {
      const status = (error as { statusCode?: number }).statusCode ?? 400;
      securityHeaders(request.raw, reply.raw, () => void sendProblem(reply, status === 414 ? 'too-large' : 'malformed', error.message));
    },
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return socket.destroy(error);
      const status = (error as { code?: string }).code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const body = JSON.stringify({ type: `${PROBLEM_BASE}malformed`, title: 'Malformed request', status, detail: 'the request could not be parsed' });
      socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n${rawSecurityHeaders.join('')}Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
  });

  const bodyAjv = new Ajv2020({ ...AJV_OPTIONS, strict: false });
  const queryAjv = new Ajv2020({ ...AJV_OPTIONS, strict: false, coerceTypes: 'array', useDefaults: true });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema));
  app.removeAllContentTypeParsers(); // JSON only: anything else is 415
  const utf8Strict = new TextDecoder('utf-8', { fatal: true });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      const charset = /charset=([^;\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
      if (charset && !/^utf-?8$/i.test(charset.replace(/"/g, ''))) throw new LedgerError('unsupported-media-type', `charset ${charset} is not supported: send UTF-8`);
      let text: string;
      try {
        text = utf8Strict.decode(body as Buffer); // invalid UTF-8 is refused, not silently replaced
      } catch {
        throw new LedgerError('malformed', 'the body is not valid UTF-8');
      }
      done(null, text === '' ? undefined : parseStrictJson(text));
    } catch (e) {
      done(e as BodyError | LedgerError, undefined);
    }
  });

  const metrics = metricsPlugin(app);
  problemsPlugin(app, (code) => metrics.rejections.inc({ type: code }));
  await app.register(fastifyPostgres, { connectionString: opts.databaseUrl, max: opts.poolSize ?? 10 });
  const pool = (app as unknown as { pg: { pool: Pool } }).pg.pool;
  // An idle connection can die (a database restart, an administrator): pg reports it on the pool,
  // and an unheard 'error' event would take the whole process down. Log it; the pool reconnects.
  pool.on('error', (e) => app.log.warn({ err: { message: e.message, code: (e as { code?: string }).code } }, 'an idle database connection failed'));
  // Timeouts (a paused or saturated database answers 503 soon, never hangs a request) and an error
  // listener on every client in use (src/db/pool.ts), before the pool's first connection.
  hardenPool(pool, opts.dbTimeouts ?? DEFAULT_DB_TIMEOUTS, (msg, extra) => app.log.warn(extra, msg));
  ledgerGauges(metrics.registry, pool);
  // The event stream hears the database, so every server's clients hear what any server did (src/ledger/events.ts).
  const events = new EventBus({ databaseUrl: opts.databaseUrl, timeouts: opts.dbTimeouts ?? DEFAULT_DB_TIMEOUTS, log: (msg, extra) => app.log.warn(extra ?? {}, msg) });
  // Before the server waits for its connections to end: the streams end with it.
  app.addHook('preClose', async () => events.close());
  const ledger = createLedger({
    pool,
    verifier: opts.verifier,
    notary: opts.notary,
    cipher: opts.cipher,
    now: opts.now ?? (() => new Date()),
    limits: opts.limits,
    observer: metrics.observer,
  });
  if (opts.limits.cacheBytes !== undefined) ledger.proofs.cache.budget = opts.limits.cacheBytes;

  app.addHook('onRequest', (request, reply, done) => securityHeaders(request.raw, reply.raw, (e?: unknown) => done(e as Error | undefined)));
  await app.register(fastifyRateLimit, {
    max: opts.limits.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => request.headers.authorization ?? request.ip,
    errorResponseBuilder: (_request, context) => {
      const e = new Error(`rate limit of ${context.max} requests per minute exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`) as Error & { statusCode: number };
      e.statusCode = 429;
      return e;
    },
  });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Proof of Process', version: '1', description: 'Notarized, verifiable workflow steps. Errors are RFC 9457 application/problem+json.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  // U+0000 cannot be stored by PostgreSQL: refuse it in paths and query strings up front.
  app.addHook('onRequest', async (request) => {
    if (/%00/i.test(request.url)) throw new LedgerError('malformed', 'the URL may not contain U+0000');
  });
  authPlugin(app, ledger.apiKeys, opts.limits.authFailuresPerMinute);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      if (await migrationsCurrent(pool)) return { status: 'ready' };
      return sendProblem(reply, 'unavailable', 'database migrations are not applied');
    } catch {
      return sendProblem(reply, 'unavailable', 'the database is not reachable');
    }
  });

  processRoutes(app, ledger);
  participantRoutes(app, ledger);
  apiKeyRoutes(app, ledger);
  linkRoutes(app, ledger, opts.limits.batchMax);
  blockRoutes(app, ledger);
  bundleRoutes(app, ledger);
  eventRoutes(app, events, ledger, opts.eventStream);
  await app.register(import('./routes/stats.js'), { ledger });
  await app.register(import('./console.js'));

  return { app, ledger, events, pool, metrics };
}

// Starts the whole service: the database (DATABASE_URL, or the embedded PostgreSQL in the data
// directory), migrations, keys, the HTTP app, and the bootstrap admin key. The embedded server is
// restarted on its port if it dies; the app's pool has timeouts, so that while the database is down
// or stuck requests get a 503 soon (src/http/problems.ts) and the service recovers by itself.
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { startEmbeddedPostgres } from '../db/embedded.js';
import { migrate } from '../db/migrate.js';
import { buildApp } from '../http/app.js';
import { Sealer } from '../ledger/sealer.js';
import { type AnchoringHandle, startAnchoring } from './anchoring.js';
import { aesGcmCipher } from '../node/cipher.js';
import { ed25519Notary } from '../node/notary.js';
import { SignaturePool } from '../node/signature-pool.js';
import type { Config } from './config.js';
import { keyFromFileOrCreate, writeSecretFile } from './secrets.js';

export interface RunningService {
  url: string;
  app: FastifyInstance;
  /** Set when this start created the first admin key (shown once). */
  adminKey: string | undefined;
  adminKeyFile: string | undefined;
  embedded: boolean;
  close(): Promise<void>;
}

export async function startService(config: Config, log: (msg: string) => void = console.error): Promise<RunningService> {
  // The embedded server's own log lines are for debugging; our lines about it always show.
  const dbLog = (msg: string) => {
    if (!msg.startsWith('postgres:') || config.logLevel === 'debug' || config.logLevel === 'trace') log(msg);
  };
  const embedded = config.databaseUrl === undefined ? await startEmbeddedPostgres({ dataDir: config.dataDir, log: dbLog, restart: true }) : undefined;
  const databaseUrl = config.databaseUrl ?? embedded!.url;
  // What this start has started, stopped again in reverse by close() — or at once if the start fails.
  const started: (() => Promise<unknown>)[] = [];
  const stopStarted = async (quietly: boolean) => {
    for (const stop of started.splice(0).reverse()) await (quietly ? stop().catch(() => {}) : stop());
  };
  try {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    try {
      const applied = await migrate(pool);
      if (applied.length) log(`applied migrations ${applied.join(', ')}`);
    } finally {
      await pool.end();
    }
    const notarySeed = config.notaryKey ? Buffer.from(config.notaryKey, 'hex') : keyFromFileOrCreate(config.dataDir, 'notary.key', 'notary signing key', log);
    const dataKey = config.dataKey ? Buffer.from(config.dataKey, 'hex') : keyFromFileOrCreate(config.dataDir, 'data.key', 'data encryption key', log);
    const notary = ed25519Notary(notarySeed);
    // The workers also sign receipts, with the notary's key.
    const signatures = new SignaturePool({ notarySeed, onFallback: (e) => log(`signature workers unavailable, verifying on the main thread: ${e.message}`) });
    started.push(() => signatures.close());
    const dbTimeouts = { statementMs: config.dbStatementTimeoutMs, connectMs: config.dbConnectTimeoutMs };
    const { app, ledger, pool: appPool, metrics } = await buildApp({
      databaseUrl,
      notary,
      cipher: aesGcmCipher(dataKey),
      // libsodium, else node:crypto; on worker threads under load (src/node/signature-pool.ts).
      verifier: signatures,
      limits: config,
      dbTimeouts,
      logger: { level: config.logLevel },
    });
    started.push(() => app.close());
    let adminKey: string | undefined;
    let adminKeyFile: string | undefined;
    if (config.adminKey) await ledger.apiKeys.ensureAdmin(config.adminKey);
    else {
      adminKey = (await ledger.apiKeys.bootstrapAdmin()) ?? undefined;
      if (adminKey) adminKeyFile = writeSecretFile(config.dataDir, 'admin.key', adminKey);
    }
    const anchoring: AnchoringHandle | undefined = config.anchor === 'off' ? undefined : await startAnchoring(config, appPool, (msg, extra) => app.log.info(extra ?? {}, msg), log);
    if (anchoring) started.push(() => anchoring.stop());
    const sealer = new Sealer({
      databaseUrl,
      pool: appPool,
      notary,
      maxLinks: config.blockMaxLinks,
      intervalMs: config.blockIntervalMs,
      difficulty: config.powBits,
      now: () => new Date(),
      log: (msg, extra) => app.log.info(extra ?? {}, msg),
      // The same timeouts on the lock's session; one its server never answers is closed (src/ledger/sealer.ts).
      sessionTimeouts: dbTimeouts,
      onCommitted: (seconds) => metrics.blockCommitted(seconds),
      ...(anchoring ? { onLeaderTick: () => anchoring.anchorer.tick(), leaderTickMs: Math.min(1000, config.anchorIntervalMs) } : {}),
    });
    if (config.sealer) sealer.start();
    started.push(() => sealer.stop());
    // The signature threads boot before the first request, not under it (src/node/signature-pool.ts warm).
    // (Workers that failed were reported by onFallback already; this is for ones slow to boot.)
    if (!(await signatures.warm()) && !signatures.onMainThread) log('signature workers not ready at start; appends wait for them');
    const address = await app.listen({ port: config.port, host: config.host });
    return {
      url: address,
      app,
      adminKey,
      adminKeyFile,
      embedded: embedded !== undefined,
      async close() {
        await stopStarted(false);
        await embedded?.stop();
      },
    };
  } catch (e) {
    // e.g. the port is taken: the sealer must not go on sealing (and holding its lock) in a service that never started.
    await stopStarted(true);
    await embedded?.stop().catch(() => {});
    throw e;
  }
}

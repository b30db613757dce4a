// The service's configuration: the one place that reads the environment. Bad values stop the start
// with a message naming the variable.
import { resolve } from 'node:path';

export interface Config {
  databaseUrl: string | undefined; // unset: the embedded PostgreSQL in dataDir
  dataDir: string;
  port: number;
  host: string;
  adminKey: string | undefined;
  notaryKey: string | undefined; // 32-byte Ed25519 seed, hex
  dataKey: string | undefined; // 32-byte AES-256-GCM key, hex
  maxClockSkewMs: number;
  bodyLimitBytes: number;
  batchMax: number;
  rateLimitPerMinute: number;
  /** Requests with an unknown or revoked API key allowed per client address and minute (each may cost a lookup). */
  authFailuresPerMinute: number;
  /** Memory for proofs' immutable data (sealed blocks, tree levels, keys, history nodes), in bytes. */
  cacheBytes: number;
  /** PostgreSQL cancels a statement after this long (a client-side limit adds a little slack). */
  dbStatementTimeoutMs: number;
  /** Waiting for a pooled connection, or for a new one to open: past it, the request gets a 503. */
  dbConnectTimeoutMs: number;
  logLevel: string;
  blockMaxLinks: number;
  blockIntervalMs: number;
  powBits: number;
  sealer: boolean; // false: this server accepts links but never seals (another one does)
  anchor: 'off' | 'regtest' | 'testnet' | 'testnet4' | 'signet' | 'mainnet';
  esploraUrl: string | undefined;
  btcWif: string | undefined;
  anchorIntervalMs: number;
  anchorConfirmations: number;
  anchorFeeFloor: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name}=${raw} must be an integer from ${min} to ${max}`);
  return n;
}

function hex32(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[0-9a-f]{64}$/.test(raw)) throw new ConfigError(`${name} must be 32 bytes as 64 lowercase hex characters`);
  return raw;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const adminKey = env['POP_ADMIN_KEY'] || undefined;
  if (adminKey !== undefined && (adminKey.length < 32 || adminKey.length > 256 || !/^[\x21-\x7e]+$/.test(adminKey))) {
    throw new ConfigError('POP_ADMIN_KEY must be 32 to 256 printable ASCII characters without spaces');
  }
  const databaseUrl = env['DATABASE_URL'] || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('DATABASE_URL must be a postgres:// URL');
  return {
    databaseUrl,
    dataDir: resolve(env['POP_DATA_DIR'] || '.pop-data'),
    port: int(env, 'PORT', 8080, 0, 65535),
    host: env['HOST'] || '127.0.0.1',
    adminKey,
    notaryKey: hex32(env, 'POP_NOTARY_KEY'),
    dataKey: hex32(env, 'POP_DATA_KEY'),
    maxClockSkewMs: int(env, 'POP_MAX_CLOCK_SKEW_MS', 300_000, 0, 7 * 86_400_000),
    bodyLimitBytes: int(env, 'POP_BODY_LIMIT_BYTES', 8 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    batchMax: int(env, 'POP_BATCH_MAX', 1000, 1, 10_000),
    rateLimitPerMinute: int(env, 'POP_RATE_LIMIT_PER_MINUTE', 120_000, 1, 100_000_000),
    authFailuresPerMinute: int(env, 'POP_AUTH_FAILURES_PER_MINUTE', 600, 1, 100_000_000),
    cacheBytes: int(env, 'POP_CACHE_MB', 64, 0, 65_536) * 1024 * 1024,
    dbStatementTimeoutMs: int(env, 'POP_DB_STATEMENT_TIMEOUT_MS', 30_000, 100, 3_600_000),
    dbConnectTimeoutMs: int(env, 'POP_DB_CONNECT_TIMEOUT_MS', 5_000, 100, 600_000),
    logLevel: env['LOG_LEVEL'] || 'info',
    blockMaxLinks: int(env, 'POP_BLOCK_MAX_LINKS', 10_000, 1, 100_000),
    blockIntervalMs: int(env, 'POP_BLOCK_INTERVAL_MS', 1_000, 10, 3_600_000),
    powBits: int(env, 'POP_POW_BITS', 16, 0, 32),
    sealer: (env['POP_SEALER'] ?? 'on') !== 'off',
    ...anchorConfig(env),
  };
}

const NETWORKS = ['off', 'regtest', 'testnet', 'testnet4', 'signet', 'mainnet'] as const;

function anchorConfig(env: NodeJS.ProcessEnv): Pick<Config, 'anchor' | 'esploraUrl' | 'btcWif' | 'anchorIntervalMs' | 'anchorConfirmations' | 'anchorFeeFloor'> {
  const anchor = (env['POP_ANCHOR'] || 'off') as Config['anchor'];
  if (!NETWORKS.includes(anchor)) throw new ConfigError(`POP_ANCHOR=${anchor} must be one of ${NETWORKS.join(', ')}`);
  const esploraUrl = env['POP_ESPLORA_URL'] || undefined;
  if (anchor !== 'off' && anchor !== 'regtest' && !esploraUrl) throw new ConfigError(`POP_ANCHOR=${anchor} needs POP_ESPLORA_URL (an Esplora API base, e.g. https://blockstream.info/testnet/api)`);
  if (esploraUrl && !/^https?:\/\//.test(esploraUrl)) throw new ConfigError('POP_ESPLORA_URL must be an http(s) URL');
  const btcWif = env['POP_BTC_WIF'] || undefined;
  if (anchor !== 'off' && anchor !== 'regtest' && !btcWif) throw new ConfigError(`POP_ANCHOR=${anchor} needs POP_BTC_WIF (the WIF of a funded P2WPKH key)`);
  const feeFloor = Number(env['POP_ANCHOR_FEE_FLOOR'] || '1');
  if (!(feeFloor >= 0.1 && feeFloor <= 10_000)) throw new ConfigError('POP_ANCHOR_FEE_FLOOR must be a number of sat/vB from 0.1 to 10000');
  return {
    anchor,
    esploraUrl,
    btcWif,
    anchorIntervalMs: int(env, 'POP_ANCHOR_INTERVAL_MS', anchor === 'regtest' ? 2_000 : 600_000, 100, 86_400_000),
    anchorConfirmations: int(env, 'POP_ANCHOR_CONFIRMATIONS', anchor === 'regtest' ? 1 : 6, 1, 1000),
    anchorFeeFloor: feeFloor,
  };
}

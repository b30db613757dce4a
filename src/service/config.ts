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
  logLevel: string;
  blockMaxLinks: number;
  blockIntervalMs: number;
  powBits: number;
  sealer: boolean; // false: this server accepts links but never seals (another one does)
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
    logLevel: env['LOG_LEVEL'] || 'info',
    blockMaxLinks: int(env, 'POP_BLOCK_MAX_LINKS', 10_000, 1, 100_000),
    blockIntervalMs: int(env, 'POP_BLOCK_INTERVAL_MS', 1_000, 10, 3_600_000),
    powBits: int(env, 'POP_POW_BITS', 16, 0, 32),
    sealer: (env['POP_SEALER'] ?? 'on') !== 'off',
  };
}

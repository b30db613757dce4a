// Shared by the crash and fault suites (test/integration/crash.test.ts, test/integration/faults.test.ts,
// test/faults/): `pop serve` run for real as a child process (on a test database, or on its embedded
// PostgreSQL, optionally anchoring to its local regtest network), a load of signed links whose every
// answer is accounted for, and the checks made after each fault: every acknowledged link stored and
// sealed exactly once, a sound chain, anchors neither lost nor doubled, proofs that verify offline
// against the pinned notary key, and `pop chain verify`.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Block, Transaction } from 'bitcoinjs-lib';
import pg from 'pg';
import { expect } from 'vitest';
import { publicKeyFor, secretKeyFrom, toHex, verifyProof } from '../../src/core/index.js';
import { ed25519Notary } from '../../src/node/notary.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import { type TestDatabase, createTestDatabase } from './db.js';
import { ORDER_TO_CASH, type Party, VALID, makeSubmission } from './service.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = join(ROOT, 'src/cli/main.ts');
const SEALER_LOCK = 0x706f7073; // src/ledger/sealer.ts: pg_try_advisory_lock(bigint) → classid 0, objid this
const APP_PREFIX = 'pop-fault-';
const PROBLEM_TYPE = 'https://proof-of-process.dev/problems/';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A request with no answer after this long is a hang. It is a guard, not a performance bound: the
 * service answers a stuck database within its own timeouts (a few seconds in these suites), and the
 * pause round shows that by ordering, not by a clock — the database stays paused until answers came.
 */
export const HANG_GUARD_MS = 60_000;

// Last resort if the worker dies without cleanup: never leave a server behind.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The environment without anything of ours the developer's shell may have set. */
export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(POP_|PGAPPNAME$|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$)/.test(k)) env[k] = v;
  }
  return env;
}

/** Process facts from /proc: parent pid, or undefined once gone or a zombie. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return state === 'Z' || state === 'X' ? undefined : Number(ppid);
  } catch {
    return undefined;
  }
}

export const running = (pid: number) => parentOf(pid) !== undefined;

/** Live children of `pid` (PostgreSQL's backends and auxiliary processes, for a postmaster). */
export function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => parentOf(p) === pid);
}

// ---------------------------------------------------------------------------------------------
// One suite's servers, databases and secrets (all servers of a harness share the notary key).

export class Harness {
  readonly tmp: string;
  readonly notarySeed = randomBytes(32).toString('hex');
  readonly dataKey = randomBytes(32).toString('hex');
  readonly adminKey = `fault-admin-${randomBytes(16).toString('hex')}`;
  readonly notaryPublicKey = ed25519Notary(Buffer.from(this.notarySeed, 'hex')).publicKey;
  readonly servers: Server[] = [];
  readonly #databases: TestDatabase[] = [];

  constructor(prefix: string) {
    this.tmp = mkdtempSync(join(tmpdir(), `pop-${prefix}-`));
    // As root an embedded PostgreSQL runs as the `postgres` user, who must be able to enter it.
    chmodSync(this.tmp, 0o755);
  }

  async database(): Promise<TestDatabase> {
    const db = await createTestDatabase();
    this.#databases.push(db);
    return db;
  }

  /** A `pop serve` on `databaseUrl`, or on its own embedded PostgreSQL when that is undefined. */
  async server(name: string, databaseUrl: string | undefined, env: Record<string, string> = {}): Promise<Server> {
    const s = new Server(this, name, await freePort(), databaseUrl, env);
    this.servers.push(s);
    return s;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
    for (const db of this.#databases) await db.drop().catch(() => {});
    rmSync(this.tmp, { recursive: true, force: true });
  }

  http(base: string, method: string, path: string, body?: unknown, key: string | null = this.adminKey, timeoutMs = HANG_GUARD_MS): Promise<Answer> {
    return http(base, method, path, body, key, timeoutMs);
  }
}

export class Server {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  readonly embedded: boolean;
  readonly #h: Harness;
  readonly #databaseUrl: string | undefined;
  readonly #env: NodeJS.ProcessEnv;
  readonly #out: string;
  readonly #err: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #pgPort: number | undefined;
  starts = 0;

  constructor(h: Harness, name: string, port: number, databaseUrl: string | undefined, env: Record<string, string>) {
    this.#h = h;
    this.name = name;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.dataDir = join(h.tmp, `${name}-data`);
    this.embedded = databaseUrl === undefined;
    this.#databaseUrl = databaseUrl;
    this.#out = join(h.tmp, `${name}.out.log`);
    this.#err = join(h.tmp, `${name}.err.log`);
    this.#env = {
      ...baseEnv(),
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      PORT: String(port),
      HOST: '127.0.0.1',
      POP_ADMIN_KEY: h.adminKey,
      POP_NOTARY_KEY: h.notarySeed,
      POP_DATA_KEY: h.dataKey,
      POP_DATA_DIR: this.dataDir,
      POP_BLOCK_INTERVAL_MS: '50',
      POP_BLOCK_MAX_LINKS: '20',
      POP_POW_BITS: '10',
      LOG_LEVEL: 'warn',
      PGAPPNAME: APP_PREFIX + name, // tells us in pg_stat_activity which sessions are this server's
      ...env,
    };
  }

  get alive(): boolean {
    return this.#child !== undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get applicationName(): string {
    return APP_PREFIX + this.name;
  }

  /** The database this server uses (its embedded one: known once started). */
  get databaseUrl(): string {
    if (this.#databaseUrl) return this.#databaseUrl;
    if (this.#pgPort === undefined) throw new Error(`${this.name}: the embedded PostgreSQL has not started yet`);
    const password = readFileSync(join(this.dataDir, 'pg-password'), 'utf8').trim();
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${this.#pgPort}/pop`;
  }

  /** The embedded PostgreSQL's postmaster, from its pid file, if it runs. */
  get postmasterPid(): number | undefined {
    const file = join(this.dataDir, 'pg', 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && running(pid) ? pid : undefined;
  }

  async start(): Promise<void> {
    if (this.#child) throw new Error(`${this.name} is already running`);
    this.starts++;
    const out = openSync(this.#out, 'a');
    const err = openSync(this.#err, 'a');
    writeSync(err, `===== start ${this.starts} at ${new Date().toISOString()} =====\n`);
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve'], { cwd: ROOT, env: this.#env, stdio: ['ignore', out, err] });
      this.#child = child;
      live.add(child);
      let exit: string | undefined;
      this.#exited = new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          exit = `exited with ${signal ?? code}`;
          live.delete(child);
          if (this.#child === child) this.#child = undefined;
          resolve();
        }),
      );
      const from = this.#read(this.#out).length;
      const errFrom = this.#read(this.#err).length;
      for (const end = Date.now() + 60_000; ; await sleep(25)) {
        if (this.#read(this.#out).slice(from).includes('is listening on')) break;
        if (exit) throw new Error(`${this.name} ${exit} before listening (start ${this.starts})`);
        if (Date.now() > end) throw new Error(`${this.name} did not start within 60 s (start ${this.starts})`);
      }
      if (this.embedded) {
        const m = /PostgreSQL listening on 127\.0\.0\.1:(\d+)/.exec(this.#read(this.#err).slice(errFrom));
        if (!m) throw new Error(`${this.name}: no "PostgreSQL listening on" line in its log`);
        this.#pgPort = Number(m[1]);
      }
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  /** kill -9, and wait until the process is gone (its sockets closed by the kernel). An embedded
   * PostgreSQL survives it, orphaned, as after a real crash: the next start must cope. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.#exited;
  }

  /** A graceful stop (SIGTERM), then make sure no PostgreSQL of ours is left running. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child) {
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.kill('SIGTERM');
      await this.#exited;
      clearTimeout(killer);
    }
    const pm = this.postmasterPid;
    if (pm === undefined) return;
    for (const [signal, ms] of [['SIGCONT', 0], ['SIGINT', 10_000], ['SIGKILL', 5_000]] as const) {
      try {
        process.kill(pm, signal);
      } catch {
        return;
      }
      for (const end = Date.now() + ms; running(pm) && Date.now() < end; ) await sleep(50);
    }
  }

  #read(file: string): string {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  }

  /** Lines of this server's stderr matching `re`, from all its starts. */
  logLines(re: RegExp): string[] {
    return this.#read(this.#err).split('\n').filter((l) => re.test(l));
  }

  tail(lines = 30): string {
    const t = (f: string) => this.#read(f).split('\n').slice(-lines).join('\n');
    return `\n--- ${this.name} stdout (tail) ---\n${t(this.#out)}\n--- ${this.name} stderr (tail) ---\n${t(this.#err)}\n`;
  }

  get harness(): Harness {
    return this.#h;
  }
}

/** Runs `fn`; on failure, appends the tails of these servers' logs to the error. */
export async function withLogs<T>(of: Server[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const logs = of.map((s) => s.tail()).join('');
    const err = e as Error;
    try {
      err.message += logs;
    } catch {
      throw new Error(`${String(e)}${logs}`, { cause: e }); // a read-only message (a DOMException)
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface Answer {
  status: number;
  json: Record<string, unknown>;
  body: string;
  contentType: string;
}

export async function http(base: string, method: string, path: string, body: unknown, key: string | null, timeoutMs = HANG_GUARD_MS): Promise<Answer> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, body: text, contentType: res.headers.get('content-type') ?? '' };
}

/** Registers order-to-cash, a customer and a retailer with signing keys and participant API keys. */
export async function register(h: Harness, base: string): Promise<Record<'customer' | 'retailer', Party>> {
  const r = await h.http(base, 'POST', '/v1/processes', ORDER_TO_CASH);
  if (r.status !== 201) throw new Error(`registering order-to-cash: ${r.status} ${r.body}`);
  const parties = {} as Record<'customer' | 'retailer', Party>;
  for (const role of ['customer', 'retailer'] as const) {
    const secretKey = secretKeyFrom('ed25519', (n) => new Uint8Array(randomBytes(n)));
    const publicKey = toHex(publicKeyFor('ed25519', secretKey));
    const added = await h.http(base, 'POST', '/v1/participants', { id: role, name: `The ${role}`, roles: [role], keys: [{ keyId: `${role}-1`, alg: 'ed25519', publicKey }] });
    if (added.status !== 201) throw new Error(`adding ${role}: ${added.status} ${added.body}`);
    const key = await h.http(base, 'POST', '/v1/api-keys', { role: 'participant', participantId: role });
    if (key.status !== 201) throw new Error(`API key for ${role}: ${key.status} ${key.body}`);
    parties[role] = { id: role, role, keyId: `${role}-1`, alg: 'ed25519', secretKey, publicKey, apiKey: key.json['secret'] as string };
  }
  return parties;
}

// ---------------------------------------------------------------------------------------------
// Load: signed links posted continuously (single and batch appends, from several workers), and
// proofs fetched. Every 2xx is "acknowledged"; every request without an answer (the server died)
// or with a 503 (the database could not be used) is "in doubt" and re-posted unchanged later, which
// must then be acknowledged (201 if the first attempt was lost, 200 if it was stored: idempotency).
// Every answer is counted by kind; the ones no fault excuses are `violations`: a 500, a 5xx that is
// not problem+json, no answer within the deadline (a hang), a 4xx refusing a valid request.

export interface Request {
  path: '/v1/links' | '/v1/links/batch';
  body: unknown;
  key: string;
  hashes: string[];
}

export interface LoadOptions {
  /** No answer within this long is a hang (ms). */
  deadlineMs?: number;
  /** Share of requests that fetch a proof instead of posting (0..1). */
  proofShare?: number;
  /** Links per batch: [min, max). */
  batch?: [number, number];
}

export class Load {
  readonly acked = new Set<string>();
  readonly inDoubt: Request[] = [];
  readonly violations: string[] = [];
  /** acknowledged single posts, for the idempotency check at the end */
  readonly singles: Request[] = [];
  /** Answers by kind: "201", "503 unavailable", "network ECONNREFUSED", "hang", ... */
  readonly kinds = new Map<string, number>();
  /** When each acknowledged request was sent and answered (ms since the epoch), for recovery times. */
  readonly ackTimes: { sent: number; answered: number }[] = [];
  readonly #confirmable: string[] = []; // acknowledged orders nobody has tried to confirm yet
  #map = 0;
  stats = { requests: 0, proofs: 0, inDoubt: 0, retriedCreated: 0, retriedExisting: 0 };
  readonly #h: Harness;
  readonly #prefix: string;
  readonly #parties: Record<'customer' | 'retailer', Party>;
  readonly #o: Required<LoadOptions>;

  constructor(h: Harness, prefix: string, parties: Record<'customer' | 'retailer', Party>, o: LoadOptions = {}) {
    this.#h = h;
    this.#prefix = prefix;
    this.#parties = parties;
    this.#o = { deadlineMs: HANG_GUARD_MS, proofShare: 0, batch: [2, 9], ...o };
  }


  #count(kind: string): void {
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
  }

  /** 5xx and failed requests by kind (the report's "5xx seen by kind"). */
  failures(): Record<string, number> {
    return Object.fromEntries([...this.kinds].filter(([k]) => !/^(2\d\d|4\d\d)/.test(k)).sort());
  }

  #order() {
    return makeSubmission(this.#parties.customer, { step: 'order', mapId: `${this.#prefix}-${this.#map++}`, ...VALID['order']! });
  }

  next(): Request {
    const roll = Math.random();
    if (roll < 0.15 && this.#confirmable.length) {
      const [order, mapId] = this.#confirmable.splice(randomInt(this.#confirmable.length), 1)[0]!.split(' ') as [string, string];
      const s = makeSubmission(this.#parties.retailer, { step: 'confirm', mapId, prev: [order], ...VALID['confirm']! });
      return { path: '/v1/links', body: s.body, key: this.#parties.retailer.apiKey, hashes: [s.hash] };
    }
    if (roll < 0.4) return this.batch(randomInt(...this.#o.batch));
    const s = this.#order();
    return { path: '/v1/links', body: s.body, key: this.#parties.customer.apiKey, hashes: [s.hash] };
  }

  batch(n: number): Request {
    const subs = Array.from({ length: n }, () => this.#order());
    return { path: '/v1/links/batch', body: { links: subs.map((s) => s.body) }, key: this.#parties.customer.apiKey, hashes: subs.map((s) => s.hash) };
  }

  /** Classifies a failed fetch: a hang (our deadline), or the connection refused/cut (a dead server). */
  #networkKind(e: unknown): string {
    const err = e as Error & { cause?: { code?: string } };
    if (err.name === 'TimeoutError') return 'hang';
    return `network ${err.cause?.code ?? err.name}`;
  }

  /** Checks what no fault excuses; returns the kind counted. */
  #judge(what: string, a: Answer): string {
    const type = typeof a.json['type'] === 'string' ? (a.json['type'] as string).replace(PROBLEM_TYPE, '') : '';
    const kind = a.status >= 300 ? `${a.status} ${type || 'no-problem-type'}` : String(a.status);
    if (a.status >= 400 && !a.contentType.startsWith('application/problem+json')) this.violations.push(`${what} → ${a.status} as ${a.contentType}: ${a.body.slice(0, 200)}`);
    if (a.status >= 500 && a.status !== 503) this.violations.push(`${what} → ${a.status} ${a.body.slice(0, 300)}`);
    return kind;
  }

  /** Posts one request; true when decided (acknowledged, or refused: a violation), false when in doubt. */
  async send(base: string, req: Request, retry = false): Promise<boolean> {
    this.stats.requests++;
    const sent = Date.now();
    let a: Answer;
    try {
      a = await http(base, 'POST', req.path, req.body, req.key, this.#o.deadlineMs);
    } catch (e) {
      const kind = this.#networkKind(e);
      this.#count(kind);
      if (kind === 'hang') this.violations.push(`${req.path}: no answer within ${this.#o.deadlineMs} ms`);
      return false; // no answer: in doubt
    }
    this.#count(this.#judge(req.path, a));
    if (a.status === 503 || a.status === 429) return false; // the service could not say: in doubt too
    if (a.status >= 500) return false; // a violation (counted), and in doubt
    if (a.status !== 200 && a.status !== 201) {
      this.violations.push(`${req.path} → ${a.status} ${a.body.slice(0, 300)}`);
      return true; // decided (wrongly): reported, not retried
    }
    const got = req.path === '/v1/links' ? [a.json['linkHash']] : (a.json['items'] as { linkHash: string }[]).map((i) => i.linkHash);
    if (JSON.stringify(got) !== JSON.stringify(req.hashes)) this.violations.push(`${req.path}: answered hashes ${JSON.stringify(got)}, expected ${JSON.stringify(req.hashes)}`);
    if (retry) this.stats[a.status === 201 ? 'retriedCreated' : 'retriedExisting']++;
    for (const h of req.hashes) this.acked.add(h);
    this.ackTimes.push({ sent, answered: Date.now() });
    if (req.path === '/v1/links') this.singles.push(req);
    const link = (req.path === '/v1/links' ? [req.body] : (req.body as { links: unknown[] }).links) as { link: { step: string; mapId: string } }[];
    link.forEach((l, i) => {
      if (l.link.step === 'order') this.#confirmable.push(`${req.hashes[i]} ${l.link.mapId}`);
    });
    return true;
  }

  /** Fetches the proof of an acknowledged link: 200 once sealed, 202 before. */
  async proof(base: string): Promise<void> {
    const all = [...this.acked];
    if (!all.length) return;
    this.stats.proofs++;
    const hash = all[randomInt(all.length)]!;
    try {
      const a = await http(base, 'GET', `/v1/links/${hash}/proof`, undefined, this.#h.adminKey, this.#o.deadlineMs);
      this.#count(`proof ${this.#judge('proof', a)}`);
      if (a.status !== 200 && a.status !== 202 && a.status !== 503 && a.status !== 429) this.violations.push(`proof of ${hash} → ${a.status} ${a.body.slice(0, 200)}`);
    } catch (e) {
      const kind = this.#networkKind(e);
      this.#count(`proof ${kind}`);
      if (kind === 'hang') this.violations.push(`proof: no answer within ${this.#o.deadlineMs} ms`);
    }
  }

  /** `workers` loops posting (and fetching proofs) through `target()` until `stop()` says so. */
  async run(target: () => string, stop: () => boolean, workers = 3): Promise<void> {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (!stop()) {
          if (Math.random() < this.#o.proofShare) {
            await this.proof(target());
            continue;
          }
          const req = this.next();
          if (!(await this.send(target(), req))) {
            this.stats.inDoubt++;
            this.inDoubt.push(req);
            await sleep(50); // a client backs off a little before its next request
          }
        }
      }),
    );
  }

  /** Re-posts every request left in doubt; each must now be acknowledged. */
  async retry(target: () => string): Promise<void> {
    const pending = this.inDoubt.splice(0);
    for (const req of pending) {
      let ok = false;
      for (let attempt = 0; attempt < 10 && !ok; attempt++) {
        ok = await this.send(target(), req, true);
        if (!ok) await sleep(200 * (attempt + 1));
      }
      if (!ok) this.violations.push(`${req.path}: still no answer after 10 retries of an in-doubt request`);
    }
  }

  /**
   * Milliseconds from `since` (the fault) to the first acknowledgement of a request sent after
   * `sentAfter` (once the fault had fully happened), waiting up to `ms` for one.
   */
  async recoveredAfter(since: number, sentAfter = since, ms = 60_000): Promise<number> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) {
      const t = this.ackTimes.find((x) => x.sent >= sentAfter);
      if (t !== undefined) return t.answered - since;
    }
    throw new Error(`no link acknowledged within ${ms} ms after the fault: the service did not recover`);
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

export async function withDb<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: 'fault-test' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function waitUntilAllSealed(dbUrl: string, ms = 30_000): Promise<void> {
  let n = -1;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
    n = await withDb(dbUrl, async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM unsealed_links')).rows[0]!.n));
    if (n === 0) return;
  }
  throw new Error(`${n} links still unsealed after ${ms} ms`);
}

/** The database's own account: every acknowledged link stored and sealed once, and a sound chain. */
export async function checkInvariants(dbUrl: string, load: Load): Promise<{ blocks: number; links: number }> {
  return withDb(dbUrl, async (c) => {
    const links = new Set((await c.query<{ hash: string }>('SELECT hash FROM links')).rows.map((r) => r.hash));
    const seals = (await c.query<{ link_hash: string; height: string; leaf_index: number }>('SELECT link_hash, height, leaf_index FROM link_seals')).rows;
    const sealed = new Map<string, number>();
    for (const s of seals) sealed.set(s.link_hash, (sealed.get(s.link_hash) ?? 0) + 1);
    const lost = [...load.acked].filter((h) => !links.has(h));
    const unsealed = [...load.acked].filter((h) => sealed.get(h) !== 1);
    expect(lost, `acknowledged links missing from links`).toEqual([]);
    expect(unsealed, `acknowledged links not sealed exactly once`).toEqual([]);
    // Every request was eventually acknowledged, so the ledger holds exactly what was acknowledged.
    expect(links.size).toBe(load.acked.size);
    expect(seals.length).toBe(links.size);
    expect([...links].filter((h) => !sealed.has(h))).toEqual([]);
    expect(Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM unsealed_links')).rows[0]!.n)).toBe(0);

    const blocks = (await c.query<{ height: string; hash: string; prev_hash: string; leaf_count: number }>('SELECT height, hash, prev_hash, leaf_count FROM blocks ORDER BY height')).rows;
    expect(blocks.length).toBeGreaterThan(0);
    const perBlock = new Map<number, number[]>();
    for (const s of seals) {
      const list = perBlock.get(Number(s.height)) ?? [];
      list.push(s.leaf_index);
      perBlock.set(Number(s.height), list);
    }
    let leaves = 0;
    blocks.forEach((b, i) => {
      expect(Number(b.height), 'heights 0..max without a gap').toBe(i);
      expect(b.prev_hash, `block ${i} names the block before it`).toBe(i === 0 ? '0'.repeat(64) : blocks[i - 1]!.hash);
      const idx = (perBlock.get(i) ?? []).sort((x, y) => x - y);
      expect(idx, `block ${i}: leaf slots 0..leaf_count-1, each once`).toEqual(Array.from({ length: b.leaf_count }, (_, k) => k));
      leaves += b.leaf_count;
    });
    expect(leaves).toBe(seals.length);
    return { blocks: blocks.length, links: links.size };
  });
}

/** Proofs of a random sample of acknowledged links verify offline against the pinned notary key. */
export async function checkProofs(h: Harness, base: string, load: Load, n = 25): Promise<void> {
  const notary = await h.http(base, 'GET', '/v1/notary', undefined, null);
  expect(notary.json['publicKey']).toBe(h.notaryPublicKey); // the same key across every restart and server
  const all = [...load.acked];
  const sample = Array.from({ length: Math.min(n, all.length) }, () => all[randomInt(all.length)]!);
  for (const hash of sample) {
    const r = await h.http(base, 'GET', `/v1/links/${hash}/proof`);
    expect(r.status, r.body).toBe(200);
    const result = verifyProof(r.json, { verifier: nodeVerifier, notaryKeys: [h.notaryPublicKey] });
    expect(result.ok).toBe(true);
    expect(result.linkHash).toBe(hash);
  }
}

/** Re-posting acknowledged links after all the faults: the same answer, nothing stored twice. */
export async function checkIdempotent(h: Harness, base: string, load: Load, n = 10): Promise<void> {
  for (const req of load.singles.slice(0, n)) {
    const r = await h.http(base, 'POST', req.path, req.body, req.key);
    expect(r.status, r.body).toBe(200);
    expect(r.json['created']).toBe(false);
    expect(r.json['linkHash']).toBe(req.hashes[0]);
  }
}

export function chainVerify(h: Harness, base: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, 'chain', 'verify', '--json', '--notary-key', h.notaryPublicKey],
      { cwd: ROOT, env: { ...baseEnv(), POP_URL: base, POP_API_KEY: h.adminKey }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** `pop chain verify` audits the whole chain, pinned to the notary key, and counts what the database holds. */
export async function checkChain(h: Harness, base: string, expected: { blocks: number; links: number }): Promise<void> {
  const r = await chainVerify(h, base);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const report = JSON.parse(r.stdout) as { ok: boolean; blocks: number; links: number; notary: { pinned: boolean } };
  expect(report).toMatchObject({ ok: true, blocks: expected.blocks, links: expected.links, notary: { pinned: true } });
}

/** The server whose database session holds the sealing lock, if any. */
export async function sealerName(dbUrl: string): Promise<string | undefined> {
  return withDb(dbUrl, async (c) => {
    const { rows } = await c.query<{ application_name: string }>(
      `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [SEALER_LOCK],
    );
    return rows[0]?.application_name.slice(APP_PREFIX.length);
  });
}

// ---------------------------------------------------------------------------------------------
// Anchors (POP_ANCHOR=regtest): the service's regtest chain, as it persists it in POP_DATA_DIR.

/** Anchor transactions on the regtest best chain and in its mempool: txid → committed block hash. */
export function regtestAnchors(server: Server): { mined: Map<string, string>; mempool: Map<string, string>; tip: number } {
  const snapshot = JSON.parse(readFileSync(join(server.dataDir, 'regtest-chain.json'), 'utf8')) as { blocks: string[]; mempool: string[] };
  const commitment = (tx: Transaction): string | undefined => {
    for (const out of tx.outs) {
      const s = Buffer.from(out.script);
      // OP_RETURN, a 36-byte push, "POP1" ‖ blockHash (docs/protocol.md)
      if (s.length === 38 && s[0] === 0x6a && s[1] === 36 && s.subarray(2, 6).toString('latin1') === 'POP1') return s.subarray(6).toString('hex');
    }
    return undefined;
  };
  const mined = new Map<string, string>();
  for (const hex of snapshot.blocks) {
    for (const tx of Block.fromHex(hex).transactions ?? []) {
      const c = commitment(tx);
      if (c) mined.set(tx.getId(), c);
    }
  }
  const mempool = new Map<string, string>();
  for (const hex of snapshot.mempool) {
    const tx = Transaction.fromHex(hex);
    const c = commitment(tx);
    if (c) mempool.set(tx.getId(), c);
  }
  return { mined, mempool, tip: snapshot.blocks.length };
}

interface AnchorRow {
  txid: string;
  block_hash: string;
  status: string;
  bitcoin_block_hash: string | null;
}

/**
 * No anchor lost or doubled: every anchor transaction on the chain (or in its mempool) is one the
 * database knows, for the block it says; no block is committed twice on the chain, nor confirmed
 * twice in the database; every confirmed anchor is on the best chain. Returns the counts.
 */
export async function checkAnchors(server: Server): Promise<{ anchors: number; confirmed: number; onChain: number }> {
  const rows = await withDb(server.databaseUrl, async (c) => (await c.query<AnchorRow>('SELECT txid, block_hash, status, bitcoin_block_hash FROM anchors ORDER BY id')).rows);
  const { mined, mempool } = regtestAnchors(server);
  const byTxid = new Map(rows.map((r) => [r.txid, r]));
  for (const [txid, block] of [...mined, ...mempool]) {
    expect(byTxid.get(txid)?.block_hash, `anchor tx ${txid} on the regtest network is known to the database`).toBe(block);
  }
  const committed = [...mined.values()];
  expect(committed.length, 'no block anchored twice on the chain').toBe(new Set(committed).size);
  const confirmed = rows.filter((r) => r.status === 'confirmed');
  expect(confirmed.length, 'no block confirmed twice in the database').toBe(new Set(confirmed.map((r) => r.block_hash)).size);
  for (const r of confirmed) expect(mined.get(r.txid), `confirmed anchor ${r.txid} is on the best chain`).toBe(r.block_hash);
  expect(rows.filter((r) => r.status === 'signed' || r.status === 'broadcast').length).toBeLessThanOrEqual(1);
  return { anchors: rows.length, confirmed: confirmed.length, onChain: mined.size };
}

/** Waits until the chain tip is anchored and confirmed (the anchorer recovered and caught up). */
export async function waitUntilTipAnchored(server: Server, ms = 60_000): Promise<void> {
  let state = '';
  for (const end = Date.now() + ms; Date.now() < end; await sleep(250)) {
    const { tip, anchored } = await withDb(server.databaseUrl, async (c) => {
      const r = await c.query<{ tip: string | null; anchored: string | null }>(
        "SELECT (SELECT max(height) FROM blocks) AS tip, (SELECT max(block_height) FROM anchors WHERE status = 'confirmed') AS anchored",
      );
      return r.rows[0]!;
    });
    state = `tip ${tip}, last confirmed anchor for block ${anchored}`;
    if (tip !== null && anchored !== null && Number(anchored) >= Number(tip)) return;
  }
  throw new Error(`the tip was not anchored within ${ms} ms (${state})`);
}

// Crashes for real (spec §4: "Nothing accepted is ever lost or sealed twice, whatever crashes when"):
// `pop serve` runs as a child process and is SIGKILLed at random instants under load (mid-mining,
// mid-transaction, between a commit and its answer or event), then restarted; and three servers share
// one database while the one holding the sealing lock is killed and another must take over. After
// each, the database itself is checked (every acknowledged link stored and sealed exactly once, the
// chain contiguous and linked, leaf counts adding up), served proofs verify offline against the
// pinned notary key, and `pop chain verify` audits the whole chain.
//
// POP_CRASH_ROUNDS (default 8) sets the number of kill/restart rounds.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { publicKeyFor, secretKeyFrom, toHex, verifyProof } from '../../src/core/index.js';
import { ed25519Notary } from '../../src/node/notary.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import { type TestDatabase, createTestDatabase } from '../helpers/db.js';
import { ORDER_TO_CASH, type Party, VALID, makeSubmission } from '../helpers/service.js';

const ROUNDS = Number(process.env['POP_CRASH_ROUNDS'] || 8);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const SEALER_LOCK = 0x706f7073; // src/ledger/sealer.ts: pg_try_advisory_lock(bigint) → classid 0, objid this
const APP_PREFIX = 'pop-crash-';

const tmp = mkdtempSync(join(tmpdir(), 'pop-crash-'));
const notarySeed = randomBytes(32).toString('hex');
const dataKey = randomBytes(32).toString('hex');
const adminKey = `crash-admin-${randomBytes(16).toString('hex')}`;
const notaryPublicKey = ed25519Notary(Buffer.from(notarySeed, 'hex')).publicKey;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Children

const live = new Set<ChildProcess>();
// Last resort if the worker dies without afterAll: never leave a server behind.
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

function freePort(): Promise<number> {
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
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(POP_|PGAPPNAME$|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$)/.test(k)) env[k] = v;
  }
  return env;
}

class Server {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #out: string;
  readonly #err: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  starts = 0;

  constructor(name: string, port: number, databaseUrl: string) {
    this.name = name;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.#out = join(tmp, `${name}.out.log`);
    this.#err = join(tmp, `${name}.err.log`);
    this.#env = {
      ...baseEnv(),
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      POP_ADMIN_KEY: adminKey,
      POP_NOTARY_KEY: notarySeed,
      POP_DATA_KEY: dataKey,
      POP_DATA_DIR: join(tmp, `${name}-data`),
      POP_BLOCK_INTERVAL_MS: '50',
      POP_BLOCK_MAX_LINKS: '20',
      POP_POW_BITS: '10',
      LOG_LEVEL: 'warn',
      PGAPPNAME: APP_PREFIX + name, // tells us in pg_stat_activity which server holds the sealing lock
    };
  }

  get alive(): boolean {
    return this.#child !== undefined;
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
      for (const end = Date.now() + 30_000; ; await sleep(25)) {
        if (this.#read(this.#out).slice(from).includes('is listening on')) return;
        if (exit) throw new Error(`${this.name} ${exit} before listening (start ${this.starts})`);
        if (Date.now() > end) throw new Error(`${this.name} did not start within 30 s (start ${this.starts})`);
      }
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  /** kill -9, and wait until the process is gone (its sockets closed by the kernel). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.#exited;
  }

  #read(file: string): string {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  }

  tail(lines = 30): string {
    const t = (f: string) => this.#read(f).split('\n').slice(-lines).join('\n');
    return `\n--- ${this.name} stdout (tail) ---\n${t(this.#out)}\n--- ${this.name} stderr (tail) ---\n${t(this.#err)}\n`;
  }
}

const servers: Server[] = [];
const databases: TestDatabase[] = [];

async function newServer(name: string, databaseUrl: string): Promise<Server> {
  const s = new Server(name, await freePort(), databaseUrl);
  servers.push(s);
  return s;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.kill()));
  for (const db of databases) await db.drop().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs `fn`; on failure, appends the tails of these servers' logs to the error. */
async function withLogs(of: Server[], fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const err = e as Error;
    err.message += of.map((s) => s.tail()).join('');
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface Answer {
  status: number;
  json: Record<string, unknown>;
  body: string;
}

async function http(base: string, method: string, path: string, body?: unknown, key: string | null = adminKey): Promise<Answer> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, body: text };
}

/** Registers order-to-cash, a customer and a retailer with signing keys and participant API keys. */
async function register(base: string): Promise<Record<'customer' | 'retailer', Party>> {
  const r = await http(base, 'POST', '/v1/processes', ORDER_TO_CASH);
  if (r.status !== 201) throw new Error(`registering order-to-cash: ${r.status} ${r.body}`);
  const parties = {} as Record<'customer' | 'retailer', Party>;
  for (const role of ['customer', 'retailer'] as const) {
    const secretKey = secretKeyFrom('ed25519', (n) => new Uint8Array(randomBytes(n)));
    const publicKey = toHex(publicKeyFor('ed25519', secretKey));
    const added = await http(base, 'POST', '/v1/participants', { id: role, name: `The ${role}`, roles: [role], keys: [{ keyId: `${role}-1`, alg: 'ed25519', publicKey }] });
    if (added.status !== 201) throw new Error(`adding ${role}: ${added.status} ${added.body}`);
    const key = await http(base, 'POST', '/v1/api-keys', { role: 'participant', participantId: role });
    if (key.status !== 201) throw new Error(`API key for ${role}: ${key.status} ${key.body}`);
    parties[role] = { id: role, role, keyId: `${role}-1`, alg: 'ed25519', secretKey, publicKey, apiKey: key.json['secret'] as string };
  }
  return parties;
}

// ---------------------------------------------------------------------------------------------
// Load: signed links posted continuously; every 2xx is "acknowledged", every request without an
// answer (the server died) is "in doubt" and re-posted unchanged after the restart, which must then
// be acknowledged (201 if the first attempt was lost, 200 if it was stored: idempotency).

interface Request {
  path: '/v1/links' | '/v1/links/batch';
  body: unknown;
  key: string;
  hashes: string[];
}

class Load {
  readonly acked = new Set<string>();
  readonly inDoubt: Request[] = [];
  readonly refused: string[] = [];
  /** acknowledged single posts, for the idempotency check at the end */
  readonly singles: Request[] = [];
  readonly #confirmable: string[] = []; // acknowledged orders nobody has tried to confirm yet
  #map = 0;
  stats = { requests: 0, inDoubt: 0, retriedCreated: 0, retriedExisting: 0 };
  readonly #prefix: string;
  readonly #parties: Record<'customer' | 'retailer', Party>;

  constructor(prefix: string, parties: Record<'customer' | 'retailer', Party>) {
    this.#prefix = prefix;
    this.#parties = parties;
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
    if (roll < 0.4) {
      const subs = Array.from({ length: randomInt(2, 9) }, () => this.#order());
      return { path: '/v1/links/batch', body: { links: subs.map((s) => s.body) }, key: this.#parties.customer.apiKey, hashes: subs.map((s) => s.hash) };
    }
    const s = this.#order();
    return { path: '/v1/links', body: s.body, key: this.#parties.customer.apiKey, hashes: [s.hash] };
  }

  /** Posts one request; true when acknowledged. */
  async send(base: string, req: Request, retry = false): Promise<boolean> {
    this.stats.requests++;
    let a: Answer;
    try {
      a = await http(base, 'POST', req.path, req.body, req.key);
    } catch {
      return false; // no answer: in doubt
    }
    if (a.status >= 500) return false; // the service could not say: in doubt too
    if (a.status !== 200 && a.status !== 201) {
      this.refused.push(`${req.path} → ${a.status} ${a.body.slice(0, 300)}`);
      return true; // decided (wrongly): reported at the end, not retried
    }
    const got = req.path === '/v1/links' ? [a.json['linkHash']] : (a.json['items'] as { linkHash: string }[]).map((i) => i.linkHash);
    if (JSON.stringify(got) !== JSON.stringify(req.hashes)) this.refused.push(`${req.path}: answered hashes ${JSON.stringify(got)}, expected ${JSON.stringify(req.hashes)}`);
    if (retry) this.stats[a.status === 201 ? 'retriedCreated' : 'retriedExisting']++;
    for (const h of req.hashes) this.acked.add(h);
    if (req.path === '/v1/links') this.singles.push(req);
    const link = (req.path === '/v1/links' ? [req.body] : (req.body as { links: unknown[] }).links) as { link: { step: string; mapId: string } }[];
    link.forEach((l, i) => {
      if (l.link.step === 'order') this.#confirmable.push(`${req.hashes[i]} ${l.link.mapId}`);
    });
    return true;
  }

  /** `workers` loops posting through `target()` until `stop()` says so. */
  async run(target: () => string, stop: () => boolean, workers = 3): Promise<void> {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (!stop()) {
          const req = this.next();
          if (!(await this.send(target(), req))) {
            this.stats.inDoubt++;
            this.inDoubt.push(req);
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
      for (let attempt = 0; attempt < 5 && !ok; attempt++) {
        ok = await this.send(target(), req, true);
        if (!ok) await sleep(100);
      }
      if (!ok) this.refused.push(`${req.path}: still no answer after 5 retries of an in-doubt request`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

async function withDb<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: 'crash-test' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function waitUntilAllSealed(dbUrl: string, ms = 30_000): Promise<void> {
  let n = -1;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
    n = await withDb(dbUrl, async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM unsealed_links')).rows[0]!.n));
    if (n === 0) return;
  }
  throw new Error(`${n} links still unsealed after ${ms} ms`);
}

/** The database's own account: every acknowledged link stored and sealed once, and a sound chain. */
async function checkInvariants(dbUrl: string, load: Load): Promise<{ blocks: number; links: number }> {
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
async function checkProofs(base: string, load: Load, n = 25): Promise<void> {
  const notary = await http(base, 'GET', '/v1/notary', undefined, null);
  expect(notary.json['publicKey']).toBe(notaryPublicKey); // the same key across every restart and server
  const all = [...load.acked];
  const sample = Array.from({ length: Math.min(n, all.length) }, () => all[randomInt(all.length)]!);
  for (const hash of sample) {
    const r = await http(base, 'GET', `/v1/links/${hash}/proof`);
    expect(r.status, r.body).toBe(200);
    const result = verifyProof(r.json, { verifier: nodeVerifier, notaryKeys: [notaryPublicKey] });
    expect(result.ok).toBe(true);
    expect(result.linkHash).toBe(hash);
  }
}

/** Re-posting acknowledged links after all the crashes: the same answer, nothing stored twice. */
async function checkIdempotent(base: string, load: Load, n = 10): Promise<void> {
  for (const req of load.singles.slice(0, n)) {
    const r = await http(base, 'POST', req.path, req.body, req.key);
    expect(r.status, r.body).toBe(200);
    expect(r.json['created']).toBe(false);
    expect(r.json['linkHash']).toBe(req.hashes[0]);
  }
}

function chainVerify(base: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, 'chain', 'verify', '--json', '--notary-key', notaryPublicKey],
      { cwd: ROOT, env: { ...baseEnv(), POP_URL: base, POP_API_KEY: adminKey }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function checkChain(base: string, expected: { blocks: number; links: number }): Promise<void> {
  const r = await chainVerify(base);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const report = JSON.parse(r.stdout) as { ok: boolean; blocks: number; links: number; notary: { pinned: boolean } };
  expect(report).toMatchObject({ ok: true, blocks: expected.blocks, links: expected.links, notary: { pinned: true } });
}

/** The server whose database session holds the sealing lock, if any. */
async function sealerName(dbUrl: string): Promise<string | undefined> {
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

describe('crashes', () => {
  test(`kill -9 at random instants under load, ${ROUNDS} rounds: nothing acknowledged is lost or sealed twice`, { timeout: 120_000 }, async () => {
    const db = await createTestDatabase();
    databases.push(db);
    const server = await newServer('solo', db.url);
    await withLogs([server], async () => {
      await server.start();
      const load = new Load('crash', await register(server.url));
      const kills: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        if (!server.alive) await server.start();
        await load.retry(() => server.url);
        let stopped = false;
        const running = load.run(() => server.url, () => stopped);
        const delay = randomInt(0, 401);
        kills.push(delay);
        await sleep(delay);
        await server.kill();
        stopped = true;
        await running;
      }
      await server.start();
      await load.retry(() => server.url);
      expect(load.refused).toEqual([]);
      await waitUntilAllSealed(db.url);
      const counts = await checkInvariants(db.url, load);
      await checkProofs(server.url, load);
      await checkIdempotent(server.url, load);
      await checkChain(server.url, counts);
      console.info(
        `crash: ${ROUNDS} kills at ${kills.join(', ')} ms; ${load.stats.requests} requests, ${load.acked.size} links acknowledged, ` +
          `${load.stats.inDoubt} in doubt (retried: ${load.stats.retriedExisting} had been stored, ${load.stats.retriedCreated} had not); ${counts.blocks} blocks`,
      );
    });
  });

  test('three servers on one database: when the sealer is killed another takes over', { timeout: 120_000 }, async () => {
    const db = await createTestDatabase();
    databases.push(db);
    const trio = [await newServer('a', db.url), await newServer('b', db.url), await newServer('c', db.url)];
    await withLogs(trio, async () => {
      await Promise.all(trio.map((s) => s.start())); // concurrent starts: migrations serialize on their lock
      const load = new Load('takeover', await register(trio[0]!.url));
      let turn = 0;
      const target = () => {
        const alive = trio.filter((s) => s.alive);
        return alive[turn++ % alive.length]!.url;
      };
      let stopped = false;
      const running = load.run(target, () => stopped);
      try {
        await sleep(1500);
        let first: string | undefined;
        for (const end = Date.now() + 5000; !(first = await sealerName(db.url)) && Date.now() < end; ) await sleep(100);
        expect(first, 'one server holds the sealing lock').toBeDefined();
        const victim = trio.find((s) => s.name === first)!;
        await victim.kill();
        const killedAt = Date.now();
        // A link posted through a survivor after the kill gets sealed within a few seconds.
        const survivor = trio.find((s) => s.alive)!;
        const probe = load.next();
        expect(await load.send(survivor.url, probe)).toBe(true);
        let sealedAfter: number | undefined;
        for (const end = killedAt + 10_000; Date.now() < end; await sleep(100)) {
          if ((await http(survivor.url, 'GET', `/v1/links/${probe.hashes[0]}/proof`)).status === 200) {
            sealedAfter = Date.now() - killedAt;
            break;
          }
        }
        expect(sealedAfter, 'a link posted after the sealer died is sealed within 10 s').toBeDefined();
        const second = await sealerName(db.url);
        expect(second).toBeDefined();
        expect(second).not.toBe(first);
        expect(trio.find((s) => s.name === second)!.alive).toBe(true);
        await sleep(1000); // keep posting through the survivors under the new sealer
        stopped = true;
        await running;
        await load.retry(target);
        expect(load.refused).toEqual([]);
        await waitUntilAllSealed(db.url);
        const counts = await checkInvariants(db.url, load);
        await checkProofs(survivor.url, load);
        await checkChain(survivor.url, counts);
        console.info(
          `takeover: sealer ${first} killed, ${second} sealed a new link ${sealedAfter} ms later; ${load.acked.size} links acknowledged, ` +
            `${load.stats.inDoubt} in doubt; ${counts.blocks} blocks`,
        );
      } finally {
        stopped = true;
        await running;
      }
    });
  });
});

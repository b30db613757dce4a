// startService (src/service/start.ts), the composition `pop serve` runs: its signature threads are
// up before it listens, and /metrics reports what an append's latency is made of — the database
// calls that store single appends gathered together, and the sealer's block commits.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { publicKeyFor, secretKeyFrom, toHex } from '../../src/core/index.js';
import { SignaturePool } from '../../src/node/signature-pool.js';
import { loadConfig } from '../../src/service/config.js';
import { type RunningService, startService } from '../../src/service/start.js';
import { type TestDatabase, createTestDatabase } from '../helpers/db.js';
import { parseMetrics } from '../../bench/service-metrics.js';
import { ORDER_TO_CASH, type Party, VALID, makeSubmission } from '../helpers/service.js';

const admin = `test-admin-${randomBytes(16).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'pop-start-'));
const startLog: string[] = [];
let db: TestDatabase;
let svc: RunningService;
const warm = vi.spyOn(SignaturePool.prototype, 'warm');

async function call(method: string, path: string, body?: unknown, key: string | null = admin): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  const res = await fetch(svc.url + path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.status, text, json };
}

/** The value of one Prometheus series in a /metrics text (undefined when absent), read as the benchmark reads it. */
const series = (text: string, name: string): number | undefined => parseMetrics(text).get(name);

beforeAll(async () => {
  db = await createTestDatabase();
  const config = loadConfig({
    DATABASE_URL: db.url,
    POP_DATA_DIR: dir,
    POP_ADMIN_KEY: admin,
    PORT: '0',
    HOST: '127.0.0.1',
    POP_BLOCK_INTERVAL_MS: '50',
    POP_POW_BITS: '4',
    LOG_LEVEL: 'warn',
  });
  svc = await startService(config, (msg) => startLog.push(msg));
}, 60_000);

afterAll(async () => {
  await svc?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('pop serve’s composition', () => {
  test('the signature threads answered before the service listened', async () => {
    expect(warm).toHaveBeenCalledTimes(1);
    await expect(warm.mock.results[0]!.value).resolves.toBe(true);
    expect(startLog.join('\n')).not.toMatch(/signature workers/);
  });

  test('single appends stored in group calls and sealed blocks show in /metrics', async () => {
    expect((await call('POST', '/v1/processes', ORDER_TO_CASH)).status).toBe(201);
    const secretKey = secretKeyFrom('ed25519', (n) => new Uint8Array(randomBytes(n)));
    const publicKey = toHex(publicKeyFor('ed25519', secretKey));
    const added = await call('POST', '/v1/participants', { id: 'customer', name: 'The customer', roles: ['customer'], keys: [{ keyId: 'customer-1', alg: 'ed25519', publicKey }] });
    expect(added.status).toBe(201);
    const apiKey = (await call('POST', '/v1/api-keys', { role: 'participant', participantId: 'customer' })).json['secret'] as string;
    const customer: Party = { id: 'customer', role: 'customer', keyId: 'customer-1', alg: 'ed25519', secretKey, publicKey, apiKey };

    const before = (await call('GET', '/metrics', undefined, null)).text;
    expect(series(before, 'pop_append_group_links_count')).toBe(0);
    expect(series(before, 'pop_block_commit_seconds_count')).toBe(0);

    const subs = Array.from({ length: 5 }, (_, i) => makeSubmission(customer, { step: 'order', mapId: `start-${i}`, ...VALID['order'] }));
    const posted = await Promise.all(subs.map((s) => call('POST', '/v1/links', s.body, apiKey)));
    expect(posted.map((p) => p.status)).toEqual(subs.map(() => 201));
    // A re-post is answered from the database too (created: false), through the same group call.
    expect((await call('POST', '/v1/links', subs[0]!.body, apiKey)).status).toBe(200);

    const deadline = Date.now() + 20_000;
    for (const s of subs) {
      while ((await call('GET', `/v1/links/${s.hash}`)).json['status'] !== 'sealed') {
        if (Date.now() > deadline) throw new Error(`link ${s.hash} was not sealed within 20 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    const after = (await call('GET', '/metrics', undefined, null)).text;
    const calls = series(after, 'pop_append_group_links_count')!;
    expect(series(after, 'pop_append_group_links_sum'), 'every single append, the re-post too, went through a group call').toBe(6);
    expect(calls).toBeGreaterThanOrEqual(2); // the re-post came after the five were answered
    expect(calls).toBeLessThanOrEqual(6);
    expect(series(after, 'pop_append_group_seconds_count')).toBe(calls);
    expect(series(after, 'pop_append_group_seconds_sum')).toBeGreaterThan(0);
    expect(series(after, 'pop_append_group_links_bucket{le="256"}')).toBe(calls);
    // Every block of this fresh chain was committed by this server's sealer: one observation each.
    const blocks = series(after, 'pop_block_commit_seconds_count')!;
    expect(blocks).toBeGreaterThanOrEqual(1);
    expect(blocks).toBe(series(after, 'pop_chain_height')! + 1);
    expect(series(after, 'pop_block_commit_seconds_sum')).toBeGreaterThan(0);
    expect(series(after, 'pop_block_commit_seconds_bucket{le="+Inf"}')).toBe(blocks);
  });
});

describe('a start that fails', () => {
  test('its port taken: it rejects, and nothing it started goes on (the sealer’s lock stays free)', async () => {
    const db2 = await createTestDatabase();
    const dir2 = mkdtempSync(join(tmpdir(), 'pop-start-'));
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const c = new pg.Client(db2.url);
    try {
      const config = loadConfig({ DATABASE_URL: db2.url, POP_DATA_DIR: dir2, POP_ADMIN_KEY: admin, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
      await expect(startService(config, () => {})).rejects.toThrow(/EADDRINUSE/);
      await c.connect();
      // Before the fix the sealer started before listen kept running and took its lock ('pops').
      for (let i = 0; i < 5; i++) {
        expect((await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [0x706f7073])).rows[0]!.ok, `the sealer's lock is free (try ${i + 1})`).toBe(true);
        await c.query('SELECT pg_advisory_unlock($1)', [0x706f7073]);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await c.end().catch(() => {});
      await new Promise((resolve) => blocker.close(resolve));
      await db2.drop();
      rmSync(dir2, { recursive: true, force: true });
    }
  }, 60_000);
});

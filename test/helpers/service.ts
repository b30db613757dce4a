// A real service for integration tests: a fresh database (TEST_DATABASE_URL's server or the embedded
// one), migrations, the real app on inject(), an admin key, and the five order-to-cash parties with
// real keys. Nothing is mocked.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import {
  type Alg,
  type Json,
  createDisclosures,
  linkHash,
  linkMessage,
  publicKeyFor,
  secretKeyFrom,
  sign,
  toHex,
  type Link,
} from '../../src/core/index.js';
import type { SignatureVerifier } from '../../src/core/signature.js';
import { migrate } from '../../src/db/migrate.js';
import { buildApp, type App } from '../../src/http/app.js';
import { aesGcmCipher } from '../../src/node/cipher.js';
import { ed25519Notary } from '../../src/node/notary.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import { createTestDatabase } from './db.js';
import { Sealer, type SealerOptions } from '../../src/ledger/sealer.js';
import type { Notary } from '../../src/ledger/ports.js';

export const ORDER_TO_CASH = JSON.parse(readFileSync(new URL('../../schemas/examples/order-to-cash.json', import.meta.url), 'utf8')) as Record<string, unknown>;

export interface Party {
  id: string;
  role: string;
  keyId: string;
  alg: Alg;
  secretKey: Uint8Array;
  publicKey: string;
  apiKey: string;
}

export interface Response {
  status: number;
  headers: Record<string, string | number | string[] | undefined>;
  body: string;
  json: Record<string, unknown> & { items?: Record<string, unknown>[] };
}

export interface TestService extends App {
  adminKey: string;
  databaseUrl: string;
  notary: Notary;
  /** A sealer over this service's database (not started: call start() or sealOnce()). */
  sealer(opts?: Partial<Pick<SealerOptions, 'maxLinks' | 'intervalMs' | 'difficulty'>>): Sealer;
  notaryPublicKey: string;
  parties: Record<string, Party>;
  logs: string[];
  clock: { offsetMs: number };
  request(method: string, url: string, opts?: { key?: string | null; body?: unknown; raw?: string; contentType?: string }): Promise<Response>;
  close(): Promise<void>;
}

const ROLES: [string, Alg][] = [
  ['customer', 'ecdsa-p256'],
  ['retailer', 'ed25519'],
  ['manufacturer', 'ed25519'],
  ['delivery', 'ed25519'],
  ['payment-provider', 'ecdsa-secp256k1'],
];

/** `notarySeed`: the notary's key (default: a fresh one), e.g. the one a pooled verifier signs receipts with. */
export async function startTestService(opts: { parties?: boolean; process?: boolean; verifier?: SignatureVerifier; notarySeed?: Buffer } = {}): Promise<TestService> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  await migrate(pool);
  await pool.end();
  const notary = ed25519Notary(opts.notarySeed ?? randomBytes(32));
  const clock = { offsetMs: 0 };
  const logs: string[] = [];
  const built = await buildApp({
    databaseUrl: db.url,
    notary,
    cipher: aesGcmCipher(randomBytes(32)),
    verifier: opts.verifier ?? nodeVerifier,
    limits: { maxClockSkewMs: 300_000, batchMax: 1000, bodyLimitBytes: 8 * 1024 * 1024, rateLimitPerMinute: 1_000_000 },
    now: () => new Date(Date.now() + clock.offsetMs),
    logger: { level: 'info', stream: { write: (line: string) => void logs.push(line) } },
    poolSize: 12,
  });
  const adminKey = `test-admin-${randomBytes(16).toString('hex')}`;
  await built.ledger.apiKeys.ensureAdmin(adminKey);
  await built.app.ready();

  const request: TestService['request'] = async (method, url, o = {}) => {
    const key = o.key === undefined ? adminKey : o.key;
    const res = await built.app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(o.body !== undefined || o.raw !== undefined ? { 'content-type': o.contentType ?? 'application/json' } : {}),
      },
      ...(o.raw !== undefined ? { payload: o.raw } : o.body !== undefined ? { payload: JSON.stringify(o.body) } : {}),
    });
    let json: Response['json'] = {};
    try {
      json = JSON.parse(res.body) as Response['json'];
    } catch {
      /* not JSON */
    }
    return { status: res.statusCode, headers: res.headers, body: res.body, json };
  };

  const parties: Record<string, Party> = {};
  if (opts.parties !== false) {
    for (const [role, alg] of ROLES) {
      const secretKey = secretKeyFrom(alg, (n) => new Uint8Array(randomBytes(n)));
      const publicKey = toHex(publicKeyFor(alg, secretKey));
      const id = role;
      const added = await request('POST', '/v1/participants', { body: { id, name: `The ${role}`, roles: [role], keys: [{ keyId: `${id}-1`, alg, publicKey }] } });
      if (added.status !== 201) throw new Error(`adding ${id}: ${added.body}`);
      const key = await request('POST', '/v1/api-keys', { body: { role: 'participant', participantId: id } });
      parties[role] = { id, role, keyId: `${id}-1`, alg, secretKey, publicKey, apiKey: key.json['secret'] as string };
    }
  }
  if (opts.process !== false) {
    const r = await request('POST', '/v1/processes', { body: ORDER_TO_CASH });
    if (r.status !== 201) throw new Error(`registering order-to-cash: ${r.body}`);
  }

  const sealers: Sealer[] = [];
  return {
    ...built,
    adminKey,
    databaseUrl: db.url,
    notary,
    sealer(o = {}) {
      const sealer = new Sealer({
        databaseUrl: db.url,
        pool: built.pool,
        notary,
        maxLinks: o.maxLinks ?? 10_000,
        intervalMs: o.intervalMs ?? 50,
        difficulty: o.difficulty ?? 8,
        now: () => new Date(Date.now() + clock.offsetMs),
      });
      sealers.push(sealer);
      return sealer;
    },
    notaryPublicKey: notary.publicKey,
    parties,
    logs,
    clock,
    request,
    async close() {
      for (const s of sealers) await s.stop();
      await built.app.close();
      await db.drop();
    },
  };
}

export interface LinkSpec {
  step: string;
  mapId: string;
  prev?: string[];
  meta?: Record<string, Json>;
  private?: Record<string, Json>;
  refs?: string[];
  tags?: string[];
  createdAt?: string;
  processVersion?: number;
  process?: string;
}

/** A signed submission: the author signs, then each co-signer. */
export function makeSubmission(author: Party, spec: LinkSpec, cosigners: Party[] = []) {
  const { disclosures, digests } = createDisclosures(spec.private ?? {}, (n) => new Uint8Array(randomBytes(n)));
  const link: Link = {
    v: 1,
    process: spec.process ?? 'order-to-cash',
    processVersion: spec.processVersion ?? 1,
    mapId: spec.mapId,
    step: spec.step,
    prev: spec.prev ?? [],
    refs: (spec.refs ?? []).map((linkHash) => ({ linkHash })),
    meta: spec.meta ?? {},
    tags: spec.tags ?? [],
    digests,
    author: author.id,
    createdAt: spec.createdAt ?? new Date().toISOString(),
  };
  const hash = linkHash(link);
  const signatures = [author, ...cosigners].map((p) => ({ signer: p.id, keyId: p.keyId, alg: p.alg, sig: toHex(sign(p.alg, p.secretKey, linkMessage(hash))) }));
  return { hash, body: { link, signatures, ...(disclosures.length ? { private: { disclosures: disclosures.map((d) => d.disclosure) } } : {}) } };
}

/** Meta (and private data) that satisfy the example process for each step. */
export const VALID: Record<string, { meta: Record<string, Json>; private?: Record<string, Json> }> = {
  order: { meta: { currency: 'EUR', total: 129.9, lines: 2 }, private: { name: 'Camille Martin', address: 'Rue de la Paix 1, Paris' } },
  confirm: { meta: { promisedBy: '2026-12-01' } },
  produce: { meta: { batch: 'B-1', units: 2 }, private: { cost: 41.25 } },
  ship: { meta: { carrier: 'ACME', parcels: 1 }, private: { trackingUrl: 'https://track.example/SECRET-TRACKING-7731' } },
  deliver: { meta: { deliveredAt: '2026-12-02T10:00:00Z' } },
  pay: { meta: { amount: 129.9, currency: 'EUR' }, private: { iban: 'FR7630006000011234567890189' } },
  cancel: { meta: { reason: 'changed my mind' } },
};

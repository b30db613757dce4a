// Batches check their signatures on worker threads (src/node/signature-pool.ts, used by
// src/ledger/links.ts for every link): the verdicts must be those of node:crypto on the calling
// thread, and a refused batch must name the same first failure an in-order check would — a bad
// signature before a schema error wins, a schema error before a bad signature wins.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { linkMessage, receiptMessage, sign, toHex } from '../../src/core/index.js';
import { SignaturePool } from '../../src/node/signature-pool.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import type { LinkSignatureJob } from '../../src/ledger/ports.js';
import { type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

const PROBLEM = 'https://proof-of-process.dev/problems/';

class CountingPool extends SignaturePool {
  calls = 0;
  jobs = 0;
  notarized = 0;
  override async verifyLinkSignatures(jobs: readonly LinkSignatureJob[]): Promise<boolean[]> {
    this.calls++;
    this.jobs += jobs.length;
    return super.verifyLinkSignatures(jobs);
  }
  override async signAsNotary(messages: readonly Uint8Array[]): Promise<string[]> {
    this.notarized += messages.length;
    return super.signAsNotary(messages);
  }
}

// The pool holds the service's notary key, as `pop serve` sets it up: receipts are signed on the workers.
const notarySeed = randomBytes(32);
const pool = new CountingPool({ threads: 2, inlineBelow: 1, notarySeed });
let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ verifier: pool, notarySeed });
});
afterAll(async () => {
  await svc?.close();
  await pool.close();
});

/** n first steps (`order`) of new maps, signed by the customer (ECDSA P-256). */
function orders(tag: string, n: number) {
  return Array.from({ length: n }, (_, i) => makeSubmission(svc.parties['customer']!, { step: 'order', mapId: `${tag}-${i}`, ...VALID['order'] }));
}

/** The acceptance's receipt is the notary's Ed25519 signature over pop:receipt:v1:… (spec §5). */
function expectReceiptByNotary(acceptance: Record<string, unknown>, notaryPublicKey: string): void {
  const receipt = acceptance['receipt'] as { linkHash: string; acceptedAt: string; sig: string; notary: { publicKey: string } };
  expect(receipt.notary.publicKey).toBe(notaryPublicKey);
  const valid = nodeVerifier.verify('ed25519', Buffer.from(notaryPublicKey, 'hex'), receiptMessage(receipt.linkHash, receipt.acceptedAt), Buffer.from(receipt.sig, 'hex'));
  expect(valid).toBe(true);
}

const flip = (hex: string) => hex.replace(/^./, (c) => (c === '0' ? '1' : '0'));

describe('batch signatures on worker threads', () => {
  test('good: a 100-link batch is checked on the workers and stored whole', async () => {
    const before = pool.calls;
    const onWorkers = pool.checkedOnWorkers;
    const signedOnWorkers = pool.signedOnWorkers;
    const subs = orders('pool-good', 100);
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: subs.map((s) => s.body) } });
    expect(r.status, r.body).toBe(201);
    expect(pool.calls).toBe(before + 1);
    expect(pool.checkedOnWorkers - onWorkers).toBe(100); // every signature, on the worker threads
    expect(pool.signedOnWorkers - signedOnWorkers).toBe(100); // and every receipt
    // Each link's receipt, signed on a worker, is the notary's over that very link.
    const accepted = r.json['items'] as Record<string, unknown>[];
    expect(accepted.map((a) => a['linkHash'])).toEqual(subs.map((s) => s.hash));
    for (const a of accepted) expectReceiptByNotary(a, svc.notaryPublicKey);
    for (const s of [subs[0]!, subs[57]!, subs[99]!]) expect((await svc.request('GET', `/v1/links/${s.hash}`)).status).toBe(200);
  });

  test('bad: a bad signature at 40 and a schema error at 80 → signature-invalid at 40, nothing stored', async () => {
    const subs = orders('pool-sig-first', 100);
    const bodies = subs.map((s) => s.body) as Record<string, unknown>[];
    const b40 = subs[40]!.body;
    bodies[40] = { ...b40, signatures: [{ ...b40.signatures[0]!, sig: flip(b40.signatures[0]!.sig) }] };
    bodies[80] = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'pool-sig-first-80', meta: { currency: 'EUR' }, private: VALID['order']!.private! }).body;
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: bodies } });
    expect(r.status, r.body).toBe(422);
    expect(r.json['type']).toBe(PROBLEM + 'signature-invalid');
    expect(r.json['index']).toBe(40);
    expect((await svc.request('GET', `/v1/links/${subs[0]!.hash}`)).status).toBe(404);
  });

  test('bad: a schema error at 30 and a bad signature at 60 → schema-violation at 30', async () => {
    const subs = orders('pool-schema-first', 100);
    const bodies = subs.map((s) => s.body) as Record<string, unknown>[];
    bodies[30] = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'pool-schema-first-30', meta: { currency: 'EUR' }, private: VALID['order']!.private! }).body;
    const b60 = subs[60]!.body;
    bodies[60] = { ...b60, signatures: [{ ...b60.signatures[0]!, sig: flip(b60.signatures[0]!.sig) }] };
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: bodies } });
    expect(r.status, r.body).toBe(422);
    expect(r.json['type']).toBe(PROBLEM + 'schema-violation');
    expect(r.json['index']).toBe(30);
  });

  test('bad: only the 99th signature is bad → signature-invalid at 99, nothing stored', async () => {
    const subs = orders('pool-last', 100);
    const bodies = subs.map((s) => s.body) as Record<string, unknown>[];
    const b = subs[99]!.body;
    bodies[99] = { ...b, signatures: [{ ...b.signatures[0]!, sig: flip(b.signatures[0]!.sig) }] };
    const r = await svc.request('POST', '/v1/links/batch', { body: { links: bodies } });
    expect(r.status, r.body).toBe(422);
    expect(r.json['type']).toBe(PROBLEM + 'signature-invalid');
    expect(r.json['index']).toBe(99);
    expect((await svc.request('GET', `/v1/links/${subs[5]!.hash}`)).status).toBe(404);
  });
});

describe('single appends on worker threads', () => {
  test('40 concurrent appends, every fifth badly signed: each answered as alone, the good ones stored, one task for many', async () => {
    const subs = orders('pool-single', 40);
    const bodies = subs.map((s, i) => {
      const b = s.body;
      return i % 5 === 2 ? { ...b, signatures: [{ ...b.signatures[0]!, sig: flip(b.signatures[0]!.sig) }] } : b;
    });
    const onWorkers = pool.checkedOnWorkers;
    const tasks = pool.tasksOnWorkers;
    const notarized = pool.notarized;
    const signedOnWorkers = pool.signedOnWorkers;
    const answers = await Promise.all(bodies.map((body) => svc.request('POST', '/v1/links', { body })));
    for (const [i, r] of answers.entries()) {
      if (i % 5 === 2) {
        expect(r.status, r.body).toBe(422);
        expect(r.json['type']).toBe(PROBLEM + 'signature-invalid');
        expect(r.json['index']).toBeUndefined();
        expect((await svc.request('GET', `/v1/links/${subs[i]!.hash}`)).status).toBe(404);
      } else {
        expect(r.status, r.body).toBe(201);
        expect(r.json['linkHash']).toBe(subs[i]!.hash);
        expectReceiptByNotary(r.json, svc.notaryPublicKey);
      }
    }
    // Receipts are signed on the workers in the same trip as the signature checks: at least the 32
    // accepted links' (a refused link's may be signed too, for nothing: it is never shown).
    expect(pool.notarized - notarized).toBeGreaterThanOrEqual(32);
    expect(pool.signedOnWorkers - signedOnWorkers).toBeGreaterThanOrEqual(32);
    // A refused link is checked again with its signers read afresh (the cache may be stale): 40 + 8.
    expect(pool.checkedOnWorkers - onWorkers).toBe(48);
    expect(pool.tasksOnWorkers - tasks).toBeLessThan(40);
  });

  test('a schema error and a bad signature in one link: the schema error, as checked in order', async () => {
    const sub = makeSubmission(svc.parties['customer']!, { step: 'order', mapId: 'pool-single-schema', meta: { currency: 'EUR' }, private: VALID['order']!.private! });
    const body = { ...sub.body, signatures: [{ ...sub.body.signatures[0]!, sig: flip(sub.body.signatures[0]!.sig) }] };
    const r = await svc.request('POST', '/v1/links', { body });
    expect(r.status, r.body).toBe(422);
    expect(r.json['type']).toBe(PROBLEM + 'schema-violation');
  });
});

describe('receipts', () => {
  test('a pool holding another key than the notary’s is not asked to sign: receipts by the notary', async () => {
    const other = new CountingPool({ threads: 1, inlineBelow: 1, notarySeed: randomBytes(32) });
    const own = await startTestService({ verifier: other });
    try {
      const sub = makeSubmission(own.parties['customer']!, { step: 'order', mapId: 'pool-other-notary', ...VALID['order'] });
      const r = await own.request('POST', '/v1/links', { body: sub.body });
      expect(r.status, r.body).toBe(201);
      expect(other.notaryPublicKey).not.toBe(own.notaryPublicKey);
      expectReceiptByNotary(r.json, own.notaryPublicKey);
      expect(other.notarized).toBe(0);
      expect(other.checkedOnWorkers).toBe(1);
    } finally {
      await own.close();
      await other.close();
    }
  });
});

describe('the signature pool', () => {
  test('its verdicts equal node:crypto on the calling thread, valid and mutated, every algorithm', async () => {
    const jobs: LinkSignatureJob[] = [];
    for (const party of Object.values(svc.parties)) {
      for (let i = 0; i < 60; i++) {
        const linkHash = randomBytes(32).toString('hex');
        const sig = toHex(sign(party.alg, party.secretKey, linkMessage(linkHash)));
        jobs.push({ alg: party.alg, publicKey: party.publicKey, linkHash, sig: i % 3 === 0 ? flip(sig) : sig });
      }
    }
    const own = new SignaturePool({ threads: 2, inlineBelow: 1 });
    try {
      const verdicts = await own.verifyLinkSignatures(jobs);
      const expected = jobs.map((j) => nodeVerifier.verify(j.alg, Buffer.from(j.publicKey, 'hex'), linkMessage(j.linkHash), Buffer.from(j.sig, 'hex')));
      expect(verdicts).toEqual(expected);
      expect(verdicts.filter((v) => !v)).toHaveLength(jobs.length / 3);
      // Two sets at once share the workers and get their own verdicts.
      const [a, b] = await Promise.all([own.verifyLinkSignatures(jobs.slice(0, 150)), own.verifyLinkSignatures(jobs.slice(150))]);
      expect([...a, ...b]).toEqual(expected);
    } finally {
      await own.close();
    }
    // Closed, it checks on the calling thread, with the same verdicts.
    expect(await own.verifyLinkSignatures(jobs)).toEqual(jobs.map((j) => nodeVerifier.verify(j.alg, Buffer.from(j.publicKey, 'hex'), linkMessage(j.linkHash), Buffer.from(j.sig, 'hex'))));
  });
});

// The signature pool (src/node/signature-pool.ts) checks single appends' signatures on worker
// threads: the small sets asked for in one turn of the event loop go to one worker as one task, and
// every caller gets the verdicts of its own jobs, exactly node:crypto's on the calling thread.
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, test } from 'vitest';
import { linkMessage, publicKeyFor, secretKeyFrom, sign, toHex } from '../../src/core/index.js';
import type { Alg } from '../../src/core/signature.js';
import type { LinkSignatureJob } from '../../src/ledger/ports.js';
import { ed25519Notary } from '../../src/node/notary.js';
import { SignaturePool } from '../../src/node/signature-pool.js';
import { nodeVerifier } from '../../src/node/verifier.js';

const ALGS: Alg[] = ['ed25519', 'ecdsa-p256', 'ecdsa-secp256k1'];
const keys = ALGS.map((alg) => {
  const secretKey = secretKeyFrom(alg, (n) => randomBytes(n));
  return { alg, secretKey, publicKey: publicKeyFor(alg, secretKey) };
});

/** n jobs over every algorithm; the ones `bad` picks carry a signature over another hash. */
function jobs(n: number, bad: (i: number) => boolean = () => false): LinkSignatureJob[] {
  return Array.from({ length: n }, (_, i) => {
    const k = keys[i % keys.length]!;
    const linkHash = randomBytes(32).toString('hex');
    const signed = bad(i) ? randomBytes(32).toString('hex') : linkHash;
    return { alg: k.alg, publicKey: toHex(k.publicKey), linkHash, sig: toHex(sign(k.alg, k.secretKey, linkMessage(signed))) };
  });
}

const truth = (js: readonly LinkSignatureJob[]) =>
  js.map((j) => nodeVerifier.verify(j.alg, Buffer.from(j.publicKey, 'hex'), linkMessage(j.linkHash), Buffer.from(j.sig, 'hex')));

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const pools: SignaturePool[] = [];
function pool(opts: ConstructorParameters<typeof SignaturePool>[0]): SignaturePool {
  const p = new SignaturePool(opts);
  pools.push(p);
  return p;
}
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

describe('small sets gathered per turn', () => {
  test('twenty callers in one turn: one task, each answered with its own verdicts', async () => {
    const p = pool({ threads: 2, inlineBelow: 1 });
    const sets = Array.from({ length: 20 }, (_, i) => jobs(1 + (i % 3), (j) => (i + j) % 4 === 0));
    const tasks = p.tasksOnWorkers;
    const checked = p.checkedOnWorkers;
    const answers = await Promise.all(sets.map((s) => p.verifyLinkSignatures(s)));
    expect(answers).toEqual(sets.map(truth));
    expect(answers.flat()).toContain(false);
    expect(answers.flat()).toContain(true);
    expect(p.tasksOnWorkers - tasks).toBe(1);
    expect(p.checkedOnWorkers - checked).toBe(sets.flat().length);
  });

  test('callers in different turns: one task per turn', async () => {
    const p = pool({ threads: 2, inlineBelow: 1 });
    const tasks = p.tasksOnWorkers;
    const a = jobs(2, (i) => i === 1);
    const first = p.verifyLinkSignatures(a);
    await nextTurn();
    const b = jobs(3, (i) => i === 0);
    const second = p.verifyLinkSignatures(b);
    expect(await first).toEqual([true, false]);
    expect(await second).toEqual([false, true, true]);
    expect(p.tasksOnWorkers - tasks).toBe(2);
  });

  test('a lone signature while the workers are idle is checked inline below inlineBelow', async () => {
    const p = pool({ threads: 1, inlineBelow: 2 });
    const one = jobs(1);
    expect(await p.verifyLinkSignatures(one)).toEqual([true]);
    expect(p.tasksOnWorkers).toBe(0);
    expect(p.checkedOnWorkers).toBe(0);
    // Two in one turn reach the threshold and go to the worker.
    const [x, y] = await Promise.all([p.verifyLinkSignatures(jobs(1)), p.verifyLinkSignatures(jobs(1, () => true))]);
    expect([x, y]).toEqual([[true], [false]]);
    expect(p.tasksOnWorkers).toBe(1);
    expect(p.checkedOnWorkers).toBe(2);
  });

  test('below inlineBelow, a lone signature still goes to the worker while it is busy', async () => {
    const p = pool({ threads: 1, inlineBelow: 2, splitFrom: 64 });
    const big = jobs(300);
    const busy = p.verifyLinkSignatures(big); // on the worker
    const one = jobs(1, () => true);
    const lone = p.verifyLinkSignatures(one);
    expect(await lone).toEqual([false]);
    expect(await busy).toEqual(truth(big));
    expect(p.tasksOnWorkers).toBe(2);
    expect(p.checkedOnWorkers).toBe(301);
  });

  test('by default, with idle workers, a turn of one request (its signature, its receipt) stays inline; more goes to a worker on more than one core', async () => {
    const seed = randomBytes(32);
    const notary = ed25519Notary(seed);
    const p = pool({ threads: 1, notarySeed: seed });
    expect(await p.warm()).toBe(true); // the worker is up and idle
    const request = (bad: boolean, signatures = 1) => {
      const js = jobs(signatures, () => bad);
      const msgs = [new Uint8Array(randomBytes(40))];
      return Promise.all([p.verifyLinkSignatures(js), p.signAsNotary(msgs)]).then(([v, sigs]) => {
        expect(v).toEqual(truth(js));
        expect(sigs).toEqual(msgs.map((m) => notary.sign(m)));
      });
    };
    await request(true);
    expect(p.tasksOnWorkers, 'one signature and one receipt: inline').toBe(0);
    const multi = availableParallelism() > 1; // one core: every small set inline (64 and under)
    await Promise.all([request(false), request(true)]);
    expect(p.tasksOnWorkers, 'two requests in one turn').toBe(multi ? 1 : 0);
    await request(false, 2); // a cosigned link: two signatures and the receipt
    expect(p.tasksOnWorkers).toBe(multi ? 2 : 0);
    expect(p.checkedOnWorkers).toBe(multi ? 4 : 0);
    expect(p.signedOnWorkers).toBe(multi ? 3 : 0);
  });

  test('no jobs: no task, no turn waited', async () => {
    const p = pool({ threads: 1, inlineBelow: 1 });
    expect(await p.verifyLinkSignatures([])).toEqual([]);
    expect(p.tasksOnWorkers).toBe(0);
  });
});

describe('big sets', () => {
  test('split over every worker, verdicts in order', async () => {
    const p = pool({ threads: 2, splitFrom: 64 });
    const big = jobs(200, (i) => i % 7 === 3);
    const tasks = p.tasksOnWorkers;
    expect(await p.verifyLinkSignatures(big)).toEqual(truth(big));
    expect(p.tasksOnWorkers - tasks).toBe(2);
    expect(p.checkedOnWorkers).toBe(200);
  });
});

describe('signing for the notary', () => {
  const seed = randomBytes(32);
  const notary = ed25519Notary(seed);
  const messages = (n: number) => Array.from({ length: n }, () => new Uint8Array(randomBytes(40)));

  test('on the workers, in the same task as the turn’s checks; the notary’s very bytes', async () => {
    const p = pool({ threads: 2, inlineBelow: 1, notarySeed: seed });
    expect(p.notaryPublicKey).toBe(notary.publicKey);
    const a = messages(3);
    const b = messages(2);
    const js = jobs(4, (i) => i === 1);
    const [sa, verdicts, sb] = await Promise.all([p.signAsNotary(a), p.verifyLinkSignatures(js), p.signAsNotary(b)]);
    expect(sa).toEqual(a.map((m) => notary.sign(m)));
    expect(sb).toEqual(b.map((m) => notary.sign(m)));
    expect(verdicts).toEqual(truth(js));
    expect(p.tasksOnWorkers).toBe(1);
    expect(p.signedOnWorkers).toBe(5);
  });

  test('closed: signed on the calling thread, same bytes', async () => {
    const p = pool({ threads: 1, inlineBelow: 1, notarySeed: seed });
    await p.close();
    const m = messages(2);
    expect(await p.signAsNotary(m)).toEqual(m.map((x) => notary.sign(x)));
    expect(p.signedOnWorkers).toBe(0);
  });

  test('closed while the task is on the worker: whatever it did not sign is signed here', async () => {
    const p = pool({ threads: 1, inlineBelow: 1, notarySeed: seed });
    await p.signAsNotary(messages(1)); // the worker is up
    const m = messages(20_000); // ≈ 0.3 s of signing on the worker
    const signing = p.signAsNotary(m);
    await nextTurn(); // posted
    await new Promise((resolve) => setTimeout(resolve, 20)); // under way
    await p.close();
    expect(await signing).toEqual(m.map((x) => notary.sign(x)));
    expect(p.signedOnWorkers).toBe(1); // the long task's answer never came: all signed here
  });

  test('a pool without the key refuses to sign and says it has none', async () => {
    const p = pool({ threads: 1 });
    expect(p.notaryPublicKey).toBeUndefined();
    await expect(p.signAsNotary(messages(1))).rejects.toThrow(/no notary key/);
  });
});

describe('warm: the workers booted before the first request', () => {
  test('starts every worker and waits for each to answer; later sets go to them, the warm tasks uncounted', async () => {
    const p = pool({ threads: 2, inlineBelow: 1 });
    const original = Worker.prototype.postMessage;
    const posted: Worker[] = [];
    Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
      posted.push(this);
      original.apply(this, args);
    };
    let warm: boolean;
    try {
      warm = await p.warm();
    } finally {
      Worker.prototype.postMessage = original;
    }
    expect(warm).toBe(true);
    expect(p.onMainThread).toBe(false);
    expect(new Set(posted).size, 'one empty task to each of the two workers').toBe(2);
    expect(posted).toHaveLength(2);
    expect(p.tasksOnWorkers).toBe(0);
    expect(p.checkedOnWorkers).toBe(0);
    const js = jobs(3, (i) => i === 1);
    expect(await p.verifyLinkSignatures(js)).toEqual(truth(js));
    expect(p.tasksOnWorkers).toBe(1);
    expect(p.checkedOnWorkers).toBe(3);
  });

  test('workers that die while warming: false, reported once, everything inline with the same verdicts', async () => {
    const fallbacks: Error[] = [];
    const p = pool({ threads: 2, inlineBelow: 1, onFallback: (e) => fallbacks.push(e) });
    const original = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
      original.apply(this, args);
      void this.terminate();
    };
    try {
      expect(await p.warm()).toBe(false);
    } finally {
      Worker.prototype.postMessage = original;
    }
    expect(fallbacks.map((e) => e.message)).toEqual([expect.stringMatching(/signature worker exited/)]);
    expect(p.onMainThread).toBe(true);
    const js = jobs(4, (i) => i === 0);
    expect(await p.verifyLinkSignatures(js)).toEqual(truth(js));
    expect(p.tasksOnWorkers).toBe(0);
    expect(await p.warm(), 'a broken pool stays inline').toBe(false);
  });

  test('a closed pool does not start workers to warm', async () => {
    const p = pool({ threads: 1, inlineBelow: 1 });
    await p.close();
    expect(await p.warm()).toBe(false);
    const js = jobs(2);
    expect(await p.verifyLinkSignatures(js)).toEqual(truth(js));
    expect(p.tasksOnWorkers).toBe(0);
  });
});

describe('workers gone', () => {
  test('closed while a turn’s task is on a worker: what it left is checked inline, same verdicts', async () => {
    const p = pool({ threads: 1, inlineBelow: 1 });
    await p.verifyLinkSignatures(jobs(1)); // the worker is up
    const base = jobs(50, (i) => i % 5 === 0);
    const sets = Array.from({ length: 5000 }, (_, i) => [base[i % 50]!, base[(i * 7 + 1) % 50]!]); // 10,000 checks, ≥ 0.5 s
    const before = p.checkedOnWorkers;
    const answers = Promise.all(sets.map((s) => p.verifyLinkSignatures(s)));
    await nextTurn(); // the task is posted
    await new Promise((resolve) => setTimeout(resolve, 20)); // under way
    const onWorkers = p.checkedOnWorkers;
    expect(onWorkers, 'the task is still under way when the pool closes').toBe(before); // a quiet task reports only when done
    await p.close();
    expect(await answers).toEqual(sets.map(truth));
    expect(p.checkedOnWorkers).toBe(onWorkers); // no answer came from the worker after it was closed
  });

  test('a worker that dies on its own mid-task: every caller still gets its verdicts and receipts, reported once, inline from then on', async () => {
    const seed = randomBytes(32);
    const notary = ed25519Notary(seed);
    const fallbacks: Error[] = [];
    const p = pool({ threads: 2, inlineBelow: 1, notarySeed: seed, onFallback: (e) => fallbacks.push(e) });
    await p.verifyLinkSignatures(jobs(1)); // the workers are up
    // The next task posted kills the worker it went to, as a crash would (not through close()).
    const original = Worker.prototype.postMessage;
    const killed: Worker[] = [];
    Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
      original.apply(this, args);
      if (killed.length === 0) {
        killed.push(this);
        void this.terminate();
      }
    };
    try {
      const base = jobs(40, (i) => i % 4 === 1);
      const sets = Array.from({ length: 200 }, (_, i) => [base[i % 40]!, base[(i * 3 + 1) % 40]!]);
      const msgs = Array.from({ length: 30 }, () => new Uint8Array(randomBytes(40)));
      const [answers, receipts] = await Promise.all([Promise.all(sets.map((s) => p.verifyLinkSignatures(s))), p.signAsNotary(msgs)]);
      expect(killed).toHaveLength(1);
      expect(answers).toEqual(sets.map(truth));
      expect(answers.flat()).toContain(false);
      expect(receipts).toEqual(msgs.map((m) => notary.sign(m)));
      expect(fallbacks.map((e) => e.message)).toEqual([expect.stringMatching(/signature worker exited/)]);
      // From now on nothing is posted: inline, same verdicts and signatures, small sets and big.
      const tasks = p.tasksOnWorkers;
      const later = jobs(7, (i) => i === 3);
      expect(await p.verifyLinkSignatures(later)).toEqual(truth(later));
      const big = jobs(100, (i) => i === 50);
      expect(await p.verifyLinkSignatures(big)).toEqual(truth(big));
      expect(await p.signAsNotary(msgs.slice(0, 2))).toEqual(msgs.slice(0, 2).map((m) => notary.sign(m)));
      expect(p.tasksOnWorkers).toBe(tasks);
      expect(fallbacks).toHaveLength(1);
    } finally {
      Worker.prototype.postMessage = original;
    }
  });

  test('after close everything is checked inline', async () => {
    const p = pool({ threads: 1, inlineBelow: 1 });
    await p.close();
    const tasks = p.tasksOnWorkers;
    const js = jobs(5, (i) => i === 2);
    expect(await p.verifyLinkSignatures(js)).toEqual(truth(js));
    expect(p.tasksOnWorkers).toBe(tasks);
  });
});

// Proof-of-work on worker threads (src/node/pow-pool.ts, src/node/pow-worker.ts): the answers are
// core's (valid proof-of-work, the first nonce with one thread), cancellation and close() stop the
// threads, idle threads keep no process alive, and a thread that cannot start (or dies) makes the
// pool mine on the calling thread, saying so.
import { execFile } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { type HeaderFields, MiningCancelled, blockHash, decodeHeader, encodeHeader, hasProofOfWork, mineRange } from '../../src/core/index.js';
import { PowPool } from '../../src/node/pow-pool.js';
import { searchNonces } from '../../src/node/pow-worker.js';

const fields = (over: Partial<HeaderFields> = {}): HeaderFields => ({
  version: 1,
  height: 7,
  timestamp: 1_790_000_000_000,
  prevHash: 'ab'.repeat(32),
  linksRoot: 'cd'.repeat(32),
  leafCount: 1000,
  historyRoot: 'ef'.repeat(32),
  difficulty: 12,
  nonce: 0,
  ...over,
});

const pools: PowPool[] = [];
function pool(o: ConstructorParameters<typeof PowPool>[0] = {}): PowPool {
  const p = new PowPool(o);
  pools.push(p);
  return p;
}
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

const stopFlag = () => new SharedArrayBuffer(4);

describe('searchNonces (the worker loop)', () => {
  test('one worker finds the first nonce core finds', () => {
    for (const difficulty of [4, 8, 12]) {
      const header = encodeHeader(fields({ difficulty }));
      const want = mineRange(header, 0, 1 << 22).nonce;
      expect(searchNonces({ header, offset: 0, stride: 1, chunk: 100, stop: stopFlag() }).nonce).toBe(want);
    }
  });

  test('workers split the nonce space into interleaved chunks, and the finder raises the stop flag', () => {
    const header = encodeHeader(fields({ difficulty: 10 }));
    const first = mineRange(header, 0, 1 << 22).nonce!;
    const chunk = 64;
    const owner = Math.floor(first / chunk) % 3;
    const stop = stopFlag();
    const found = searchNonces({ header, offset: owner, stride: 3, chunk, stop });
    expect(found.nonce).toBe(first);
    expect(new Int32Array(stop)[0]).toBe(1);
    // The others search only their own chunks: each finds a later nonce, in a chunk of its own.
    for (const offset of [0, 1, 2].filter((o) => o !== owner)) {
      const other = searchNonces({ header, offset, stride: 3, chunk, stop: stopFlag() }).nonce!;
      expect(other).toBeGreaterThan(first);
      expect(Math.floor(other / chunk) % 3).toBe(offset);
      expect(hasProofOfWork(blockHash(encodeHeader(fields({ difficulty: 10, nonce: other }))), 10)).toBe(true);
    }
  });

  test('a raised flag stops the search before any hash', () => {
    const stop = stopFlag();
    Atomics.store(new Int32Array(stop), 0, 1);
    expect(searchNonces({ header: encodeHeader(fields({ difficulty: 200 })), offset: 0, stride: 1, chunk: 1024, stop })).toEqual({ nonce: null, tries: 0 });
  });
});

describe('PowPool', () => {
  test('one worker thread answers with the header core would mine', async () => {
    const p = pool({ threads: 1 });
    for (const difficulty of [1, 8, 14]) {
      const f = fields({ difficulty, height: difficulty });
      const r = await p.mine(f);
      expect(r.on).toBe('worker');
      expect(r.nonce).toBe(mineRange(encodeHeader(f), 0, 1 << 24).nonce);
      expect(decodeHeader(r.header)).toEqual({ ...f, nonce: r.nonce });
      expect(hasProofOfWork(blockHash(r.header), difficulty)).toBe(true);
    }
    expect(p.threadCount).toBe(1);
    expect(p.unavailable).toBe(false);
  });

  test('two worker threads share the search; every answer has the proof-of-work', async () => {
    const p = pool({ threads: 2, chunk: 256 });
    for (let height = 1; height <= 6; height++) {
      const r = await p.mine(fields({ height, difficulty: 13 }));
      expect(r.on).toBe('worker');
      expect(hasProofOfWork(blockHash(r.header), 13)).toBe(true);
      expect(decodeHeader(r.header).nonce).toBe(r.nonce);
    }
    expect(p.threadCount).toBe(2);
  });

  test('difficulty 0 needs no thread', async () => {
    const p = pool();
    const r = await p.mine(fields({ difficulty: 0 }));
    expect(r.nonce).toBe(0);
    expect(p.threadCount).toBe(0);
  });

  test('cancelling rejects at once, the threads stop, and the next job runs', async () => {
    const p = pool({ threads: 2, chunk: 1024 });
    const controller = new AbortController();
    const run = p.mine(fields({ difficulty: 200 }), controller.signal); // never found
    await expect.poll(() => p.busy).toBe(true);
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(MiningCancelled);
    // A thread still searching would never take the next job.
    const next = await p.mine(fields({ difficulty: 8 }));
    expect(hasProofOfWork(blockHash(next.header), 8)).toBe(true);
    await expect.poll(() => p.busy).toBe(false); // the other thread stops after the first answer
    await expect(p.mine(fields(), controller.signal)).rejects.toBeInstanceOf(MiningCancelled);
  });

  test('a job waiting behind another is cancelled without running', async () => {
    const p = pool();
    const first = new AbortController();
    const second = new AbortController();
    const running = p.mine(fields({ difficulty: 200 }), first.signal);
    const waiting = p.mine(fields({ difficulty: 1 }), second.signal);
    second.abort();
    await expect(waiting).rejects.toBeInstanceOf(MiningCancelled);
    await expect.poll(() => p.busy).toBe(true);
    first.abort();
    await expect(running).rejects.toBeInstanceOf(MiningCancelled);
    expect((await p.mine(fields({ difficulty: 4 }))).on).toBe('worker');
  });

  test('close() cancels the running job and terminates the threads; the pool starts new ones when used again', async () => {
    const p = pool({ threads: 2 });
    const run = p.mine(fields({ difficulty: 200 }));
    await expect.poll(() => p.busy).toBe(true);
    const cancelled = expect(run).rejects.toBeInstanceOf(MiningCancelled);
    await p.close();
    await cancelled;
    expect(p.threadCount).toBe(0);
    expect((await p.mine(fields({ difficulty: 6 }))).on).toBe('worker');
    expect(p.threadCount).toBe(2);
  });

  test('workers that cannot be created: mining on this thread, said once', async () => {
    const logs: string[] = [];
    let starts = 0;
    const p = pool({
      log: (msg, extra) => logs.push(`${msg} ${JSON.stringify(extra)}`),
      startWorker: () => {
        starts++;
        throw new Error('no threads here');
      },
    });
    for (const difficulty of [6, 10]) {
      const r = await p.mine(fields({ difficulty }));
      expect(r.on).toBe('main-thread');
      expect(hasProofOfWork(blockHash(r.header), difficulty)).toBe(true);
    }
    expect(p.unavailable).toBe(true);
    expect(starts).toBe(1);
    expect(logs).toEqual(['proof-of-work workers could not start; mining on the main thread {"error":"no threads here"}']);
  });

  test('a worker whose module fails to load: mining on this thread, said once', async () => {
    const logs: string[] = [];
    const p = pool({
      log: (msg) => logs.push(msg),
      startWorker: () => new Worker('throw new Error("module failed to load")', { eval: true }),
    });
    const r = await p.mine(fields({ difficulty: 10 }));
    expect(r.on).toBe('main-thread');
    expect(hasProofOfWork(blockHash(r.header), 10)).toBe(true);
    expect(p.unavailable).toBe(true);
    expect((await p.mine(fields({ difficulty: 4 }))).on).toBe('main-thread');
    expect(logs).toEqual(['proof-of-work workers could not start; mining on the main thread']);
  });

  test('a worker that dies mid-job: that block is mined here, the next gets a new worker', async () => {
    const f = fields({ difficulty: 10 });
    const nonce = mineRange(encodeHeader(f), 0, 1 << 22).nonce;
    // Answers its first job correctly, then dies.
    const script = `const { parentPort, workerData } = require('node:worker_threads');
      let jobs = 0;
      parentPort.on('message', (t) => { if (jobs++ === 0) parentPort.postMessage({ id: t.id, nonce: workerData.nonce, tries: 1 }); else process.exit(3); });`;
    let starts = 0;
    const logs: string[] = [];
    const p = pool({ log: (msg) => logs.push(msg), startWorker: () => (starts++, new Worker(script, { eval: true, workerData: { nonce } })) });
    expect(await p.mine(f)).toMatchObject({ on: 'worker', nonce });
    const second = await p.mine(fields({ difficulty: 9, height: 8 }));
    expect(second.on).toBe('main-thread');
    expect(hasProofOfWork(blockHash(second.header), 9)).toBe(true);
    expect(logs).toEqual(['proof-of-work worker failed; mining this block on the main thread']);
    expect(p.unavailable).toBe(false);
    expect(await p.mine(f)).toMatchObject({ on: 'worker', nonce });
    expect(starts).toBe(2);
  });

  test('a nonce short of the difficulty is never returned', async () => {
    const f = fields({ difficulty: 12 });
    const header = encodeHeader(f);
    let bad = 0;
    while (hasProofOfWork(blockHash(encodeHeader({ ...f, nonce: bad })), 12)) bad++;
    const script = `const { parentPort, workerData } = require('node:worker_threads');
      parentPort.on('message', (t) => parentPort.postMessage({ id: t.id, nonce: workerData.bad, tries: 1 }));`;
    const logs: string[] = [];
    const p = pool({ log: (msg) => logs.push(msg), startWorker: () => new Worker(script, { eval: true, workerData: { bad } }) });
    const r = await p.mine(f);
    expect(r.on).toBe('main-thread');
    expect(r.nonce).toBe(mineRange(header, 0, 1 << 24).nonce);
    expect(logs).toHaveLength(1);
  });

  test('idle threads keep no process alive: a script that mines and never closes the pool exits', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const script = `import { PowPool } from './src/node/pow-pool.ts';
      const p = new PowPool({ threads: 2 });
      const r = await p.mine({ version: 1, height: 1, timestamp: 0, prevHash: '00'.repeat(32), linksRoot: '00'.repeat(32), leafCount: 1, historyRoot: '00'.repeat(32), difficulty: 12, nonce: 0 });
      console.log(r.on, p.threadCount);`;
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 50_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
      );
      child.stdin?.end();
    });
    expect(out.stderr).toBe('');
    expect(out).toMatchObject({ code: 0, stdout: 'worker 2\n' });
  });
});

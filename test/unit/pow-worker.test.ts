// Blocks built and mined on worker threads (src/node/pow-pool.ts, src/node/pow-worker.ts): the tree
// is core's LinkTree level for level, built once per block however many threads search; the answers
// are core's (valid proof-of-work, the first nonce with one thread), and the calling thread's
// fallback gives the same block; cancellation and close() stop the threads, idle threads keep no
// process alive, a thread that cannot start (or dies) makes the pool work on the calling thread,
// saying so, and the threads run at a lower CPU priority than the rest of the process.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import {
  EMPTY_ROOT,
  type HeaderFields,
  LinkTree,
  MiningCancelled,
  blockHash,
  concatBytes,
  decodeHeader,
  encodeHeader,
  hasProofOfWork,
  mineRange,
  toHex,
} from '../../src/core/index.js';
import { PowPool } from '../../src/node/pow-pool.js';
import {
  type BlockFields,
  CONTROL_BYTES,
  POW_NICE,
  POW_WORKER_ROLE,
  READY,
  STOP,
  control,
  runTask,
  searchNonces,
  treeBytes,
  treeLevels,
  writeTree,
} from '../../src/node/pow-worker.js';
import { startModuleWorker } from '../../src/node/start-worker.js';

const block = (over: Partial<BlockFields> = {}): BlockFields => ({
  version: 1,
  height: 7,
  timestamp: 1_790_000_000_000,
  prevHash: 'ab'.repeat(32),
  historyRoot: 'ef'.repeat(32),
  difficulty: 12,
  ...over,
});

/** n link hashes, concatenated (distinct per seed). */
function leavesOf(n: number, seed = 0): Uint8Array {
  return concatBytes(...Array.from({ length: n }, (_, i) => new Uint8Array(createHash('sha256').update(`link ${seed}/${i}`).digest())));
}

/** What the block must be: core's LinkTree (its own portable SHA-256), the header, and the first nonce. */
function expected(b: BlockFields, leaves: Uint8Array): { fields: HeaderFields; levels: string[] } {
  const tree = new LinkTree(Array.from({ length: leaves.length / 32 }, (_, i) => leaves.subarray(i * 32, i * 32 + 32)));
  const unmined = { ...b, linksRoot: toHex(tree.root), leafCount: tree.size, nonce: 0 };
  const nonce = mineRange(encodeHeader(unmined), 0, 1 << 24).nonce!;
  return { fields: { ...unmined, nonce }, levels: tree.levels().map((level) => toHex(concatBytes(...level))) };
}

const pools: PowPool[] = [];
function pool(o: ConstructorParameters<typeof PowPool>[0] = {}): PowPool {
  const p = new PowPool(o);
  pools.push(p);
  return p;
}
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

const flags = () => new Int32Array(new SharedArrayBuffer(8));

describe('the tree (writeTree)', () => {
  test('its levels are LinkTree’s, leaves first, for every shape of tree', () => {
    for (const n of [...Array.from({ length: 40 }, (_, i) => i + 1), 63, 64, 65, 1500]) {
      const leaves = leavesOf(n, n);
      const out = new Uint8Array(treeBytes(n));
      const root = writeTree(leaves, out);
      const want = expected(block({ difficulty: 0 }), leaves);
      expect(treeLevels(out, n).map(toHex)).toEqual(want.levels);
      expect(toHex(root)).toBe(want.fields.linksRoot);
    }
  });

  test('no links: the empty root and no levels', () => {
    expect(writeTree(new Uint8Array(0), new Uint8Array(0))).toEqual(EMPTY_ROOT);
    expect(treeLevels(new Uint8Array(0), 0)).toEqual([]);
  });

  test('refuses leaves that are not whole hashes, or an output of the wrong size', () => {
    expect(() => writeTree(new Uint8Array(33), new Uint8Array(treeBytes(1)))).toThrow(RangeError);
    expect(() => writeTree(leavesOf(3), new Uint8Array(treeBytes(3) - 32))).toThrow(RangeError);
  });
});

describe('searchNonces and runTask (the worker loop)', () => {
  const header = (over: Partial<BlockFields> = {}) => encodeHeader({ ...block(over), linksRoot: 'cd'.repeat(32), leafCount: 1000, nonce: 0 });

  test('one worker finds the first nonce core finds', () => {
    for (const difficulty of [4, 8, 12]) {
      const h = header({ difficulty });
      const want = mineRange(h, 0, 1 << 22).nonce;
      expect(searchNonces({ header: h, offset: 0, stride: 1, chunk: 100, stop: flags() }).nonce).toBe(want);
    }
  });

  test('workers split the nonce space into interleaved chunks, and the finder raises the stop flag', () => {
    const h = header({ difficulty: 10 });
    const first = mineRange(h, 0, 1 << 22).nonce!;
    const chunk = 64;
    const owner = Math.floor(first / chunk) % 3;
    const stop = flags();
    const found = searchNonces({ header: h, offset: owner, stride: 3, chunk, stop });
    expect(found.nonce).toBe(first);
    expect(stop[STOP]).toBe(1);
    // The others search only their own chunks: each finds a later nonce, in a chunk of its own.
    for (const offset of [0, 1, 2].filter((o) => o !== owner)) {
      const other = searchNonces({ header: h, offset, stride: 3, chunk, stop: flags() }).nonce!;
      expect(other).toBeGreaterThan(first);
      expect(Math.floor(other / chunk) % 3).toBe(offset);
      expect(hasProofOfWork(blockHash(encodeHeader({ ...block({ difficulty: 10 }), linksRoot: 'cd'.repeat(32), leafCount: 1000, nonce: other })), 10)).toBe(true);
    }
  });

  test('a raised flag stops the search before any hash', () => {
    const stop = flags();
    stop[STOP] = 1;
    expect(searchNonces({ header: header({ difficulty: 200 }), offset: 0, stride: 1, chunk: 1024, stop })).toEqual({ nonce: null, tries: 0 });
  });

  test('the builder writes the tree and the final header for its siblings, who search that header', () => {
    const b = block({ difficulty: 10 });
    const leaves = leavesOf(21);
    const want = expected(b, leaves);
    const shared = { header: new SharedArrayBuffer(136), control: new SharedArrayBuffer(CONTROL_BYTES), chunk: 64, stride: 2 };
    const levels = new SharedArrayBuffer(treeBytes(21));
    const built = runTask({ id: 1, ...shared, offset: 0, build: { fields: b, leaves, levels } });
    expect(treeLevels(new Uint8Array(levels), 21).map(toHex)).toEqual(want.levels);
    expect(decodeHeader(new Uint8Array(shared.header))).toEqual({ ...want.fields, nonce: 0 });
    const { flags: f, treeMs } = control(shared.control);
    expect(f[READY]).toBe(1);
    expect(treeMs[0]).toBeGreaterThan(0);
    // Its sibling (offset 1) searches the header the builder wrote, not one of its own.
    f[STOP] = 0;
    const sibling = runTask({ id: 1, ...shared, offset: 1 });
    for (const nonce of [built.nonce!, sibling.nonce!]) {
      expect(hasProofOfWork(blockHash(encodeHeader({ ...want.fields, nonce })), 10)).toBe(true);
    }
    expect(Math.floor(sibling.nonce! / 64) % 2).toBe(1);
  });

  test('a sibling stopped while waiting for the tree answers at once, without a hash', () => {
    const c = new SharedArrayBuffer(CONTROL_BYTES);
    control(c).flags[STOP] = 1;
    expect(runTask({ id: 1, header: new SharedArrayBuffer(136), control: c, offset: 1, stride: 2, chunk: 64 })).toEqual({ nonce: null, tries: 0 });
  });
});

describe('PowPool', () => {
  test('one worker thread builds LinkTree’s tree and answers with the header core would mine', async () => {
    const p = pool({ threads: 1 });
    for (const [difficulty, n] of [[1, 1], [8, 2], [14, 1500]] as const) {
      const b = block({ difficulty, height: difficulty });
      const leaves = leavesOf(n, difficulty);
      const want = expected(b, leaves);
      const r = await p.mine(b, leaves);
      expect(r.on).toBe('worker');
      expect(r.fields).toEqual(want.fields);
      expect(r.levels.map(toHex)).toEqual(want.levels);
      expect(decodeHeader(r.header)).toEqual(r.fields);
      expect(hasProofOfWork(blockHash(r.header), difficulty)).toBe(true);
      expect(r.tries).toBe(want.fields.nonce + 1);
    }
    expect(p.threadCount).toBe(1);
    expect(p.unavailable).toBe(false);
  });

  test('two worker threads share the search and build the tree once; every answer has the proof-of-work', async () => {
    const builds: number[] = [];
    const p = pool({
      threads: 2,
      chunk: 256,
      startWorker: () => {
        const w = startModuleWorker('pow-worker', { role: POW_WORKER_ROLE });
        const post = w.postMessage.bind(w);
        w.postMessage = (task: { id: number; build?: unknown }) => {
          if (task.build) builds.push(task.id);
          post(task);
        };
        return w;
      },
    });
    for (let height = 1; height <= 6; height++) {
      const b = block({ height, difficulty: 13 });
      const leaves = leavesOf(100 + height, height);
      const want = expected(b, leaves);
      const r = await p.mine(b, leaves);
      expect(r.on).toBe('worker');
      expect(hasProofOfWork(blockHash(r.header), 13)).toBe(true);
      expect(r.fields).toEqual({ ...want.fields, nonce: r.fields.nonce });
      expect(r.levels.map(toHex)).toEqual(want.levels);
    }
    expect(p.threadCount).toBe(2);
    expect(builds).toHaveLength(6);
    expect(new Set(builds).size).toBe(6);
  });

  test('the calling thread (no workers) gives the same block as a worker', async () => {
    const threaded = pool({ threads: 1 });
    const alone = pool({
      startWorker: () => {
        throw new Error('no threads here');
      },
    });
    for (const [difficulty, n] of [[0, 3], [10, 1], [12, 777]] as const) {
      const b = block({ difficulty });
      const leaves = leavesOf(n, 40 + difficulty);
      const [a, c] = [await threaded.mine(b, leaves), await alone.mine(b, leaves)];
      expect([a.on, c.on]).toEqual(['worker', 'main-thread']);
      expect(c.fields).toEqual(a.fields);
      expect(toHex(c.header)).toBe(toHex(a.header));
      expect(c.levels.map(toHex)).toEqual(a.levels.map(toHex));
      expect(c.tries).toBe(a.tries);
    }
  });

  test('difficulty 0: one thread builds the tree and answers nonce 0 at its first hash', async () => {
    const p = pool({ threads: 2 });
    const leaves = leavesOf(9);
    const r = await p.mine(block({ difficulty: 0 }), leaves);
    expect(r).toMatchObject({ on: 'worker', tries: 1, fields: expected(block({ difficulty: 0 }), leaves).fields });
    expect(r.fields.nonce).toBe(0);
  });

  test('leaves that are not whole hashes, or a bad header field, are refused on the calling thread', async () => {
    const p = pool();
    await expect(p.mine(block(), new Uint8Array(31))).rejects.toThrow(RangeError);
    await expect(p.mine(block({ prevHash: 'xy' }), leavesOf(2))).rejects.toThrow(/expected 32 bytes of lowercase hex/);
    expect(p.threadCount).toBe(0);
  });

  test('cancelling rejects at once, the threads stop, and the next job runs', async () => {
    const p = pool({ threads: 2, chunk: 1024 });
    const controller = new AbortController();
    const run = p.mine(block({ difficulty: 200 }), leavesOf(5), controller.signal); // never found
    await expect.poll(() => p.busy, { timeout: 15_000 }).toBe(true);
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(MiningCancelled);
    // A thread still searching would never take the next job.
    const next = await p.mine(block({ difficulty: 8 }), leavesOf(5));
    expect(hasProofOfWork(blockHash(next.header), 8)).toBe(true);
    await expect.poll(() => p.busy, { timeout: 15_000 }).toBe(false); // the other thread stops after the first answer
    await expect(p.mine(block(), leavesOf(5), controller.signal)).rejects.toBeInstanceOf(MiningCancelled);
  });

  test('a job waiting behind another is cancelled without running', async () => {
    const p = pool();
    const first = new AbortController();
    const second = new AbortController();
    const running = p.mine(block({ difficulty: 200 }), leavesOf(2), first.signal);
    const waiting = p.mine(block({ difficulty: 1 }), leavesOf(2), second.signal);
    second.abort();
    await expect(waiting).rejects.toBeInstanceOf(MiningCancelled);
    await expect.poll(() => p.busy, { timeout: 15_000 }).toBe(true);
    first.abort();
    await expect(running).rejects.toBeInstanceOf(MiningCancelled);
    expect((await p.mine(block({ difficulty: 4 }), leavesOf(2))).on).toBe('worker');
  });

  test('close() cancels the running job and terminates the threads; the pool starts new ones when used again', async () => {
    const p = pool({ threads: 2 });
    const run = p.mine(block({ difficulty: 200 }), leavesOf(2));
    await expect.poll(() => p.busy, { timeout: 15_000 }).toBe(true);
    const cancelled = expect(run).rejects.toBeInstanceOf(MiningCancelled);
    await p.close();
    await cancelled;
    expect(p.threadCount).toBe(0);
    expect((await p.mine(block({ difficulty: 6 }), leavesOf(2))).on).toBe('worker');
    expect(p.threadCount).toBe(2);
  });

  test('workers that cannot be created: building and mining on this thread, said once', async () => {
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
      const r = await p.mine(block({ difficulty }), leavesOf(4));
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
    const r = await p.mine(block({ difficulty: 10 }), leavesOf(4));
    expect(r.on).toBe('main-thread');
    expect(hasProofOfWork(blockHash(r.header), 10)).toBe(true);
    expect(p.unavailable).toBe(true);
    expect((await p.mine(block({ difficulty: 4 }), leavesOf(4))).on).toBe('main-thread');
    expect(logs).toEqual(['proof-of-work workers could not start; mining on the main thread']);
  });

  /** A stand-in worker: writes the tree it is given, answers `answer(job)` or (undefined) exits with code 3. */
  const fakeWorker = (levels: Uint8Array, answer: string) => {
    const script = `const { parentPort, workerData } = require('node:worker_threads');
      let jobs = 0;
      parentPort.on('message', (t) => {
        const nonce = (${answer})(jobs++);
        if (nonce === undefined) process.exit(3);
        if (t.build) new Uint8Array(t.build.levels).set(workerData.levels);
        parentPort.postMessage({ id: t.id, nonce, tries: 1 });
      });`;
    return () => new Worker(script, { eval: true, workerData: { levels } });
  };
  const packed = (leaves: Uint8Array) => {
    const out = new Uint8Array(treeBytes(leaves.length / 32));
    writeTree(leaves, out);
    return out;
  };

  test('a worker that dies mid-job: that block is built and mined here, the next gets a new worker', async () => {
    const b = block({ difficulty: 10 });
    const leaves = leavesOf(6);
    const { nonce } = expected(b, leaves).fields;
    let starts = 0;
    const logs: string[] = [];
    const start = fakeWorker(packed(leaves), `(job) => job === 0 ? ${nonce} : undefined`);
    const p = pool({ log: (msg) => logs.push(msg), startWorker: () => (starts++, start()) });
    expect(await p.mine(b, leaves)).toMatchObject({ on: 'worker', fields: { nonce } });
    const second = await p.mine(block({ difficulty: 9, height: 8 }), leavesOf(3));
    expect(second.on).toBe('main-thread');
    expect(second.fields).toEqual(expected(block({ difficulty: 9, height: 8 }), leavesOf(3)).fields);
    expect(logs).toEqual(['proof-of-work worker failed; mining this block on the main thread']);
    expect(p.unavailable).toBe(false);
    expect(await p.mine(b, leaves)).toMatchObject({ on: 'worker', fields: { nonce } });
    expect(starts).toBe(2);
  });

  test('a nonce short of the difficulty is never returned', async () => {
    const b = block({ difficulty: 12 });
    const leaves = leavesOf(7);
    const want = expected(b, leaves);
    let bad = 0;
    while (hasProofOfWork(blockHash(encodeHeader({ ...want.fields, nonce: bad })), 12)) bad++;
    const logs: string[] = [];
    const p = pool({ log: (msg) => logs.push(msg), startWorker: fakeWorker(packed(leaves), `() => ${bad}`) });
    const r = await p.mine(b, leaves);
    expect(r.on).toBe('main-thread');
    expect(r.fields).toEqual(want.fields);
    expect(r.levels.map(toHex)).toEqual(want.levels);
    expect(logs).toHaveLength(1);
  });

  // Skipped where threads have no ids of their own to renice, or where the suite itself runs at POW_NICE or lower.
  test.skipIf(!existsSync('/proc/thread-self') || getPriority() >= POW_NICE)('the threads, and only they, run at nice POW_NICE while they live', async () => {
    const nice = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ').at(-1)!.split(' ')[16]);
    const niceOf = () => readdirSync('/proc/self/task').map((tid) => ({ tid, nice: nice(tid) }));
    const mainNice = nice(String(process.pid));
    expect(niceOf().filter((t) => t.nice === POW_NICE)).toEqual([]);
    const p = pool({ threads: 2 });
    await p.mine(block({ difficulty: 4 }), leavesOf(2));
    // A thread lowers its priority as it starts, which may be after a sibling found the nonce.
    await expect.poll(() => niceOf().filter((t) => t.nice === POW_NICE), { timeout: 15_000 }).toHaveLength(2);
    expect(niceOf().filter((t) => t.nice !== POW_NICE).every((t) => t.nice === mainNice)).toBe(true);
    await p.close();
    await expect.poll(() => niceOf().filter((t) => t.nice === POW_NICE), { timeout: 15_000 }).toEqual([]);
  });

  test('idle threads keep no process alive: a script that mines and never closes the pool exits', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const script = `import { PowPool } from './src/node/pow-pool.ts';
      const p = new PowPool({ threads: 2 });
      const r = await p.mine({ version: 1, height: 1, timestamp: 0, prevHash: '00'.repeat(32), historyRoot: '00'.repeat(32), difficulty: 12 }, new Uint8Array(64));
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

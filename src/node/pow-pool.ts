// Proof-of-work off the request thread. Mining on the event loop (core's mine(), in chunks) made
// requests wait behind 13–18 ms chunks and took 5–11% of the service's busy time (docs/performance.md);
// here the block's Merkle tree and the nonce search run on worker threads (src/node/pow-worker.ts)
// and the caller awaits the mined block: building the tree of ~1,500 links on the request thread had
// stalled it 10–13 ms per block. One job runs at a time; cancelling (AbortSignal) answers at once and
// raises a flag the workers read between chunks. Workers are unref'd while idle, so they never keep
// a process alive, and close() terminates them. When a worker cannot be created (or dies before its
// first answer) the pool says so once through `log` and builds and mines on the calling thread from
// then on, as before.
import type { Worker } from 'node:worker_threads';
import { toHex } from '../core/bytes.js';
import { type HeaderFields, HEADER_BYTES, ZERO_HASH, blockHash, encodeHeader, hasProofOfWork } from '../core/header.js';
import { MiningCancelled, mine } from '../core/pow.js';
import { EMPTY_ROOT } from '../core/rfc6962.js';
import {
  type BlockFields,
  CONTROL_BYTES,
  POW_WORKER_ROLE,
  type PowReply,
  type PowTask,
  READY,
  STOP,
  control,
  treeBytes,
  treeLevels,
  writeTree,
} from './pow-worker.js';
import { startModuleWorker } from './start-worker.js';

export type { BlockFields } from './pow-worker.js';

export type PowLog = (msg: string, extra?: Record<string, unknown>) => void;

export interface PowPoolOptions {
  /** Worker threads splitting the nonce space (default 1). */
  threads?: number;
  /** Nonces per chunk: how often a worker looks at the stop flag (default 8,192, ≈ 5 ms). */
  chunk?: number;
  log?: PowLog;
  /** Starts one worker (tests inject failures). */
  startWorker?: () => Worker;
}

/** A mined block: its header with the nonce found, and its links' tree. */
export interface PowResult {
  /** The block's fields, the tree's root and leaf count, and the nonce found. */
  fields: HeaderFields;
  /** The encoded header, nonce included. */
  header: Uint8Array;
  /** The tree's levels, leaves first, each one's 32-byte hashes concatenated (LinkTree.levels(), packed). */
  levels: Uint8Array[];
  /** Where the nonce was found: on a worker thread, or on the calling thread (fallback). */
  on: 'worker' | 'main-thread';
  /**
   * Hashes tried for this header. Exact on one thread. With n threads the others are still
   * finishing their chunk when the nonce is answered, so each one that has not replied yet counts
   * as many as the finder (they search chunk by chunk side by side).
   */
  tries: number;
  /** Milliseconds building the tree (part of the wait for this result, before the search). */
  treeMs: number;
}

/** One block's search as the workers share it: the tree's input, and the shared memory they write. */
interface Search {
  fields: BlockFields;
  leaves: Uint8Array;
  /** treeBytes(n): the levels, written by the builder. */
  levels: SharedArrayBuffer;
  /** HEADER_BYTES: the header with the tree's root, written by the builder. */
  header: SharedArrayBuffer;
  /** CONTROL_BYTES: the stop and ready flags, the tree's time (src/node/pow-worker.ts control()). */
  control: SharedArrayBuffer;
}

type Outcome = { found: number; tries: number } | { cancelled: true } | { failed: Error };

interface Job {
  id: number;
  /** Ends the job's answer (the first call wins). */
  answer(o: Outcome): void;
  /** A worker replied (found or stopped). */
  reply(r: PowReply): void;
  /** Cancelled, and no worker will reply (they are being terminated). */
  abandon(): void;
}

const startPowWorker = () => startModuleWorker('pow-worker', { role: POW_WORKER_ROLE });

export class PowPool {
  readonly #threads: number;
  readonly #chunk: number;
  readonly #start: () => Worker;
  log: PowLog | undefined;
  #workers: Worker[] | undefined;
  /** Whether the current workers have answered once: a failure before that means they cannot start. */
  #proven = false;
  #unavailable = false;
  #job: Job | undefined;
  #tail: Promise<void> = Promise.resolve();
  #ids = 0;

  constructor(o: PowPoolOptions = {}) {
    this.#threads = Math.max(1, Math.floor(o.threads ?? 1));
    this.#chunk = o.chunk ?? 8_192;
    this.#start = o.startWorker ?? startPowWorker;
    this.log = o.log;
  }

  /** True once worker creation failed: every job then runs on the calling thread. */
  get unavailable(): boolean {
    return this.#unavailable;
  }

  /** Live worker threads (0 before the first job, after close(), or when unavailable). */
  get threadCount(): number {
    return this.#workers?.length ?? 0;
  }

  /** Whether a search is running on the workers. */
  get busy(): boolean {
    return this.#job !== undefined;
  }

  /** Starts the workers now rather than at the first job (their start-up then overlaps other work). */
  warm(): void {
    if (!this.#unavailable) this.#spawn();
  }

  /**
   * Builds the tree of `leaves` (the block's link hashes, 32 bytes each, concatenated in leaf order)
   * and mines the block whose other header fields are `block`, at its difficulty. Rejects with
   * MiningCancelled when `signal` aborts.
   */
  async mine(block: BlockFields, leaves: Uint8Array, signal?: AbortSignal): Promise<PowResult> {
    if (signal?.aborted) throw new MiningCancelled();
    if (leaves.length % 32 !== 0) throw new RangeError(`${leaves.length} bytes are not whole 32-byte link hashes`);
    const n = leaves.length / 32;
    encodeHeader({ ...block, linksRoot: ZERO_HASH, leafCount: n, nonce: 0 }); // a bad field throws here, not in a worker
    // One job at a time: wait for the previous one (its workers must all have stopped).
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((r) => (release = r));
    try {
      await untilAborted(previous, signal);
    } catch (e) {
      void previous.then(release);
      throw e;
    }
    let idle: Promise<void> | undefined; // set when the workers may still be stopping
    let tried = 0; // by workers whose answer was not used
    try {
      const workers = this.#unavailable ? undefined : this.#spawn();
      if (workers) {
        // The leaves go to the builder in shared memory: the calling thread keeps them for the
        // fallback, and a Buffer cut from Node's pool would carry the whole pool slab in a copy.
        const shared = new Uint8Array(new SharedArrayBuffer(leaves.length));
        shared.set(leaves);
        const search: Search = {
          fields: block,
          leaves: shared,
          levels: new SharedArrayBuffer(treeBytes(n)),
          header: new SharedArrayBuffer(HEADER_BYTES),
          control: new SharedArrayBuffer(CONTROL_BYTES),
        };
        // At difficulty 0 the first nonce will do: one thread, as the calling thread would answer.
        const { outcome, stopped } = this.#dispatch(block.difficulty === 0 ? workers.slice(0, 1) : workers, search, signal);
        const o = await outcome;
        idle = stopped;
        if ('cancelled' in o) throw new MiningCancelled();
        if ('found' in o) {
          // The header is encoded again here from the tree's levels, and one hash checks the
          // thread's answer before a notary signs it.
          const levels = treeLevels(Buffer.from(search.levels), n);
          const fields = { ...block, linksRoot: toHex(levels.at(-1) ?? EMPTY_ROOT), leafCount: n, nonce: o.found };
          const header = encodeHeader(fields);
          if (hasProofOfWork(blockHash(header), block.difficulty)) {
            return { fields, header, levels, on: 'worker', tries: o.tries, treeMs: control(search.control).treeMs[0]! };
          }
          tried = o.tries;
          this.log?.('a proof-of-work worker answered a nonce short of the difficulty; mining this block on the main thread', { nonce: o.found });
        }
      }
      // Fallback: the tree and core's chunked loop on this thread, as the sealer did before workers.
      const began = performance.now();
      const tree = Buffer.alloc(treeBytes(n));
      const linksRoot = toHex(writeTree(leaves, tree));
      const treeMs = performance.now() - began;
      const fields = { ...block, linksRoot, leafCount: n, nonce: 0 };
      const mined = await mine(fields, { now: () => Date.now(), pause: () => new Promise((r) => setImmediate(r)), chunk: 16_384, ...(signal ? { signal } : {}) });
      return { fields: { ...fields, nonce: mined.nonce }, header: mined.header, levels: treeLevels(tree, n), on: 'main-thread', tries: tried + mined.tries, treeMs };
    } finally {
      if (idle) void idle.then(release);
      else release();
    }
  }

  /** Terminates the workers (a running job is cancelled). The pool starts new ones if used again. */
  async close(): Promise<void> {
    this.#job?.abandon();
    const workers = this.#workers ?? [];
    this.#workers = undefined;
    await Promise.all(workers.map((w) => w.terminate().catch(() => 0)));
  }

  /** The live workers, started if needed; undefined (and the pool unavailable) when they cannot be created. */
  #spawn(): Worker[] | undefined {
    if (this.#workers) return this.#workers;
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < this.#threads; i++) workers.push(this.#start());
    } catch (e) {
      for (const w of workers) void w.on('error', () => {}).terminate().catch(() => 0);
      this.#giveUp(e as Error);
      return undefined;
    }
    this.#workers = workers;
    this.#proven = false;
    for (const w of workers) {
      w.unref();
      w.on('message', (r: PowReply) => {
        this.#proven = true;
        if (r.id === this.#job?.id) this.#job.reply(r);
      });
      w.on('error', (e) => this.#lost(w, e));
      w.on('exit', (code) => this.#lost(w, new Error(`proof-of-work worker exited with code ${code}`)));
    }
    return workers;
  }

  /** A worker failed or exited on its own: drop the whole set, cancel the job (it falls back to this thread). */
  #lost(worker: Worker, error: Error): void {
    if (!this.#workers?.includes(worker)) return; // terminated by us
    const workers = this.#workers;
    this.#workers = undefined;
    for (const w of workers) void w.terminate().catch(() => 0);
    if (!this.#proven) this.#giveUp(error);
    else this.log?.('proof-of-work worker failed; mining this block on the main thread', { error: error.message });
    this.#job?.answer({ failed: error });
    this.#job?.abandon();
  }

  #giveUp(error: Error): void {
    if (this.#unavailable) return;
    this.#unavailable = true;
    this.log?.('proof-of-work workers could not start; mining on the main thread', { error: error.message });
  }

  /** Sends the search to every worker, the tree to build to the first. `outcome`: the first answer; `stopped`: every worker is idle again. */
  #dispatch(workers: Worker[], search: Search, signal: AbortSignal | undefined): { outcome: Promise<Outcome>; stopped: Promise<void> } {
    const id = ++this.#ids;
    const { flags } = control(search.control);
    let waiting = workers.length;
    let tries = 0; // reported by the workers that replied
    let answer!: (o: Outcome) => void;
    let stopped!: () => void;
    const outcome = new Promise<Outcome>((r) => (answer = r));
    const idle = new Promise<void>((r) => (stopped = r));
    let answered = false;
    let ended = false;
    const onAbort = () => job.answer({ cancelled: true });
    const end = () => {
      if (ended) return;
      ended = true;
      signal?.removeEventListener('abort', onAbort);
      if (this.#job === job) this.#job = undefined;
      for (const w of workers) w.unref();
      stopped();
    };
    const job: Job = {
      id,
      answer: (o) => {
        if (answered) return;
        answered = true;
        Atomics.store(flags, STOP, 1);
        Atomics.notify(flags, READY); // the threads still waiting for the tree
        answer(o);
      },
      reply: (r) => {
        waiting--;
        tries += r.tries;
        if (r.nonce !== null) job.answer({ found: r.nonce, tries: tries + waiting * r.tries });
        if (waiting > 0) return;
        job.answer({ failed: new Error('every proof-of-work worker stopped without a nonce') }); // unreachable: someone found it or it was cancelled
        end();
      },
      abandon: () => {
        job.answer({ cancelled: true });
        end();
      },
    };
    this.#job = job;
    signal?.addEventListener('abort', onAbort, { once: true });
    const { header, control: shared } = search;
    for (const [offset, w] of workers.entries()) {
      w.ref();
      const build = offset === 0 ? { build: { fields: search.fields, leaves: search.leaves, levels: search.levels } } : {};
      w.postMessage({ id, header, ...build, offset, stride: workers.length, chunk: this.#chunk, control: shared } satisfies PowTask);
    }
    return { outcome, stopped: idle };
  }
}

/** Resolves with `p`, or rejects with MiningCancelled as soon as `signal` aborts. */
function untilAborted(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(new MiningCancelled());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

// ------------------------------------------------------------------------------------------------
// One pool per process and thread count, shared by the sealers in it (a process normally runs one;
// benchmarks and tests build many). A lease keeps it; when the last lease is released the workers
// are terminated. Idle workers are unref'd, so a lease never released keeps no process alive.

export interface PowLease {
  mine(block: BlockFields, leaves: Uint8Array, signal?: AbortSignal): Promise<PowResult>;
  /** Starts the workers ahead of the first job. */
  warm(): void;
  release(): Promise<void>;
}

const shared = new Map<number, { pool: PowPool; leases: number }>();

/** The shared pools' live threads and running searches (for tests and diagnostics). */
export function sharedPowState(): { threads: number; busy: number } {
  let threads = 0;
  let busy = 0;
  for (const { pool } of shared.values()) {
    threads += pool.threadCount;
    if (pool.busy) busy++;
  }
  return { threads, busy };
}

export function leasePowPool(o: { threads?: number; log?: PowLog } = {}): PowLease {
  const threads = Math.max(1, Math.floor(o.threads ?? 1));
  let entry = shared.get(threads);
  if (!entry) shared.set(threads, (entry = { pool: new PowPool({ threads }), leases: 0 }));
  entry.leases++;
  if (o.log) entry.pool.log = o.log;
  const { pool } = entry;
  let released = false;
  return {
    mine: (block, leaves, signal) => pool.mine(block, leaves, signal),
    warm: () => pool.warm(),
    async release() {
      if (released) return;
      released = true;
      const e = shared.get(threads);
      if (e?.pool !== pool || --e.leases > 0) return;
      shared.delete(threads);
      await pool.close();
    },
  };
}

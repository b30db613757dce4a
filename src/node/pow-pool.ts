// Proof-of-work off the request thread. Mining on the event loop (core's mine(), in chunks) made
// requests wait behind 13–18 ms chunks and took 5–11% of the service's busy time (docs/performance.md);
// here the nonce search runs on worker threads (src/node/pow-worker.ts) and the caller awaits the
// nonce. One job runs at a time; cancelling (AbortSignal) answers at once and raises a flag the
// workers read between chunks. Workers are unref'd while idle, so they never keep a process alive,
// and close() terminates them. When a worker cannot be created (or dies before its first answer)
// the pool says so once through `log` and mines on the calling thread from then on, as before.
import type { Worker } from 'node:worker_threads';
import { type HeaderFields, blockHash, encodeHeader, hasProofOfWork } from '../core/header.js';
import { MiningCancelled, mine } from '../core/pow.js';
import { POW_WORKER_ROLE, type PowReply, type PowTask } from './pow-worker.js';
import { startModuleWorker } from './start-worker.js';

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

/** A mined header: the encoded bytes with the nonce found. */
export interface PowResult {
  header: Uint8Array;
  nonce: number;
  /** Where the nonce was found: on a worker thread, or on the calling thread (fallback). */
  on: 'worker' | 'main-thread';
  /**
   * Hashes tried for this header (0 at difficulty 0). Exact on one thread. With n threads the
   * others are still finishing their chunk when the nonce is answered, so each one that has not
   * replied yet counts as many as the finder (they search chunk by chunk side by side).
   */
  tries: number;
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

  /** Mines `fields` (its nonce is ignored) at its recorded difficulty. Rejects with MiningCancelled when `signal` aborts. */
  async mine(fields: HeaderFields, signal?: AbortSignal): Promise<PowResult> {
    if (signal?.aborted) throw new MiningCancelled();
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
    const header = encodeHeader({ ...fields, nonce: 0 });
    if (fields.difficulty === 0) {
      release(); // any nonce will do: no thread needed
      return { header, nonce: 0, on: 'main-thread', tries: 0 };
    }
    let idle: Promise<void> | undefined; // set when the workers may still be stopping
    let tried = 0; // by workers whose answer was not used
    try {
      const workers = this.#unavailable ? undefined : this.#spawn();
      if (workers) {
        const { outcome, stopped } = this.#dispatch(workers, header, signal);
        const o = await outcome;
        idle = stopped;
        if ('cancelled' in o) throw new MiningCancelled();
        if ('found' in o) {
          // One hash to check a thread's answer before a notary signs it.
          const mined = encodeHeader({ ...fields, nonce: o.found });
          if (hasProofOfWork(blockHash(mined), fields.difficulty)) return { header: mined, nonce: o.found, on: 'worker', tries: o.tries };
          tried = o.tries;
          this.log?.('a proof-of-work worker answered a nonce short of the difficulty; mining this block on the main thread', { nonce: o.found });
        }
      }
      // Fallback: core's chunked loop on this thread, as the sealer did before workers.
      const mined = await mine(fields, { now: () => Date.now(), pause: () => new Promise((r) => setImmediate(r)), chunk: 16_384, ...(signal ? { signal } : {}) });
      return { header: mined.header, nonce: mined.nonce, on: 'main-thread', tries: tried + mined.tries };
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

  /** Sends the search to every worker. `outcome`: the first answer; `stopped`: every worker is idle again. */
  #dispatch(workers: Worker[], header: Uint8Array, signal: AbortSignal | undefined): { outcome: Promise<Outcome>; stopped: Promise<void> } {
    const id = ++this.#ids;
    const stop = new SharedArrayBuffer(4);
    const flag = new Int32Array(stop);
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
        Atomics.store(flag, 0, 1);
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
    for (const [offset, w] of workers.entries()) {
      w.ref();
      w.postMessage({ id, header, offset, stride: workers.length, chunk: this.#chunk, stop } satisfies PowTask);
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
  mine(fields: HeaderFields, signal?: AbortSignal): Promise<PowResult>;
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
    mine: (fields, signal) => pool.mine(fields, signal),
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

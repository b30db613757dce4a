// Link signatures of big batches checked on worker threads (issue 8: a 1,000-link batch spends a
// fifth of its time in Ed25519 verification, and the service's thread has the rest to do). The
// workers are started once, on first use, and unref'd: idle, they keep no process alive. They run
// src/node/verify-worker.ts, the same code `pop verify` uses for bundles: jobs are taken in chunks
// from a queue shared through an Atomics counter, one verdict byte per job in shared memory.
//
// Small sets are checked inline (a round trip to a worker costs about what one verification does);
// so is everything when a worker cannot be started or dies, with the error reported once.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { Alg } from '../core/signature.js';
import { linkMessage } from '../core/signature.js';
import type { LinkSignatureJob, PooledVerifier } from '../ledger/ports.js';
import { startModuleWorker } from './start-worker.js';
import { nodeVerifier } from './verifier.js';
import { WORKER_ROLE, type WorkerMessage, type WorkerTask } from './verify-worker.js';


const CHUNK = 64;

interface Slot {
  worker: Worker;
  /** Tasks posted to this worker, answered in order (a worker drains one task at a time). */
  pending: (() => void)[];
}

export interface SignaturePoolOptions {
  /** Worker threads (default: the machine's parallelism, at least 1). */
  threads?: number;
  /** Sets smaller than this are checked inline (default 32). */
  inlineBelow?: number;
  /** Told once when workers cannot be used; everything is then checked inline. */
  onFallback?: (error: Error) => void;
}

export class SignaturePool implements PooledVerifier {
  readonly name = 'node:crypto (worker threads for batches)';
  readonly #threads: number;
  readonly #inlineBelow: number;
  readonly #onFallback: ((error: Error) => void) | undefined;
  #slots: Slot[] | undefined;
  #broken = false;
  #checkedOnWorkers = 0;
  #closing = false;

  constructor(opts: SignaturePoolOptions = {}) {
    this.#threads = Math.max(1, opts.threads ?? availableParallelism());
    this.#inlineBelow = opts.inlineBelow ?? 32;
    this.#onFallback = opts.onFallback;
  }

  verify(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return nodeVerifier.verify(alg, publicKey, message, signature);
  }

  async verifyLinkSignatures(jobs: readonly LinkSignatureJob[]): Promise<boolean[]> {
    if (jobs.length < this.#inlineBelow || this.#broken) return jobs.map(inline);
    const slots = this.#start();
    if (!slots) return jobs.map(inline);
    const task: WorkerTask = {
      jobs: jobs.map(({ alg, publicKey, linkHash, sig }) => ({ alg, publicKey, linkHash, sig })),
      next: new SharedArrayBuffer(4),
      verdicts: new SharedArrayBuffer(jobs.length),
      chunk: CHUNK,
    };
    const used = slots.slice(0, Math.min(slots.length, Math.ceil(jobs.length / CHUNK)));
    await Promise.all(
      used.map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.pending.push(resolve);
            slot.worker.postMessage(task);
          }),
      ),
    );
    const bytes = new Uint8Array(task.verdicts);
    // A job a dead worker took but did not finish is checked here.
    return jobs.map((j, i) => (bytes[i] === 0 ? inline(j) : bytes[i] === 1));
  }

  /** Signatures the worker threads have checked so far (for tests and metrics). */
  get checkedOnWorkers(): number {
    return this.#checkedOnWorkers;
  }

  /** Stops the workers (they are unref'd, so this is only needed to free them early). */
  async close(): Promise<void> {
    this.#closing = true;
    const slots = this.#slots ?? [];
    this.#slots = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
    for (const s of slots) for (const done of s.pending.splice(0)) done();
  }

  #start(): Slot[] | undefined {
    if (this.#slots) return this.#slots.length ? this.#slots : undefined;
    const slots: Slot[] = [];
    try {
      for (let i = 0; i < this.#threads; i++) {
        const slot: Slot = { worker: startModuleWorker('verify-worker', { role: WORKER_ROLE }), pending: [] };
        slot.worker.unref();
        slot.worker.on('message', (m: WorkerMessage) => {
          if ('done' in m) slot.pending.shift()?.();
          else this.#checkedOnWorkers += m.checked;
        });
        const fail = (e: Error) => {
          // Whatever it had taken is checked inline by the callers it leaves waiting.
          for (const done of slot.pending.splice(0)) done();
          this.#slots = this.#slots?.filter((s) => s !== slot);
          if (!this.#broken && !this.#closing) {
            this.#broken = true;
            this.#onFallback?.(e);
          }
        };
        slot.worker.on('error', fail);
        slot.worker.on('exit', (code) => fail(new Error(`signature worker exited with code ${code}`)));
        slots.push(slot);
      }
    } catch (e) {
      for (const s of slots) void s.worker.terminate();
      this.#broken = true;
      this.#slots = [];
      this.#onFallback?.(e as Error);
      return undefined;
    }
    this.#slots = slots;
    return slots;
  }
}

function inline(j: LinkSignatureJob): boolean {
  return nodeVerifier.verify(j.alg, Buffer.from(j.publicKey, 'hex'), linkMessage(j.linkHash), Buffer.from(j.sig, 'hex'));
}

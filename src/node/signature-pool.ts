// Link signatures checked on worker threads (issue 8): Ed25519 verification was the biggest single
// cost of an append on the request thread, and batches of 1,000 links spend a fifth of their time in
// it. The workers are started once — by warm(), which the service awaits before it listens, else on
// first use — and unref'd: idle, they keep no process alive. They run src/node/verify-worker.ts, the
// same code `pop verify` uses for bundles: jobs are taken in chunks from a queue shared through an
// Atomics counter, one verdict byte per job in shared memory.
//
// Big sets are split over every worker. Small sets (a single append's one or two signatures) are
// gathered for the rest of the event loop's turn and go to one worker together, so that under load
// one message carries the signatures of every request read in that turn. A turn that gathered fewer
// than three operations (signatures to check plus receipts to sign: a lone append's one signature
// and its receipt) while every worker is idle does them inline: posting them and taking the answer
// cost the request thread about what doing them does (≈ 100 µs against ≈ 120 µs with libsodium on
// a slow host), and the hand-off costs the request a thread's wake-up and the machine ≈ 0.1 ms per
// append in all (docs/performance.md, item 24). Under load turns gather several requests and go to
// the workers. A single-core machine, where the worker would take the same core, checks every small
// set inline. Everything is checked inline when a worker cannot be started or dies, with the error
// reported once.
//
// Given the notary's seed, the workers also sign receipts: the messages asked for in a turn travel
// in the same task as its signatures to check (a signature is ≈ 17 µs the request thread keeps).
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { Alg } from '../core/signature.js';
import { linkMessage } from '../core/signature.js';
import type { LinkSignatureJob, Notary, PooledVerifier } from '../ledger/ports.js';
import { ed25519Notary } from './notary.js';
import { startModuleWorker } from './start-worker.js';
import { nodeVerifier } from './verifier.js';
import { WORKER_ROLE, type WorkerData, type WorkerDone, type WorkerMessage, type WorkerTask } from './verify-worker.js';

const CHUNK = 64;
/** A turn of fewer operations than this (a lone append: one signature, one receipt), the workers idle, stays inline (on more than one core). */
const INLINE_BELOW = 3;

interface Slot {
  worker: Worker;
  /** Tasks posted to this worker, answered in order (a worker drains one task at a time); each gets its done message, or undefined if the worker died. */
  pending: ((done?: WorkerDone) => void)[];
}

/** A small set waiting for the end of the turn (signatures to check, messages to sign), and whoever waits for it. */
interface Gathered {
  jobs: readonly LinkSignatureJob[];
  notarize: readonly Uint8Array[];
  resolve: (verdicts: boolean[], notarySigs: string[]) => void;
}

export interface SignaturePoolOptions {
  /** Worker threads (default: the machine's parallelism, at least 1). */
  threads?: number;
  /**
   * A turn's gathered jobs (signatures to check plus messages to sign) fewer than this are done
   * inline while no worker is busy (default 3 on a machine with more than one core: one request's
   * signature and receipt; 64 on one core; 1 sends everything to the workers).
   */
  inlineBelow?: number;
  /** Sets of at least this many signatures are split over every worker (default 64). */
  splitFrom?: number;
  /** Told once when workers cannot be used; everything is then checked inline. */
  onFallback?: (error: Error) => void;
  /** The notary's 32-byte Ed25519 seed: the workers then sign for the notary (signAsNotary). */
  notarySeed?: Uint8Array;
}

export class SignaturePool implements PooledVerifier {
  readonly name = 'node:crypto (worker threads)';
  readonly #threads: number;
  readonly #inlineBelow: number;
  readonly #splitFrom: number;
  /** Small sets gathered in this turn of the event loop (flushed by a setImmediate). */
  #gathered: Gathered[] = [];
  #busy = 0;
  readonly #onFallback: ((error: Error) => void) | undefined;
  #slots: Slot[] | undefined;
  #broken = false;
  #checkedOnWorkers = 0;
  #tasks = 0;
  #signedOnWorkers = 0;
  #closing = false;
  /** The notary's key on this thread too: it signs what the workers cannot. */
  readonly #notary: Notary | undefined;
  readonly #notarySeed: Uint8Array | undefined;

  constructor(opts: SignaturePoolOptions = {}) {
    this.#threads = Math.max(1, opts.threads ?? availableParallelism());
    this.#inlineBelow = opts.inlineBelow ?? (availableParallelism() > 1 ? INLINE_BELOW : CHUNK);
    this.#splitFrom = opts.splitFrom ?? CHUNK;
    this.#onFallback = opts.onFallback;
    this.#notarySeed = opts.notarySeed && Uint8Array.from(opts.notarySeed);
    this.#notary = opts.notarySeed && ed25519Notary(Buffer.from(opts.notarySeed));
  }

  get notaryPublicKey(): string | undefined {
    return this.#notary?.publicKey;
  }

  verify(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return nodeVerifier.verify(alg, publicKey, message, signature);
  }

  verifyLinkSignatures(jobs: readonly LinkSignatureJob[]): Promise<boolean[]> {
    if (jobs.length === 0) return Promise.resolve([]);
    if (this.#broken) return Promise.resolve(jobs.map(inline));
    if (jobs.length >= this.#splitFrom) {
      const slots = this.#start();
      return slots ? this.#onWorkers(jobs, [], slots, true).then((r) => r.verdicts, () => jobs.map(inline)) : Promise.resolve(jobs.map(inline));
    }
    return new Promise((resolve) => this.#gather({ jobs, notarize: [], resolve: (verdicts) => resolve(verdicts) }));
  }

  signAsNotary(messages: readonly Uint8Array[]): Promise<string[]> {
    const notary = this.#notary;
    if (!notary) return Promise.reject(new Error('this signature pool holds no notary key'));
    if (messages.length === 0) return Promise.resolve([]);
    if (this.#broken) return Promise.resolve(messages.map((m) => notary.sign(m)));
    return new Promise((resolve) => this.#gather({ jobs: [], notarize: messages, resolve: (_, sigs) => resolve(sigs) }));
  }

  #gather(g: Gathered): void {
    if (this.#gathered.length === 0) setImmediate(() => this.#flush());
    this.#gathered.push(g);
  }

  /** The turn is over: its small sets go to the least busy worker as one task, or inline when that gains nothing. */
  #flush(): void {
    const gathered = this.#gathered;
    this.#gathered = [];
    const jobs = gathered.length === 1 ? gathered[0]!.jobs : gathered.flatMap((g) => g.jobs);
    const notarize = gathered.length === 1 ? gathered[0]!.notarize : gathered.flatMap((g) => g.notarize);
    const slots = this.#broken || (jobs.length + notarize.length < this.#inlineBelow && this.#busy === 0) ? undefined : this.#start();
    const answer = (verdicts: boolean[], sigs: (string | undefined)[]) => {
      let at = 0;
      let signed = 0;
      for (const g of gathered) {
        const mine = g.notarize.map((m, k) => sigs[signed + k] ?? this.#notary!.sign(m));
        g.resolve(verdicts.slice(at, at + g.jobs.length), mine);
        at += g.jobs.length;
        signed += g.notarize.length;
      }
    };
    if (!slots) return answer(jobs.map(inline), []);
    this.#onWorkers(jobs, notarize, slots, false).then(
      (r) => answer(r.verdicts, r.notarySigs),
      () => answer(jobs.map(inline), []),
    );
  }

  /** One task: split over every worker, or whole to the one with the fewest tasks waiting. */
  async #onWorkers(jobs: readonly LinkSignatureJob[], notarize: readonly Uint8Array[], slots: Slot[], split: boolean): Promise<{ verdicts: boolean[]; notarySigs: (string | undefined)[] }> {
    const task: WorkerTask = {
      jobs: jobs.map(({ alg, publicKey, linkHash, sig }) => ({ alg, publicKey, linkHash, sig })),
      next: new SharedArrayBuffer(4),
      verdicts: new SharedArrayBuffer(jobs.length),
      chunk: split ? CHUNK : Math.max(1, jobs.length),
      quiet: true,
      ...(notarize.length ? { notarize: [...notarize] } : {}),
    };
    const used = split
      ? slots.slice(0, Math.min(slots.length, Math.ceil(jobs.length / CHUNK)))
      : [slots.reduce((a, b) => (b.pending.length < a.pending.length ? b : a))];
    this.#busy++;
    this.#tasks += used.length;
    let answers: (WorkerDone | undefined)[];
    try {
      answers = await Promise.all(
        used.map(
          (slot) =>
            new Promise<WorkerDone | undefined>((resolve) => {
              slot.worker.postMessage(task); // throws before anything is queued, if it throws
              slot.pending.push(resolve);
            }),
        ),
      );
    } finally {
      this.#busy--;
    }
    const bytes = new Uint8Array(task.verdicts);
    // A job a dead worker took but did not finish is checked here (and what it did not sign, signed).
    const notarySigs = answers[0]?.notarySigs ?? [];
    this.#signedOnWorkers += notarySigs.length;
    return { verdicts: jobs.map((j, i) => (bytes[i] === 0 ? inline(j) : bytes[i] === 1)), notarySigs };
  }

  /**
   * Starts the workers now and waits until each has answered an empty task, i.e. has loaded its
   * module, for `timeoutMs` at most: the service calls it before it listens, so that its first
   * appends wait for no thread to boot (≈ 0.25 s from dist/, 0.7 s from source under tsx, measured
   * in docs/performance.md). True when every worker answered; false when workers cannot be used
   * (everything is then checked inline) or did not answer in time (they still serve when they do).
   */
  async warm(timeoutMs = 10_000): Promise<boolean> {
    const slots = this.#broken ? undefined : this.#start();
    if (!slots) return false;
    const answered = Promise.all(
      slots.map(
        (slot) =>
          new Promise<boolean>((resolve) => {
            const task: WorkerTask = { jobs: [], next: new SharedArrayBuffer(4), verdicts: new SharedArrayBuffer(0), chunk: 1, quiet: true };
            try {
              slot.worker.postMessage(task);
            } catch {
              return resolve(false); // a worker already gone: its 'exit' reports it
            }
            slot.pending.push((done) => resolve(done !== undefined));
          }),
      ),
    ).then((all) => all.every(Boolean));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([answered, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The workers could not be used (they failed, and onFallback said so): every set is done inline. */
  get onMainThread(): boolean {
    return this.#broken;
  }

  /** Signatures the worker threads have checked so far (for tests and metrics). */
  get checkedOnWorkers(): number {
    return this.#checkedOnWorkers;
  }

  /** Messages posted to the worker threads so far, one per worker a set went to (for tests and metrics). */
  get tasksOnWorkers(): number {
    return this.#tasks;
  }

  /** Notary signatures the worker threads have made so far (for tests and metrics). */
  get signedOnWorkers(): number {
    return this.#signedOnWorkers;
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
        const data: WorkerData = { role: WORKER_ROLE, ...(this.#notarySeed ? { notarySeed: this.#notarySeed } : {}) };
        const slot: Slot = { worker: startModuleWorker('verify-worker', data), pending: [] };
        slot.worker.unref();
        slot.worker.on('message', (m: WorkerMessage) => {
          if (m.checked) this.#checkedOnWorkers += m.checked;
          if ('done' in m) slot.pending.shift()?.(m);
        });
        const fail = (e: Error) => {
          // Whatever it had taken is checked inline by the callers it leaves waiting.
          for (const done of slot.pending.splice(0)) done();
          this.#slots = this.#slots?.filter((s) => s !== slot);
          if (!this.#broken && !this.#closing) {
            this.#broken = true;
            this.#onFallback?.(e);
            // Everything is checked inline from now on: the others would only sit there.
            for (const other of this.#slots ?? []) void other.worker.terminate();
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

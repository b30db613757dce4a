// Bundle verification on several cores (pop verify, big bundles). Link signatures dominate the cost
// of verifying a bundle (node:crypto checks ~6,000 Ed25519 signatures a second per core), so they
// are checked on worker threads (src/node/verify-worker.ts) while the main thread runs the rest of
// core's verifyBundle, and the main thread joins in on the signatures left when it is done.
//
// The main thread does not wait for the workers: it runs verifyBundle with every signature the
// workers were given assumed valid (core uses an assumption only for exactly the signature, key and
// link hash it names, and checks anything else itself), recording which it assumed. When all
// verdicts are in, that run stands if every assumed signature really is valid; otherwise the bundle
// is verified again with the real verdicts. verifyBundle is deterministic in the answers it gets,
// so either way the result is exactly that of verifyBundle with nodeVerifier alone.
import { Worker } from 'node:worker_threads';
import { type BundleResult, type BundleVerifyOptions, type KnownSignature, type SignatureJob, bundleSignatureJobs, verifyBundle } from '../core/bundle.js';
import { nodeSha256 } from './hash.js';
import { nodeVerifier } from './verifier.js';
import { WORKER_ROLE, type WorkerMessage, type WorkerTask, drain } from './verify-worker.js';

export interface ParallelOptions extends Omit<BundleVerifyOptions, 'verifier' | 'onProgress' | 'knownSignature' | 'sha256'> {
  /** Worker threads for link signatures (default 2). */
  threads?: number;
  /** Progress: link signatures checked (by the workers and the main thread), and links checked by the main thread. */
  onProgress?: (event: { signatures: number; links: number }) => void;
  /** Told when a worker failed; the main thread checked what it left. */
  onFallback?: (error: Error) => void;
}

/**
 * A worker running verify-worker. From source (under tsx) the worker needs the TypeScript loader as
 * well: on Node 20, `execArgv: ['--import', 'tsx']` does not register it before the worker's module
 * loads, so a one-line bootstrap registers tsx's loader and then imports the worker.
 */
function startWorker(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./verify-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  const workerData = { role: WORKER_ROLE };
  if (!fromSource) return new Worker(entry, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

const CHUNK = 256;

/**
 * Link signatures checked on worker threads from a shared queue. `help()` lets the calling thread
 * take chunks too (synchronously, until none is left); `verdicts()` resolves when every job has one.
 */
export class SignatureQueue {
  readonly #task: WorkerTask;
  readonly #workers: Promise<void>[];
  #checked = 0;
  readonly #onProgress: ((checked: number) => void) | undefined;
  readonly #errors: Error[] = [];

  constructor(jobs: readonly SignatureJob[], threads = 2, onProgress?: (checked: number) => void) {
    this.#onProgress = onProgress;
    this.#task = {
      jobs: jobs.map(({ alg, publicKey, linkHash, sig }) => ({ alg, publicKey, linkHash, sig })),
      next: new SharedArrayBuffer(4),
      verdicts: new SharedArrayBuffer(Math.max(1, jobs.length)),
      chunk: CHUNK,
    };
    const n = jobs.length === 0 ? 0 : Math.max(1, Math.min(threads, Math.ceil(jobs.length / CHUNK)));
    this.#workers = Array.from({ length: n }, () => this.#run());
  }

  #progress(n: number): void {
    this.#checked += n;
    this.#onProgress?.(this.#checked);
  }

  #run(): Promise<void> {
    return new Promise<void>((resolve) => {
      let worker: Worker;
      let settled = false;
      const failed = (e: Error) => {
        if (settled) return;
        settled = true;
        this.#errors.push(e);
        resolve(); // whatever it left unchecked, the calling thread checks
      };
      try {
        worker = startWorker();
      } catch (e) {
        failed(e as Error);
        return;
      }
      worker.on('message', (m: WorkerMessage) => {
        if (!('done' in m)) this.#progress(m.checked);
        else {
          settled = true;
          void worker.terminate();
          resolve();
        }
      });
      worker.on('error', failed);
      worker.on('exit', (code) => failed(new Error(`signature worker exited with code ${code}`)));
      worker.postMessage(this.#task);
    });
  }

  /** Takes chunks on the calling thread until the queue is empty. */
  help(): void {
    drain(this.#task, (n) => this.#progress(n));
  }

  /** Every job's verdict, in job order, once the workers are done (the calling thread checks whatever they left). */
  async verdicts(): Promise<{ verdicts: boolean[]; errors: Error[] }> {
    await Promise.all(this.#workers);
    this.help();
    const bytes = new Uint8Array(this.#task.verdicts);
    const verdicts = this.#task.jobs.map((j, i) => {
      // A job a failed worker took but did not finish.
      if (Atomics.load(bytes, i) === 0) {
        const valid = nodeVerifier.verify(j.alg, Buffer.from(j.publicKey, 'hex'), Buffer.from(`pop:link:v1:${j.linkHash}`), Buffer.from(j.sig, 'hex'));
        Atomics.store(bytes, i, valid ? 1 : 2);
      }
      return Atomics.load(bytes, i) === 1;
    });
    return { verdicts, errors: this.#errors };
  }
}

/** Checks the jobs on `threads` worker threads; resolves with one verdict per job, in job order. */
export async function verifySignaturesInWorkers(jobs: readonly SignatureJob[], threads = 2, onProgress?: (checked: number) => void): Promise<boolean[]> {
  return (await new SignatureQueue(jobs, threads, onProgress).verdicts()).verdicts;
}

/** verifyBundle with nodeVerifier, its link signatures checked on worker threads (see the top of this file). */
export async function verifyBundleParallel(value: unknown, opts: ParallelOptions = {}): Promise<BundleResult> {
  const jobs = bundleSignatureJobs(value);
  const progress = { signatures: 0, links: 0 };
  const report = () => opts.onProgress?.({ ...progress });
  const queue = new SignatureQueue(jobs, opts.threads ?? 2, (n) => {
    progress.signatures = n;
    report();
  });

  // By position: links[link].signatures[signature] → index in jobs.
  const at: number[][] = [];
  jobs.forEach((j, i) => ((at[j.link] ??= [])[j.signature] = i));
  const assumed: number[] = [];
  const base = { verifier: nodeVerifier, sha256: nodeSha256, ...(opts.notaryKeys ? { notaryKeys: opts.notaryKeys } : {}) };
  const first = verifyBundle(value, {
    ...base,
    knownSignature: (link, signature) => {
      const i = at[link]?.[signature];
      if (i === undefined) return undefined;
      assumed.push(i);
      return { ...jobs[i]!, valid: true };
    },
    onProgress: (done) => {
      progress.links = done;
      report();
    },
  });
  queue.help();
  const { verdicts, errors } = await queue.verdicts();
  if (errors.length) opts.onFallback?.(errors[0]!);
  if (assumed.every((i) => verdicts[i])) return first;
  return verifyBundle(value, {
    ...base,
    knownSignature: (link, signature): KnownSignature | undefined => {
      const i = at[link]?.[signature];
      return i === undefined ? undefined : { ...jobs[i]!, valid: verdicts[i]! };
    },
  });
}

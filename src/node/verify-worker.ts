// A signature worker thread: of verifyBundleParallel (src/node/verify-bundle.ts, `pop verify`,
// started per verification) and of the service's SignaturePool (src/node/signature-pool.ts,
// long-lived). It takes chunks of link signatures from a queue shared with the other workers and
// the main thread (an Atomics counter), checks them (libsodium, else node:crypto) and writes one
// verdict byte per job into shared memory. A pool's worker may also hold the notary's seed and sign
// the messages a task carries. It imports as little as it can, so that it starts fast.
import { parentPort, workerData } from 'node:worker_threads';
import { linkMessage } from '../core/signature.js';
import { ed25519Notary } from './notary.js';
import { nodeVerifier } from './verifier.js';

/** One link signature with the key the bundle gives for it (core/bundle.ts SignatureJob, without its position). */
export interface WorkerJob {
  alg: 'ed25519' | 'ecdsa-secp256k1' | 'ecdsa-p256';
  publicKey: string;
  linkHash: string;
  sig: string;
}

/** The queue: `next` counts chunks taken (Int32Array[1]); `verdicts` holds 0 (not yet), 1 (valid), 2 (invalid) per job. */
export interface WorkerTask {
  jobs: WorkerJob[];
  next: SharedArrayBuffer;
  verdicts: SharedArrayBuffer;
  chunk: number;
  /** Report progress only once, with `done` (the service's pool); `pop verify` reports every chunk. */
  quiet?: boolean;
  /** Messages to sign with the notary's key (the service's pool, whose workers hold it). */
  notarize?: Uint8Array[];
}

/** The end of a task: what the worker checked (quiet tasks) and the notary's signatures it made. */
export interface WorkerDone {
  done: true;
  checked?: number;
  notarySigs?: string[];
}

export type WorkerMessage = { checked: number } | WorkerDone;

/** workerData of a signature worker: only such a thread serves tasks on its parentPort. */
export const WORKER_ROLE = 'pop-signature-worker';

/** What a signature worker is started with: the notary's seed, if it is to sign for the notary. */
export interface WorkerData {
  role: typeof WORKER_ROLE;
  notarySeed?: Uint8Array;
}

/** Takes chunks until none is left; returns how many jobs it checked. Used by the workers and the main thread alike. */
export function drain(task: WorkerTask, onChunk?: (checked: number) => void): number {
  const next = new Int32Array(task.next);
  const verdicts = new Uint8Array(task.verdicts);
  let checked = 0;
  for (;;) {
    const start = Atomics.add(next, 0, 1) * task.chunk;
    if (start >= task.jobs.length) return checked;
    const end = Math.min(start + task.chunk, task.jobs.length);
    for (let i = start; i < end; i++) {
      const j = task.jobs[i]!;
      const valid = nodeVerifier.verify(j.alg, Buffer.from(j.publicKey, 'hex'), linkMessage(j.linkHash), Buffer.from(j.sig, 'hex'));
      Atomics.store(verdicts, i, valid ? 1 : 2);
    }
    checked += end - start;
    onChunk?.(end - start);
  }
}

const port = parentPort;
const data = workerData as Partial<WorkerData> | null;
if (port && data?.role === WORKER_ROLE) {
  const notary = data.notarySeed ? ed25519Notary(Buffer.from(data.notarySeed)) : undefined;
  port.on('message', (task: WorkerTask) => {
    if (task.quiet) {
      const checked = drain(task);
      // Without the key (never asked of such a worker) the caller signs what is left unsigned.
      const notarySigs = notary && task.notarize?.length ? task.notarize.map((m) => notary.sign(m)) : undefined;
      port.postMessage({ done: true, checked, ...(notarySigs ? { notarySigs } : {}) } satisfies WorkerMessage);
      return;
    }
    drain(task, (n) => port.postMessage({ checked: n } satisfies WorkerMessage));
    port.postMessage({ done: true } satisfies WorkerMessage);
  });
}

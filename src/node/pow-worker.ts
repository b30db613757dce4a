// A proof-of-work thread of PowPool (src/node/pow-pool.ts): runs core's mineRange over its share of
// the nonce space so the sealer's mining never holds the request thread. With n workers, worker i
// takes chunks i, i+n, i+2n, … of `chunk` nonces. Between chunks it reads a stop flag in shared
// memory, which the main thread raises to cancel (leadership lost, shutdown) and a worker raises
// when it finds a nonce, so its siblings stop within one chunk. The loop is synchronous: the thread
// does nothing else, and terminate() interrupts it if it must.
import { parentPort, workerData } from 'node:worker_threads';
import { mineRange } from '../core/pow.js';

/** One search: an encoded header (any nonce), this worker's offset among `stride` workers. */
export interface PowTask {
  id: number;
  header: Uint8Array;
  offset: number;
  stride: number;
  chunk: number;
  /** Int32Array[1]: 0 while the search runs; anyone may set it to 1 to stop everyone. */
  stop: SharedArrayBuffer;
}

/** A worker's answer to a task: the nonce it found, or null when stopped first. */
export interface PowReply {
  id: number;
  nonce: number | null;
  tries: number;
}

/** workerData of a proof-of-work worker: only such a thread serves tasks on its parentPort. */
export const POW_WORKER_ROLE = 'pop-pow-worker';

/** Searches this task's share of the nonces until one meets the header's difficulty or the flag stops it. */
export function searchNonces(task: Omit<PowTask, 'id'>): { nonce: number | null; tries: number } {
  const stop = new Int32Array(task.stop);
  const step = task.stride * task.chunk;
  let tries = 0;
  for (let start = task.offset * task.chunk; ; start += step) {
    if (Atomics.load(stop, 0) !== 0) return { nonce: null, tries };
    const found = mineRange(task.header, start, task.chunk);
    tries += found.tries;
    if (found.nonce !== null) {
      Atomics.store(stop, 0, 1);
      return { nonce: found.nonce, tries };
    }
  }
}

const port = parentPort;
if (port && (workerData as { role?: unknown } | null)?.role === POW_WORKER_ROLE) {
  port.on('message', (task: PowTask) => {
    const { nonce, tries } = searchNonces(task);
    port.postMessage({ id: task.id, nonce, tries } satisfies PowReply);
  });
}

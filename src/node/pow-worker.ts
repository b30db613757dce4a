// A proof-of-work thread of PowPool (src/node/pow-pool.ts): builds a block's Merkle tree and runs
// core's mineRange over its share of the nonce space, so that neither holds the request thread.
// One worker of a search (the builder) builds the tree: it writes the levels to shared memory and
// the header, with the tree's root in it, to a shared header, then raises a "ready" flag that its
// siblings wait on; so the tree is built once however many threads search. With n workers, worker
// i then takes chunks i, i+n, i+2n, … of `chunk` nonces. Between chunks it reads a stop flag in
// shared memory, which the main thread raises to cancel (leadership lost, shutdown) and a worker
// raises when it finds a nonce, so its siblings stop within one chunk. The loop is synchronous: the
// thread does nothing else, and terminate() interrupts it if it must.
//
// The thread runs at nice POW_NICE, below the request thread: with 2 cores shared by requests and
// PostgreSQL, a search at the process's priority took its full share of a core and requests waited
// 6–24 ms behind it. A block's proof-of-work has seconds to spare (the seal's p99 goal is 2 s): at
// 16 bits it is ~65,000 hashes at ~1.9 M/s, 35 ms on average and 160 ms at the 99th percentile.
// Under full saturation nice 10 still gets ~10% of a core against a nice-0 thread (≈ 1.6 s for that
// p99 block), where nice 19 would get ~1.5% (≈ 11 s); when a core is idle either gets all of it.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { type HeaderFields, encodeHeader } from '../core/header.js';
import { LinkTree } from '../core/merkle.js';
import { mineRange } from '../core/pow.js';
import { toHex } from '../core/bytes.js';
import { nodeSha256 } from './hash.js';

/** The header's fields that do not depend on the block's tree: all but linksRoot, leafCount and the nonce. */
export type BlockFields = Omit<HeaderFields, 'linksRoot' | 'leafCount' | 'nonce'>;

/** One search, as one worker sees it. */
export interface PowTask {
  id: number;
  /** HEADER_BYTES of shared memory: the encoded header (any nonce), written by the builder. */
  header: SharedArrayBuffer;
  /** The builder's part: the block's other fields, its link hashes (n × 32 bytes, in leaf order), and where the levels go (treeBytes(n)). */
  build?: { fields: BlockFields; leaves: Uint8Array; levels: SharedArrayBuffer };
  offset: number;
  stride: number;
  chunk: number;
  /** CONTROL_BYTES of shared memory (see control()). */
  control: SharedArrayBuffer;
}

/** A worker's answer to a task: the nonce it found, or null when stopped first. */
export interface PowReply {
  id: number;
  nonce: number | null;
  tries: number;
}

/** workerData of a proof-of-work worker: only such a thread serves tasks on its parentPort. */
export const POW_WORKER_ROLE = 'pop-pow-worker';

/** The nice value of a proof-of-work thread (see the top of this file). */
export const POW_NICE = 10;

export const CONTROL_BYTES = 16;

/**
 * A search's shared state. flags[STOP]: 0 while it runs; anyone may set it to 1 to stop everyone.
 * flags[READY]: 1 once the header is final (the tree built). treeMs[0]: what building the tree took.
 */
export function control(buffer: SharedArrayBuffer): { flags: Int32Array; treeMs: Float64Array } {
  return { flags: new Int32Array(buffer, 0, 2), treeMs: new Float64Array(buffer, 8, 1) };
}
export const STOP = 0;
export const READY = 1;

/** Bytes of a tree of n leaves, every level's 32-byte hashes one after another, leaves first. */
export function treeBytes(n: number): number {
  let nodes = 0;
  for (let width = n; width > 0; width = width === 1 ? 0 : Math.ceil(width / 2)) nodes += width;
  return nodes * 32;
}

/** Views of each level (its hashes concatenated, leaves first) in a tree buffer of n leaves. */
export function treeLevels(tree: Uint8Array, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (let width = n; width > 0; width = width === 1 ? 0 : Math.ceil(width / 2)) {
    out.push(tree.subarray(at, at + width * 32));
    at += width * 32;
  }
  return out;
}

/**
 * Builds the RFC 6962 tree of `leaves` (32-byte link hashes, concatenated in leaf order) with
 * LinkTree and node:crypto's SHA-256, writes its levels into `out` (treeBytes(n) bytes, the layout
 * treeLevels reads), and returns the root.
 */
export function writeTree(leaves: Uint8Array, out: Uint8Array): Uint8Array {
  if (leaves.length % 32 !== 0) throw new RangeError(`${leaves.length} bytes are not whole 32-byte hashes`);
  const n = leaves.length / 32;
  if (out.length !== treeBytes(n)) throw new RangeError(`a tree of ${n} leaves takes ${treeBytes(n)} bytes, not ${out.length}`);
  const tree = new LinkTree(Array.from({ length: n }, (_, i) => leaves.subarray(i * 32, i * 32 + 32)), nodeSha256);
  let at = 0;
  for (const level of tree.levels()) {
    for (const node of level) {
      out.set(node, at);
      at += 32;
    }
  }
  return tree.root;
}

/** The builder's part of a task: the tree, then the final header for everyone, then the ready flag. */
function build(task: PowTask, part: NonNullable<PowTask['build']>): void {
  const { flags, treeMs } = control(task.control);
  const began = performance.now();
  const root = writeTree(part.leaves, new Uint8Array(part.levels));
  new Uint8Array(task.header).set(encodeHeader({ ...part.fields, linksRoot: toHex(root), leafCount: part.leaves.length / 32, nonce: 0 }));
  treeMs[0] = performance.now() - began;
  Atomics.store(flags, READY, 1);
  Atomics.notify(flags, READY);
}

/** Waits until the header is final; false when the search is stopped first. */
function awaitHeader(flags: Int32Array): boolean {
  while (Atomics.load(flags, READY) === 0) {
    if (Atomics.load(flags, STOP) !== 0) return false;
    Atomics.wait(flags, READY, 0, 100); // whoever stops the search wakes it; the timeout is a backstop
  }
  return true;
}

/** Searches this task's share of the nonces until one meets the header's difficulty or the flag stops it. */
export function searchNonces(task: { header: Uint8Array; offset: number; stride: number; chunk: number; stop: Int32Array }): { nonce: number | null; tries: number } {
  const step = task.stride * task.chunk;
  let tries = 0;
  for (let start = task.offset * task.chunk; ; start += step) {
    if (Atomics.load(task.stop, STOP) !== 0) return { nonce: null, tries };
    const found = mineRange(task.header, start, task.chunk);
    tries += found.tries;
    if (found.nonce !== null) {
      Atomics.store(task.stop, STOP, 1);
      return { nonce: found.nonce, tries };
    }
  }
}

/** A whole task: the tree if this worker builds it, then the search once the header is final. */
export function runTask(task: PowTask): { nonce: number | null; tries: number } {
  const { flags } = control(task.control);
  if (task.build) {
    try {
      build(task, task.build);
    } catch (e) {
      // The siblings wait for a header that will never come: stop them too.
      Atomics.store(flags, STOP, 1);
      Atomics.notify(flags, READY);
      throw e;
    }
  } else if (!awaitHeader(flags)) return { nonce: null, tries: 0 };
  const header = new Uint8Array(task.header).slice(); // a private copy: mineRange reads it in its loop
  return searchNonces({ header, offset: task.offset, stride: task.stride, chunk: task.chunk, stop: flags });
}

/** Lowers this thread's priority to POW_NICE (Linux: the thread's own id; elsewhere, or if refused, nothing). */
function lowerPriority(): void {
  try {
    const tid = Number(/\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'))?.[1]);
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, POW_NICE);
  } catch {
    // No /proc/thread-self (not Linux), or setpriority refused: mine at the process's priority.
  }
}

const port = parentPort;
if (port && (workerData as { role?: unknown } | null)?.role === POW_WORKER_ROLE) {
  lowerPriority();
  port.on('message', (task: PowTask) => {
    const { nonce, tries } = runTask(task);
    port.postMessage({ id: task.id, nonce, tries } satisfies PowReply);
  });
}

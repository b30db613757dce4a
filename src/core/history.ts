// The history tree: an RFC 6962 tree whose leaves are the hashes of all blocks so far, in height
// order (leaf data = the 32-byte block hash; leaf hash = SHA-256(0x00 || blockHash)). Block h's header
// carries the root over blocks 0..h-1, so "block a is an ancestor of block b" is an O(log n)
// inclusion proof, and "history b extends history a" a consistency proof.
//
// The accumulator keeps only the roots of the perfect subtrees ("peaks", one per set bit of the size;
// a compact range in transparency-dev terms): O(log n) state, O(log n) work per append, no rebuild.
// Each append reports the perfect-subtree nodes it completed so a store can keep them; proofs are
// assembled from those stored nodes (proofNodes → fetch → assemble), never by rebuilding the tree.
import { fail } from './errors.js';
import { EMPTY_ROOT, leafHash, nodeHash, splitPoint } from './rfc6962.js';

/** The root of the perfect subtree covering leaves [index·2^level, (index+1)·2^level). */
export interface NodeId {
  level: number;
  index: number;
}
export interface StoredNode extends NodeId {
  hash: Uint8Array;
}

export function nodeKey(id: NodeId): string {
  return `${id.level}:${id.index}`;
}

export class HistoryAccumulator {
  #size: number;
  #peaks: Uint8Array[];

  constructor(size = 0, peaks: readonly Uint8Array[] = []) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('size must be a non-negative integer');
    if (peaks.length !== popCount(size)) throw new RangeError(`size ${size} needs ${popCount(size)} peaks`);
    this.#size = size;
    this.#peaks = [...peaks];
  }

  get size(): number {
    return this.#size;
  }

  /** The peaks from the largest (leftmost) subtree to the smallest: the whole state. */
  get peaks(): readonly Uint8Array[] {
    return this.#peaks;
  }

  /** Appends a block hash; returns the nodes completed by it (the leaf first, then each merge). */
  append(blockHash: Uint8Array): StoredNode[] {
    let hash = leafHash(blockHash);
    let index = this.#size;
    let level = 0;
    const created: StoredNode[] = [{ level, index, hash }];
    while (index % 2 === 1) {
      hash = nodeHash(this.#peaks.pop()!, hash);
      index = (index - 1) / 2;
      level++;
      created.push({ level, index, hash });
    }
    this.#peaks.push(hash);
    this.#size++;
    return created;
  }

  root(): Uint8Array {
    if (this.#peaks.length === 0) return EMPTY_ROOT;
    let acc = this.#peaks[this.#peaks.length - 1]!;
    for (let i = this.#peaks.length - 2; i >= 0; i--) acc = nodeHash(this.#peaks[i]!, acc);
    return acc;
  }
}

function popCount(n: number): number {
  let c = 0;
  for (; n > 0; n = Math.floor(n / 2)) c += n % 2;
  return c;
}

/** A range [start, end) of leaves whose MTH appears in a proof. */
export interface Range {
  start: number;
  end: number;
}

/** RFC 6962 §2.1.1 PATH(m, D[n]) as leaf ranges, in proof order (bottom-up). */
export function inclusionRanges(index: number, size: number): Range[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`index ${index} outside a tree of ${size}`);
  const out: Range[] = [];
  const path = (m: number, lo: number, hi: number): void => {
    if (hi - lo <= 1) return;
    const k = splitPoint(hi - lo);
    if (m < k) {
      path(m, lo, lo + k);
      out.push({ start: lo + k, end: hi });
    } else {
      path(m - k, lo + k, hi);
      out.push({ start: lo, end: lo + k });
    }
  };
  path(index, 0, size);
  return out;
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]) as leaf ranges, in proof order. */
export function consistencyRanges(size1: number, size2: number): Range[] {
  if (!(size1 >= 0 && size1 <= size2)) throw new RangeError(`no consistency proof from ${size1} to ${size2}`);
  const out: Range[] = [];
  if (size1 === 0 || size1 === size2) return out;
  const sub = (m: number, lo: number, hi: number, whole: boolean): void => {
    if (m === hi - lo) {
      if (!whole) out.push({ start: lo, end: hi });
      return;
    }
    const k = splitPoint(hi - lo);
    if (m <= k) {
      sub(m, lo, lo + k, whole);
      out.push({ start: lo + k, end: hi });
    } else {
      sub(m - k, lo + k, hi, false);
      out.push({ start: lo, end: lo + k });
    }
  };
  sub(size1, 0, size2, true);
  return out;
}

/** The perfect subtrees that make up a range, left to right (a range's MTH folds them right to left). */
export function rangeNodes(range: Range): NodeId[] {
  const out: NodeId[] = [];
  let at = range.start;
  while (at < range.end) {
    let width = 1;
    while (at % (width * 2) === 0 && at + width * 2 <= range.end) width *= 2;
    out.push({ level: Math.log2(width), index: at / width });
    at += width;
  }
  return out;
}

/** Every stored node a list of ranges needs (deduplicated): what to fetch in one query. */
export function nodesFor(ranges: readonly Range[]): NodeId[] {
  const seen = new Map<string, NodeId>();
  for (const r of ranges) for (const id of rangeNodes(r)) seen.set(nodeKey(id), id);
  return [...seen.values()];
}

/** Hashes the ranges from fetched nodes (keyed by nodeKey); a missing node is a store fault. */
export function assembleProof(ranges: readonly Range[], nodes: ReadonlyMap<string, Uint8Array>): Uint8Array[] {
  return ranges.map((range) => {
    const hashes = rangeNodes(range).map((id) => {
      const h = nodes.get(nodeKey(id));
      if (!h) return fail('HISTORY_INVALID', `history node ${nodeKey(id)} is missing`);
      return h;
    });
    let acc = hashes[hashes.length - 1]!;
    for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
    return acc;
  });
}

/** An in-memory history with every node kept: for tests, tools and golden files. */
export class MemoryHistory {
  readonly accumulator = new HistoryAccumulator();
  readonly nodes = new Map<string, Uint8Array>();

  append(blockHash: Uint8Array): void {
    for (const n of this.accumulator.append(blockHash)) this.nodes.set(nodeKey(n), n.hash);
  }
  get size(): number {
    return this.accumulator.size;
  }
  root(): Uint8Array {
    return this.accumulator.root();
  }
  inclusionProof(index: number, size = this.size): Uint8Array[] {
    return assembleProof(inclusionRanges(index, size), this.nodes);
  }
  consistencyProof(size1: number, size2 = this.size): Uint8Array[] {
    return assembleProof(consistencyRanges(size1, size2), this.nodes);
  }
}

// Two small building blocks for read paths over data that never changes once written (sealed blocks,
// their tree levels, history nodes, participants' public keys):
//  - LruCache: least-recently-used entries go first once the accounted bytes exceed a budget, so the
//    memory a server spends on caching is bounded whatever the chain's length;
//  - Coalescer: requests that arrive while a query is in flight wait and go together in the next one,
//    so under load one round trip serves many requests. Each request is answered by a query sent after
//    it arrived: what changes (the tip, anchors) is never older than the request.
// Only immutable rows may be cached: several servers share one database, and nothing tells this one
// when another changed a row.

export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export class LruCache<V> {
  readonly #entries = new Map<string, { value: V; bytes: number }>();
  readonly #loading = new Map<string, Promise<V>>();
  #budget: number;
  #bytes = 0;

  constructor(budgetBytes: number = DEFAULT_CACHE_BYTES) {
    this.#budget = budgetBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get budget(): number {
    return this.#budget;
  }

  set budget(bytes: number) {
    if (!(Number.isSafeInteger(bytes) && bytes >= 0)) throw new RangeError('a cache budget is a non-negative integer of bytes');
    this.#budget = bytes;
    this.#evict();
  }

  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    this.#entries.delete(key); // re-insert: Map order is the recency order
    this.#entries.set(key, e);
    return e.value;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Stores `value` as `bytes` bytes; an entry larger than the whole budget is not kept. */
  set(key: string, value: V, bytes: number): void {
    const old = this.#entries.get(key);
    if (old) {
      this.#bytes -= old.bytes;
      this.#entries.delete(key);
    }
    if (bytes > this.#budget) return;
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    this.#evict();
  }

  /** The cached value, or `load()`'s, shared by concurrent callers (one load per key at a time). */
  async through(key: string, load: () => Promise<V>, sizeOf: (v: V) => number): Promise<V> {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    let pending = this.#loading.get(key);
    if (!pending) {
      pending = load().then(
        (v) => {
          this.#loading.delete(key);
          this.set(key, v, sizeOf(v));
          return v;
        },
        (e: unknown) => {
          this.#loading.delete(key);
          throw e;
        },
      );
      this.#loading.set(key, pending);
    }
    return pending;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #evict(): void {
    for (const [key, e] of this.#entries) {
      if (this.#bytes <= this.#budget) break;
      this.#entries.delete(key);
      this.#bytes -= e.bytes;
    }
  }
}

interface Waiter<K, V> {
  key: K;
  resolve: (v: V | undefined) => void;
  reject: (e: unknown) => void;
}

export class Coalescer<K, V> {
  readonly #run: (keys: K[]) => Promise<Map<K, V>>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #queue: Waiter<K, V>[] = [];
  #inFlight = 0;
  #scheduled = false;

  /**
   * `run` answers a batch of distinct keys; keys it leaves out resolve to undefined. At most
   * `maxInFlight` runs at a time, each of at most `maxBatch` keys.
   */
  constructor(run: (keys: K[]) => Promise<Map<K, V>>, opts: { maxBatch?: number; maxInFlight?: number } = {}) {
    this.#run = run;
    this.#maxBatch = opts.maxBatch ?? 256;
    this.#maxInFlight = opts.maxInFlight ?? 1;
  }

  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ key, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    // Start after this turn of the event loop: requests parsed in the same turn share the query.
    setImmediate(() => {
      this.#scheduled = false;
      this.#start();
    });
  }

  #start(): void {
    if (this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#inFlight++;
    this.#run([...new Set(batch.map((w) => w.key))])
      .then(
        (answers) => {
          for (const w of batch) w.resolve(answers.get(w.key));
        },
        (e: unknown) => {
          for (const w of batch) w.reject(e);
        },
      )
      .finally(() => {
        this.#inFlight--;
        this.#schedule();
      });
    this.#schedule();
  }
}

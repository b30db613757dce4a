// The proof path's cache and coalescer (src/ledger/cache.ts): the byte budget always holds, the least
// recently used entry goes first, concurrent misses share one load, failures are not cached, and a
// coalesced request is never answered by a query that started before it arrived.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Coalescer, LruCache } from '../../src/ledger/cache.js';

describe('LruCache', () => {
  test('evicts the least recently used entries to stay within its budget', () => {
    const c = new LruCache<string>(300);
    c.set('a', 'A', 100);
    c.set('b', 'B', 100);
    c.set('c', 'C', 100);
    expect(c.get('a')).toBe('A'); // a is now the most recent
    c.set('d', 'D', 100);
    expect(c.has('b')).toBe(false);
    expect([c.has('a'), c.has('c'), c.has('d')]).toEqual([true, true, true]);
    expect(c.bytes).toBe(300);
    c.set('e', 'E', 250);
    expect(c.bytes).toBeLessThanOrEqual(300);
    expect(c.get('e')).toBe('E');
    c.set('huge', 'H', 301); // larger than the whole budget: not kept, nothing else evicted for it
    expect(c.has('huge')).toBe(false);
    expect(c.has('e')).toBe(true);
    c.budget = 0;
    expect([c.size, c.bytes]).toEqual([0, 0]);
    expect(() => (c.budget = -1)).toThrow(RangeError);
  });

  test('for any sequence of sets, gets and budget changes, the accounted bytes never exceed the budget', () => {
    const op = fc.oneof(
      fc.record({ set: fc.integer({ min: 0, max: 20 }), bytes: fc.integer({ min: 0, max: 400 }) }),
      fc.record({ get: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ budget: fc.integer({ min: 0, max: 1500 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const c = new LruCache<number>(1000);
        const model = new Map<string, number>();
        for (const o of ops) {
          if ('set' in o) {
            c.set(`k${o.set}`, o.set, o.bytes);
            model.set(`k${o.set}`, o.bytes);
          } else if ('get' in o) {
            const v = c.get(`k${o.get}`);
            if (v !== undefined) expect(v).toBe(o.get);
          } else c.budget = o.budget;
          expect(c.bytes).toBeLessThanOrEqual(c.budget);
          let sum = 0;
          for (const k of model.keys()) if (c.has(k)) sum += model.get(k)!;
          expect(c.bytes).toBe(sum);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('through(): concurrent misses share one load; a failed load is not cached', async () => {
    const c = new LruCache<string>(1000);
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 5));
      return 'v';
    };
    const got = await Promise.all(Array.from({ length: 10 }, () => c.through('k', load, () => 10)));
    expect(got).toEqual(Array(10).fill('v'));
    expect(loads).toBe(1);
    expect(await c.through('k', load, () => 10)).toBe('v');
    expect(loads).toBe(1);

    let fail = true;
    const flaky = async () => {
      if (fail) throw new Error('down');
      return 'ok';
    };
    await expect(c.through('f', flaky, () => 1)).rejects.toThrow('down');
    expect(c.has('f')).toBe(false);
    fail = false;
    expect(await c.through('f', flaky, () => 1)).toBe('ok');
  });
});

describe('Coalescer', () => {
  test('requests arriving while a query runs go together in the next one, which starts after they arrived', async () => {
    const runs: { keys: number[]; startedAt: number }[] = [];
    let clock = 0;
    let release: (() => void) | undefined;
    const c = new Coalescer<number, string>(async (keys) => {
      runs.push({ keys: [...keys].sort((a, b) => a - b), startedAt: clock++ });
      await new Promise<void>((r) => (release = r));
      return new Map(keys.filter((k) => k !== 99).map((k) => [k, `v${k}`]));
    });
    const first = [c.load(1), c.load(2), c.load(2)]; // same turn: one query
    await new Promise((r) => setImmediate(r));
    expect(runs).toHaveLength(1);
    const arrivedAt = clock++; // the clock ticks when they arrive, and again when a query starts
    const second = [c.load(3), c.load(99)]; // while the first query is in flight
    await new Promise((r) => setTimeout(r, 5));
    expect(runs).toHaveLength(1); // they wait
    release!();
    expect(await Promise.all(first)).toEqual(['v1', 'v2', 'v2']);
    await new Promise((r) => setImmediate(r));
    expect(runs).toHaveLength(2);
    expect(runs[1]!.keys).toEqual([3, 99]);
    expect(runs[1]!.startedAt).toBeGreaterThan(arrivedAt);
    release!();
    expect(await Promise.all(second)).toEqual(['v3', undefined]); // a key the query left out
    expect(runs[0]!.keys).toEqual([1, 2]);
  });

  test('a failed query fails its batch only; the next batch runs', async () => {
    let n = 0;
    const c = new Coalescer<string, number>(async (keys) => {
      if (n++ === 0) throw new Error('connection lost');
      return new Map(keys.map((k) => [k, k.length]));
    });
    await expect(c.load('a')).rejects.toThrow('connection lost');
    expect(await c.load('abc')).toBe(3);
  });

  test('with maxInFlight 2, a second batch starts while the first runs, and a third waits for one of them', async () => {
    const releases: (() => void)[] = [];
    const runs: number[][] = [];
    const c = new Coalescer<number, number>(async (keys) => {
      runs.push(keys);
      await new Promise<void>((r) => releases.push(r));
      return new Map(keys.map((k) => [k, k * 10]));
    }, { maxInFlight: 2 });
    const turn = async () => {
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    };
    const a = c.load(1);
    await turn();
    const b = c.load(2);
    await turn();
    const d = c.load(3);
    await turn();
    expect(runs).toEqual([[1], [2]]); // 3 waits: two are in flight
    releases[1]!();
    expect(await b).toBe(20);
    await turn();
    expect(runs).toEqual([[1], [2], [3]]);
    releases[0]!();
    releases[2]!();
    expect(await Promise.all([a, d])).toEqual([10, 30]);
  });

  test('batches are capped', async () => {
    const sizes: number[] = [];
    const c = new Coalescer<number, number>(async (keys) => {
      sizes.push(keys.length);
      return new Map(keys.map((k) => [k, k]));
    }, { maxBatch: 4 });
    const got = await Promise.all(Array.from({ length: 10 }, (_, i) => c.load(i)));
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(sizes).toEqual([4, 4, 2]);
  });
});

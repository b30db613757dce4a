// A process version is compiled once however many requests want it at once (docs/performance.md,
// cold start: 50 concurrent first appends compiled order-to-cash 50 times); a failed compile or a
// version that does not exist yet is not remembered, so a later call tries again.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { compileProcess } from '../../src/ledger/process-rules.js';
import { Processes } from '../../src/ledger/processes.js';
import { type TestDatabase, createTestDatabase } from '../helpers/db.js';
import { ORDER_TO_CASH } from '../helpers/service.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 10 });
  await migrate(pool);
  await new Processes(pool).register(ORDER_TO_CASH);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** A Processes as after a start (nothing cached), counting its compilations; `failures` makes the next ones throw. */
function fresh() {
  const calls: string[] = [];
  let failures = 0;
  const processes = new Processes(pool, {
    compile: (id, version, hash, definition) => {
      calls.push(`${id}@${version}`);
      if (failures > 0) {
        failures--;
        throw new Error('compile failed');
      }
      return compileProcess(id, version, hash, definition);
    },
  });
  return { processes, calls, failNext: (n: number) => void (failures = n) };
}

describe('compiled processes (single flight)', () => {
  test('50 concurrent first uses compile once and share the result', async () => {
    const { processes, calls } = fresh();
    const all = await Promise.all(Array.from({ length: 50 }, () => processes.compiled('order-to-cash', 1)));
    expect(calls).toEqual(['order-to-cash@1']);
    expect(all[0]).toMatchObject({ id: 'order-to-cash', version: 1 });
    expect(all[0]!.steps.get('order')?.meta).toBeTypeOf('function');
    for (const c of all) expect(c).toBe(all[0]);
    expect(await processes.compiled('order-to-cash', 1)).toBe(all[0]);
    expect(calls).toHaveLength(1);
  });

  test('a failed compile is shared by the callers waiting on it, then retried by a later call', async () => {
    const { processes, calls, failNext } = fresh();
    failNext(1);
    const first = await Promise.allSettled(Array.from({ length: 10 }, () => processes.compiled('order-to-cash', 1)));
    expect(first.map((r) => r.status)).toEqual(Array(10).fill('rejected'));
    expect((first[0] as PromiseRejectedResult).reason).toEqual(new Error('compile failed'));
    expect(calls).toHaveLength(1);
    const again = await Promise.all(Array.from({ length: 10 }, () => processes.compiled('order-to-cash', 1)));
    expect(again[0]).toMatchObject({ id: 'order-to-cash', version: 1 });
    for (const c of again) expect(c).toBe(again[0]);
    expect(calls).toEqual(['order-to-cash@1', 'order-to-cash@1']);
  });

  test('a version that does not exist yet is looked up again once registered', async () => {
    const { processes, calls } = fresh();
    const missing = await Promise.all(Array.from({ length: 5 }, () => processes.compiled('order-to-cash', 2)));
    expect(missing).toEqual(Array(5).fill(undefined));
    expect(calls).toEqual([]);
    await new Processes(pool).register({ ...ORDER_TO_CASH, title: 'Order to cash, v2' }, 'order-to-cash');
    expect(await processes.compiled('order-to-cash', 2)).toMatchObject({ version: 2 });
    expect(calls).toEqual(['order-to-cash@2']);
  });

  test('different versions compile separately', async () => {
    const { processes, calls } = fresh();
    const [v1, v2] = await Promise.all([processes.compiled('order-to-cash', 1), processes.compiled('order-to-cash', 2), processes.compiled('order-to-cash', 1)]);
    expect(v1?.version).toBe(1);
    expect(v2?.version).toBe(2);
    expect(calls.sort()).toEqual(['order-to-cash@1', 'order-to-cash@2']);
  });
});

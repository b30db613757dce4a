// Crashes for real (spec §4: "Nothing accepted is ever lost or sealed twice, whatever crashes when"):
// `pop serve` runs as a child process and is SIGKILLed at random instants under load (mid-mining,
// mid-transaction, between a commit and its answer or event), then restarted; and three servers share
// one database while the one holding the sealing lock is killed and another must take over. After
// each, the database itself is checked (every acknowledged link stored and sealed exactly once, the
// chain contiguous and linked, leaf counts adding up), served proofs verify offline against the
// pinned notary key, and `pop chain verify` audits the whole chain. The harness is shared with the
// fault suites (test/helpers/faults.ts).
//
// POP_CRASH_ROUNDS (default 8) sets the number of kill/restart rounds.
import { randomInt } from 'node:crypto';
import { afterAll, describe, expect, test } from 'vitest';
import { readEventStream } from '../helpers/events.js';
import {
  Harness,
  Load,
  checkChain,
  checkIdempotent,
  checkInvariants,
  checkProofs,
  register,
  sealerName,
  sleep,
  waitUntilAllSealed,
  withLogs,
} from '../helpers/faults.js';

const ROUNDS = Number(process.env['POP_CRASH_ROUNDS'] || 8);
const h = new Harness('crash');

afterAll(() => h.cleanup());

describe('crashes', () => {
  test(`kill -9 at random instants under load, ${ROUNDS} rounds: nothing acknowledged is lost or sealed twice`, { timeout: 120_000 }, async () => {
    const db = await h.database();
    const server = await h.server('solo', db.url);
    await withLogs([server], async () => {
      await server.start();
      const load = new Load(h, 'crash', await register(h, server.url));
      const kills: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        if (!server.alive) await server.start();
        await load.retry(() => server.url);
        let stopped = false;
        const running = load.run(() => server.url, () => stopped);
        const delay = randomInt(0, 401);
        kills.push(delay);
        await sleep(delay);
        await server.kill();
        stopped = true;
        await running;
      }
      await server.start();
      await load.retry(() => server.url);
      expect(load.violations).toEqual([]);
      await waitUntilAllSealed(db.url);
      const counts = await checkInvariants(db.url, load);
      await checkProofs(h, server.url, load);
      await checkIdempotent(h, server.url, load);
      await checkChain(h, server.url, counts);
      console.info(
        `crash: ${ROUNDS} kills at ${kills.join(', ')} ms; ${load.stats.requests} requests, ${load.acked.size} links acknowledged, ` +
          `${load.stats.inDoubt} in doubt (retried: ${load.stats.retriedExisting} had been stored, ${load.stats.retriedCreated} had not); ${counts.blocks} blocks`,
      );
    });
  });

  test('three servers on one database: when the sealer is killed another takes over', { timeout: 120_000 }, async () => {
    const db = await h.database();
    const trio = [await h.server('a', db.url), await h.server('b', db.url), await h.server('c', db.url)];
    await withLogs(trio, async () => {
      await Promise.all(trio.map((s) => s.start())); // concurrent starts: migrations serialize on their lock
      const load = new Load(h, 'takeover', await register(h, trio[0]!.url));
      // Each server's event stream, open throughout: every server's links and every sealer's blocks.
      const streams = await Promise.all(trio.map((s) => readEventStream(s.url, h.adminKey)));
      let turn = 0;
      const target = () => {
        const alive = trio.filter((s) => s.alive);
        return alive[turn++ % alive.length]!.url;
      };
      let stopped = false;
      const running = load.run(target, () => stopped);
      try {
        await sleep(1500);
        let first: string | undefined;
        for (const end = Date.now() + 5000; !(first = await sealerName(db.url)) && Date.now() < end; ) await sleep(100);
        expect(first, 'one server holds the sealing lock').toBeDefined();
        const victim = trio.find((s) => s.name === first)!;
        await victim.kill();
        const killedAt = Date.now();
        // A link posted through a survivor after the kill gets sealed: another server took over (the
        // test's timeout is the only clock; the time it took is reported).
        const survivor = trio.find((s) => s.alive)!;
        const probe = load.next();
        expect(await load.send(survivor.url, probe)).toBe(true);
        while ((await h.http(survivor.url, 'GET', `/v1/links/${probe.hashes[0]}/proof`)).status !== 200) await sleep(100);
        const sealedAfter = Date.now() - killedAt;
        const second = await sealerName(db.url);
        expect(second).toBeDefined();
        expect(second).not.toBe(first);
        expect(trio.find((s) => s.name === second)!.alive).toBe(true);
        await sleep(1000); // keep posting through the survivors under the new sealer
        stopped = true;
        await running;
        await load.retry(target);
        expect(load.violations).toEqual([]);
        await waitUntilAllSealed(db.url);
        const counts = await checkInvariants(db.url, load);
        await checkProofs(h, survivor.url, load);
        await checkChain(h, survivor.url, counts);
        // The survivors' streams heard every link acknowledged, whichever server took it, once; and
        // every block, from both sealers, once and in order, up to the tip.
        const tip = counts.blocks - 1;
        for (const [i, s] of streams.entries()) {
          if (!trio[i]!.alive) continue;
          await s.until((e) => e.event === 'block.sealed' && e.data['height'] === tip, 30_000);
          const links = s.events.filter((e) => e.event === 'link.accepted').map((e) => e.data['linkHash'] as string);
          expect(new Set(links).size, `${trio[i]!.name}: each link heard once`).toBe(links.length);
          expect([...load.acked].filter((x) => !links.includes(x)), `${trio[i]!.name}: links not heard`).toEqual([]);
          const heights = s.events.filter((e) => e.event === 'block.sealed').map((e) => e.data['height'] as number);
          expect(heights, `${trio[i]!.name}: blocks heard once, in order`).toEqual(Array.from({ length: heights.length }, (_, k) => heights[0]! + k));
          expect(heights.at(-1)).toBeGreaterThanOrEqual(tip);
        }
        console.info(
          `takeover: sealer ${first} killed, ${second} sealed a new link ${sealedAfter} ms later; ${load.acked.size} links acknowledged, ` +
            `${load.stats.inDoubt} in doubt; ${counts.blocks} blocks`,
        );
      } finally {
        stopped = true;
        await running;
        for (const s of streams) s.close();
      }
    });
  });
});

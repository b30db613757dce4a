// The long fault run (`npm run test:faults`; POP_FAULT_ROUNDS, default 50, kill -9 rounds; the other
// faults in proportion), each round under continuous load and followed by every check including
// `pop chain verify` (test/faults/scenarios.ts). The kinds are interleaved at random, so each fault
// also meets the state the previous one left. Prints the report; POP_FAULT_REPORT=file also writes it
// as JSON; POP_FAULT_VERBOSE=1 prints a line per round.
import { randomInt } from 'node:crypto';
import { afterAll, describe, test } from 'vitest';
import { Harness, type Load } from '../helpers/faults.js';
import { FaultReport } from './report.js';
import { countAcknowledged, killRound, pauseRound, pgRestartRound, poolRound, terminateRound, withRig } from './scenarios.js';

const ROUNDS = Number(process.env['POP_FAULT_ROUNDS'] || 50);
const h = new Harness('faults-long');
const report = new FaultReport();
const loads: Load[] = [];

afterAll(async () => {
  countAcknowledged(report, loads);
  report.print(process.env['POP_FAULT_REPORT'] || undefined);
  await h.cleanup();
});

const repeat = (kind: string, n: number): string[] => Array<string>(n).fill(kind);

function shuffled<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe(`fault run: ${ROUNDS} kill rounds and the other faults in proportion`, () => {
  test('embedded PostgreSQL with regtest anchoring: kill -9, PostgreSQL restarts, pauses, pool exhaustion', () =>
    withRig(h, report, loads, { name: 'embedded', chainEveryRound: true }, async (rig) => {
      const other = Math.max(1, Math.round(ROUNDS / 5));
      const few = Math.max(1, Math.round(ROUNDS / 10));
      const schedule = shuffled([...repeat('kill', ROUNDS), ...repeat('restart', other), ...repeat('pause', few), ...repeat('pool', few)]);
      let restarts = 0;
      for (const kind of schedule) {
        if (kind === 'kill') await killRound(rig);
        else if (kind === 'restart') await pgRestartRound(rig, restarts++);
        else if (kind === 'pause') await pauseRound(rig);
        else await poolRound(rig);
      }
    }));

  test("shared server: the service's sessions terminated, and the service killed", async () => {
    const db = await h.database();
    await withRig(h, report, loads, { name: 'shared', databaseUrl: db.url, chainEveryRound: true }, async (rig) => {
      const n = Math.max(1, Math.round(ROUNDS / 5));
      for (const kind of shuffled([...repeat('terminate', n), ...repeat('kill', n)])) {
        if (kind === 'terminate') await terminateRound(rig);
        else await killRound(rig);
      }
    });
  });
});

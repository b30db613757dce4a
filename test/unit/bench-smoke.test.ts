// The benchmark's own arithmetic (no load, no timing assertions): percentiles, the goals' verdicts,
// the markdown table, and the CPU-profile summary on a tiny hand-made profile.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { percentiles } from '../../bench/load.js';
import { summarize } from '../../bench/profile.js';
import { type Figures, chainSpread, goals, markdownTable } from '../../bench/report.js';

const figures: Figures = {
  ceilingPerSec: 1000,
  appendPerSec: 850,
  batchAppendPerSec: 3000,
  appendP99Ms: 20,
  sealP99Ms: 2500,
  proofFetchPerSec: 3100,
  verifyBundleLinksPerSec: 'not available',
  sealMsByChainLength: { '100': 100, '10000': 110, '100000': 125 },
  powHashesPerSec: 1.2e6,
};

describe('bench arithmetic', () => {
  it('takes nearest-rank percentiles', () => {
    const p = percentiles(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(p).toEqual({ p50: 50, p90: 90, p99: 99, max: 100 });
    expect(Number.isNaN(percentiles([]).p99)).toBe(true);
  });

  it('judges each goal of the issue', () => {
    const all = goals(figures, 0.1, 0.05);
    const verdicts = Object.fromEntries(all.map((g) => [g.figure, g.met]));
    expect(verdicts).toEqual({
      appendPerSec: true,
      batchAppendPerSec: false,
      appendP99Ms: true,
      sealP99Ms: false,
      proofFetchPerSec: true,
      verifyBundleLinksPerSec: null,
      sealMsByChainLength: false,
    });
    expect(all.find((g) => g.figure === 'sealMsByChainLength')?.metWithoutPow).toBe(true);
    expect(chainSpread({ '100': 100, '10000': 90, '100000': 119 })).toBeCloseTo(0.19);
    expect(chainSpread({ '100': null, '10000': 90, '100000': 119 })).toBeNull();
  });

  it('prints one table row per figure', () => {
    const table = markdownTable(figures, 0.1, 0.05);
    expect(table.split('\n')).toHaveLength(2 + 9);
    expect(table).toContain('| `verifyBundleLinksPerSec` | not available |');
  });
});

describe('profile summary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('attributes self and inclusive time, inside the window only', () => {
    const file = join(dir, 'p.cpuprofile');
    const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0, columnNumber: 0, scriptId: '0' });
    writeFileSync(file, JSON.stringify({
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 4] },
        { id: 2, callFrame: frame('#store', 'file:///x/src/ledger/links.ts'), children: [3] },
        { id: 3, callFrame: frame('writev') },
        { id: 4, callFrame: frame('(idle)') },
      ],
      startTime: 0,
      endTime: 5000,
      samples: [3, 3, 2, 4, 3],
      timeDeltas: [1000, 1000, 1000, 1000, 1000],
    }));
    const all = summarize(file);
    expect(all.idlePercent).toBeGreaterThan(0);
    expect(all.inclusive.find((h) => h.name.startsWith('#store'))?.percent).toBe(100);
    expect(all.parts).toEqual([{ name: 'intake and proof logic (src/ledger, with the validators it calls)', ms: 4, percent: 100 }]);
    const windowed = summarize(file, { startUs: 2500, endUs: 3500 });
    expect(windowed.totalMs).toBe(1);
  });
});

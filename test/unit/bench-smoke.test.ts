// The benchmark's own arithmetic (no load, no timing assertions): percentiles, the goals' verdicts,
// the seal-time estimate, the markdown table, and the CPU-profile summary on a tiny hand-made profile.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { percentiles } from '../../bench/load.js';
import { summarize } from '../../bench/profile.js';
import { ReplyReader } from '../../bench/raw-http.js';
import { type ChainContext, type Figures, type SealRound, chainEstimate, chainSpread, goals, markdownTable } from '../../bench/report.js';
import Fastify from 'fastify';
import { parseMetrics, scrapeMetrics, serviceTail, tailLine } from '../../bench/service-metrics.js';
import { metricsPlugin } from '../../src/http/metrics.js';

const figures: Figures = {
  ceilingPerSec: 1000,
  appendPerSec: 850,
  batchAppendPerSec: 3000,
  appendP99Ms: 20,
  ceilingP99Ms: 8.25,
  sealP99Ms: 2500,
  proofFetchPerSec: 3100,
  verifyBundleLinksPerSec: 'not available',
  sealMsByChainLength: { '100': 100, '10000': 110, '100000': 125 },
  powHashesPerSec: 1.2e6,
};

const chain: ChainContext = {
  powBits: 16,
  medianMs: { '100': 50, '10000': 52, '100000': 70 },
  medianMsNoPow: { '100': 30, '10000': 29, '100000': 31 },
  minMsNoPow: { '100': 28, '10000': 28, '100000': 29 },
};

describe('bench arithmetic', () => {
  it('takes nearest-rank percentiles', () => {
    const p = percentiles(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(p).toEqual({ p50: 50, p90: 90, p99: 99, max: 100 });
    expect(Number.isNaN(percentiles([]).p99)).toBe(true);
    // Refused or lost requests count as infinitely late (bench/load.ts openLoop): past 1% they are the p99.
    const failing = percentiles([...Array.from({ length: 98 }, (_, i) => i + 1), Infinity, Infinity]);
    expect([failing.p50, failing.p90, failing.p99, failing.max]).toEqual([50, 90, Infinity, Infinity]);
    expect(markdownTable({ ...figures, appendP99Ms: Infinity }, chain)).toContain('| `appendP99Ms` | ∞ ms | ≤ 25 ms | **not met**');
  });

  it('judges each goal of the issue', () => {
    const all = goals(figures, chain);
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
    expect(all.find((g) => g.figure === 'appendP99Ms')?.note).toBe('the bare route at the same load: 8.3 ms');
    expect(all.find((g) => g.figure === 'sealMsByChainLength')?.note).toBe('25% apart; raw medians 40% apart at 16 bits; without proof-of-work 3% (best rounds 4%)');
    expect(chainSpread({ '100': 100, '10000': 90, '100000': 119 })).toBeCloseTo(0.19);
    expect(chainSpread({ '100': null, '10000': 90, '100000': 119 })).toBeNull();
  });

  it('estimates the seal time as its work plus the expected mining time at one rate for all lengths', () => {
    // Work (sealMs − powMs): 30, 29, 32 → 30 | 31, 32, 31 → 31 | 32, 29, 34 → 32. The 10⁵ chain's
    // seals mined at 1,024 hashes/ms, the others' at 2,048: the run's one rate is Σ hashes ÷ Σ ms =
    // 655,360 ÷ 372 ms, so 2^16 hashes take 65,536 × 372 ÷ 655,360 = 37.2 ms.
    const r = (sealMs: number, powMs: number, hashes: number): SealRound => ({ sealMs, powMs, hashes });
    const est = chainEstimate(
      {
        '100': [r(62, 32, 65_536), r(93, 64, 131_072), r(40, 8, 16_384)],
        '10000': [r(35, 4, 8_192), r(160, 128, 262_144), r(63, 32, 65_536)],
        '100000': [r(96, 64, 65_536), r(61, 32, 32_768), r(42, 8, 8_192)],
      },
      16,
    );
    expect(est.hashesPerSec).toBeCloseTo(655_360 / 0.372, 3);
    expect(est.expectedPowMs).toBeCloseTo(37.2, 9);
    expect(est.workMs).toEqual({ '100': 30, '10000': 31, '100000': 32 });
    expect(est.sealMs['100']).toBeCloseTo(67.2, 9);
    expect(est.sealMs['10000']).toBeCloseTo(68.2, 9);
    expect(est.sealMs['100000']).toBeCloseTo(69.2, 9); // its own rate would have said 32 + 64 = 96
    // Without proof-of-work nothing is mined: the figure is the work alone.
    const flat = chainEstimate({ '100': [r(30, 0.01, 0), r(31, 0.01, 0)] }, 0);
    expect(flat.expectedPowMs).toBe(0);
    expect(flat.sealMs['100']).toBeCloseTo(30.49, 9);
    // Nothing measured: no figure.
    expect(chainEstimate({ '100': [] }, 16)).toEqual({ sealMs: { '100': null }, workMs: { '100': null }, expectedPowMs: null, hashesPerSec: null });
  });

  it('prints one table row per figure', () => {
    const table = markdownTable(figures, chain);
    expect(table.split('\n')).toHaveLength(2 + 10);
    expect(table).toContain('| `appendP99Ms` | 20.0 ms | ≤ 25 ms | **met** (the bare route at the same load: 8.3 ms) |');
    expect(table).toContain('| `ceilingP99Ms` | 8.3 ms | — |  |');
    expect(table).toContain('| `verifyBundleLinksPerSec` | not available |');
    expect(table).toContain('| 100 / 110 / 125 ms (seal work + expected mining at 16 bits; raw medians 50.0 / 52.0 / 70.0 ms) | within 20% from 10² to 10⁵ | **not met** (25% apart;');
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

describe("the open loop's HTTP reader", () => {
  const replies = [
    'HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"created":1}',
    'HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 2\r\nx-a: b\r\n\r\n{}',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n',
    'HTTP/1.1 204 No Content\r\n\r\n',
  ];
  const stream = Buffer.from(replies.join(''), 'latin1');

  it('reads each response whole, however the bytes are split', () => {
    for (const size of [1, 2, 3, 7, 16, 64, stream.length]) {
      const statuses: number[] = [];
      const reader = new ReplyReader((r) => statuses.push(r.status));
      for (let at = 0; at < stream.length; at += size) reader.push(stream.subarray(at, at + size));
      expect(statuses, `chunks of ${size}`).toEqual([201, 422, 200, 204]);
    }
  });

  it('waits for the whole body', () => {
    const statuses: number[] = [];
    const reader = new ReplyReader((r) => statuses.push(r.status));
    reader.push(Buffer.from(replies[0]!.slice(0, -1), 'latin1'));
    expect(statuses).toEqual([]);
    reader.push(Buffer.from('}', 'latin1'));
    expect(statuses).toEqual([201]);
  });

  it('refuses what is not HTTP/1.1', () => {
    const reader = new ReplyReader(() => {});
    expect(() => reader.push(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'))).toThrow(/not an HTTP\/1.1 response/);
  });
});

describe("the service's tail from its /metrics", () => {
  it('reads the series the service exports: group calls, their links, over 10 and 25 ms, block commits', async () => {
    const app = Fastify();
    const m = metricsPlugin(app);
    m.observer.appendGroup(1, 0.002); // before: not counted
    const before = parseMetrics(await m.registry.metrics());
    for (const [links, seconds] of [[1, 0.0009], [3, 0.004], [8, 0.012], [20, 0.03]] as const) m.observer.appendGroup(links, seconds);
    m.blockCommitted(0.04);
    m.blockCommitted(0.02);
    const t = serviceTail(before, parseMetrics(await m.registry.metrics()));
    expect(t.groupCalls).toBe(4);
    expect(t.linksPerCall).toBe(8);
    expect(t.groupMeanMs).toBeCloseTo((0.9 + 4 + 12 + 30) / 4, 6);
    expect(t.groupCallsOver10Ms).toBe(2);
    expect(t.groupCallsOver25Ms).toBe(1);
    expect(t.blockCommits).toBe(2);
    expect(t.blockCommitMeanMs).toBeCloseTo(30, 6);
    expect(t.gcPausesOver10Ms).toBeLessThanOrEqual(t.gcPauses);
    await app.close();
  });

  it('sums GC pauses over kinds whatever the label order, and takes the event-loop delay as of the second scrape', () => {
    const before = parseMetrics(
      [
        '# HELP nodejs_gc_duration_seconds Garbage collection duration by kind',
        'nodejs_gc_duration_seconds_bucket{le="0.01",kind="minor"} 10',
        'nodejs_gc_duration_seconds_count{kind="minor"} 10',
        'nodejs_gc_duration_seconds_sum{kind="minor"} 0.02',
        'nodejs_eventloop_lag_p99_seconds 0.5',
      ].join('\n'),
    );
    const after = parseMetrics(
      [
        'nodejs_gc_duration_seconds_bucket{kind="minor",le="0.01"} 14',
        'nodejs_gc_duration_seconds_count{kind="minor"} 15',
        'nodejs_gc_duration_seconds_sum{kind="minor"} 0.1',
        'nodejs_gc_duration_seconds_bucket{le="0.01",kind="major"} 0',
        'nodejs_gc_duration_seconds_count{kind="major"} 1',
        'nodejs_gc_duration_seconds_sum{kind="major"} 0.03',
        'nodejs_eventloop_lag_p99_seconds 0.012',
        'nodejs_eventloop_lag_max_seconds 0.034',
        'not a series line',
      ].join('\n'),
    );
    const t = serviceTail(before, after);
    expect(t.gcPauses).toBe(6);
    expect(t.gcMs).toBeCloseTo(110, 6);
    expect(t.gcPausesOver10Ms).toBe(2);
    expect(t.eventLoopDelayP99Ms).toBeCloseTo(12, 6);
    expect(t.eventLoopDelayMaxMs).toBeCloseTo(34, 6);
    expect(t.groupCalls).toBe(0);
    expect(t.linksPerCall).toBe(0);
    expect(tailLine(t)).toBe(
      '0 group calls of 0.0 links (mean 0.0 ms; 0 over 10 ms, 0 over 25 ms); 0 block commits (mean 0.0 ms); GC 6 pauses, 110.0 ms in all, 2 over 10 ms; event-loop delay p99 12.0 ms, max 34.0 ms',
    );
  });

  it('a scrape that fails gives its reason, and the report says the figures are not available', async () => {
    const server = createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const refused = await scrapeMetrics(url);
    await new Promise((resolve) => server.close(resolve));
    expect(refused).toBe('GET /metrics answered 503');
    const gone = await scrapeMetrics(url); // nobody listens any more
    expect(gone).toMatch(/^GET \/metrics failed: /);
    const t = serviceTail(parseMetrics('pop_append_group_seconds_count 1'), gone);
    expect(t).toBe(gone);
    expect(tailLine(t)).toBe(`not available (${gone as string})`);
  });
});

// What the service itself saw during a latency phase, read from its /metrics before and after: the
// database calls that stored the single appends (src/ledger/links.ts groups them), the sealer's
// block commits, garbage-collection pauses and the event loop's delay. Printed beside appendP99Ms,
// so that a run's tail can be read against what made it, not only against the bare route's.

/** A /metrics text as series → value; each key is the name with its labels sorted (`name{a="1",b="2"}`). */
export type Scrape = Map<string, number>;

/** The series of a Prometheus text exposition (comments and malformed lines skipped). */
export function parseMetrics(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels = [...(m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}="${l[2]}"`).sort();
    const value = Number(m[3]);
    if (Number.isNaN(value)) continue;
    out.set(labels.length ? `${m[1]}{${labels.join(',')}}` : m[1]!, value);
  }
  return out;
}

/** The service's /metrics, or why it could not be read (10 s at most: a figure is not worth a stuck run). */
export async function scrapeMetrics(baseUrl: string): Promise<Scrape | string> {
  try {
    const res = await fetch(new URL('/metrics', baseUrl), { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return `GET /metrics answered ${res.status}`;
    return parseMetrics(await res.text());
  } catch (e) {
    return `GET /metrics failed: ${(e as Error).message}`;
  }
}

export interface ServiceTail {
  /** pop_append_group_*: the database calls that stored single appends. */
  groupCalls: number;
  linksPerCall: number;
  groupMeanMs: number;
  groupCallsOver10Ms: number;
  groupCallsOver25Ms: number;
  /** pop_block_commit_seconds: the blocks this server committed. */
  blockCommits: number;
  blockCommitMeanMs: number;
  /** nodejs_gc_duration_seconds, every kind. */
  gcPauses: number;
  gcMs: number;
  gcPausesOver10Ms: number;
  /** nodejs_eventloop_lag_*: since the scrape before (prom-client resets its histogram at each scrape). */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
}

/** The differences between two scrapes of one service, the event loop's delay as of the second; a scrape that failed gives its reason. */
export function serviceTail(before: Scrape, after: Scrape): ServiceTail;
export function serviceTail(before: Scrape | string, after: Scrape | string): ServiceTail | string;
export function serviceTail(before: Scrape | string, after: Scrape | string): ServiceTail | string {
  if (typeof before === 'string') return before;
  if (typeof after === 'string') return after;
  const d = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  // Every GC kind's series, summed (minor, major, incremental, weakcb).
  const gc = (suffix: string, le?: string) => {
    let total = 0;
    for (const key of after.keys()) {
      if (!key.startsWith(`nodejs_gc_duration_seconds_${suffix}{`)) continue;
      if (le !== undefined && !key.includes(`le="${le}"`)) continue;
      total += d(key);
    }
    return total;
  };
  const groupCalls = d('pop_append_group_seconds_count');
  const blockCommits = d('pop_block_commit_seconds_count');
  const gcPauses = gc('count');
  return {
    groupCalls,
    linksPerCall: groupCalls ? d('pop_append_group_links_sum') / groupCalls : 0,
    groupMeanMs: groupCalls ? (d('pop_append_group_seconds_sum') * 1000) / groupCalls : 0,
    groupCallsOver10Ms: groupCalls - d('pop_append_group_seconds_bucket{le="0.01"}'),
    groupCallsOver25Ms: groupCalls - d('pop_append_group_seconds_bucket{le="0.025"}'),
    blockCommits,
    blockCommitMeanMs: blockCommits ? (d('pop_block_commit_seconds_sum') * 1000) / blockCommits : 0,
    gcPauses,
    gcMs: gc('sum') * 1000,
    gcPausesOver10Ms: gcPauses - gc('bucket', '0.01'),
    eventLoopDelayP99Ms: (after.get('nodejs_eventloop_lag_p99_seconds') ?? 0) * 1000,
    eventLoopDelayMaxMs: (after.get('nodejs_eventloop_lag_max_seconds') ?? 0) * 1000,
  };
}

/** One line for the report. */
export function tailLine(t: ServiceTail | string): string {
  if (typeof t === 'string') return `not available (${t})`;
  const ms = (x: number) => x.toFixed(1);
  return (
    `${t.groupCalls} group calls of ${t.linksPerCall.toFixed(1)} links (mean ${ms(t.groupMeanMs)} ms; ${t.groupCallsOver10Ms} over 10 ms, ${t.groupCallsOver25Ms} over 25 ms); ` +
    `${t.blockCommits} block commits (mean ${ms(t.blockCommitMeanMs)} ms); ` +
    `GC ${t.gcPauses} pauses, ${ms(t.gcMs)} ms in all, ${t.gcPausesOver10Ms} over 10 ms; ` +
    `event-loop delay p99 ${ms(t.eventLoopDelayP99Ms)} ms, max ${ms(t.eventLoopDelayMaxMs)} ms`
  );
}

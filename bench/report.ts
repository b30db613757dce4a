// The issue's figures, its goals beside them, and the markdown table that docs/performance.md keeps.
export const CHAIN_LENGTHS = [100, 10_000, 100_000] as const;

export type Unavailable = 'not available';

export interface Figures {
  ceilingPerSec: number;
  appendPerSec: number;
  batchAppendPerSec: number;
  appendP99Ms: number;
  /** The bare route's p99 at the same offered load (half the ceiling), same open loop: no goal. */
  ceilingP99Ms: number;
  sealP99Ms: number;
  proofFetchPerSec: number;
  verifyBundleLinksPerSec: number | Unavailable | null;
  /** Per chain length: the seal's own work plus the expected mining time (chainEstimate). */
  sealMsByChainLength: Record<string, number | null>;
  powHashesPerSec: number;
}

export interface Goal {
  figure: keyof Figures;
  goal: string;
  met: boolean | null;
  note?: string;
}

/** One timed seal: the whole sealOnce(), the part of it spent mining, and the hashes tried. */
export interface SealRound {
  sealMs: number;
  powMs: number;
  hashes: number;
}

export interface ChainEstimate {
  /** Per chain length: median over rounds of (sealMs − powMs), plus expectedPowMs. */
  sealMs: Record<string, number | null>;
  /** Per chain length: median over rounds of (sealMs − powMs), the seal without its mining. */
  workMs: Record<string, number | null>;
  /** Mean mining time at the difficulty: 2^bits hashes at hashesPerSec. */
  expectedPowMs: number | null;
  /** Σ hashes ÷ Σ mining time over every seal of every chain length: one rate, so it favours none. */
  hashesPerSec: number | null;
}

/** What the chain row shows beside its figure: the raw medians, and the seals without proof-of-work. */
export interface ChainContext {
  powBits: number;
  medianMs: Record<string, number | null>;
  medianMsNoPow: Record<string, number | null>;
  /** Best round without proof-of-work (the machine's noise only ever adds time). */
  minMsNoPow: Record<string, number | null>;
}

export const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * The seal time with mining's luck taken out. Mining takes a geometric number of hashes (mean 2^bits,
 * p95 ≈ 3× the mean) whatever the chain's length, so each seal's own draw is noise on a comparison
 * between lengths; its expectation is not. The rest of each seal is measured as it ran.
 */
export function chainEstimate(byLength: Record<string, SealRound[]>, bits: number): ChainEstimate {
  const all = Object.values(byLength).flat();
  const hashes = all.reduce((n, r) => n + r.hashes, 0);
  const powMs = all.reduce((n, r) => n + r.powMs, 0);
  const hashesPerSec = hashes > 0 && powMs > 0 ? hashes / (powMs / 1000) : null;
  const expectedPowMs = bits === 0 ? 0 : hashesPerSec === null ? null : (2 ** bits / hashesPerSec) * 1000;
  const workMs: Record<string, number | null> = {};
  const sealMs: Record<string, number | null> = {};
  for (const [n, rounds] of Object.entries(byLength)) {
    const work = median(rounds.map((r) => r.sealMs - r.powMs));
    workMs[n] = work;
    sealMs[n] = work === null || expectedPowMs === null ? null : work + expectedPowMs;
  }
  return { sealMs, workMs, expectedPowMs, hashesPerSec };
}

/** Largest relative difference of the longer chains' seal times from the 10² one. */
export function chainSpread(byLength: Record<string, number | null>): number | null {
  const base = byLength[String(CHAIN_LENGTHS[0])];
  const others = CHAIN_LENGTHS.slice(1).map((n) => byLength[String(n)]);
  if (base === null || base === undefined || others.some((v) => v === null || v === undefined)) return null;
  return Math.max(...others.map((v) => Math.abs(v! - base) / base));
}

export function goals(f: Figures, chain: ChainContext): Goal[] {
  const spread = chainSpread(f.sealMsByChainLength);
  const verify = f.verifyBundleLinksPerSec;
  return [
    { figure: 'appendPerSec', goal: '≥ 80% of ceilingPerSec', met: f.appendPerSec >= 0.8 * f.ceilingPerSec, note: `${((100 * f.appendPerSec) / f.ceilingPerSec).toFixed(0)}% of the ceiling` },
    { figure: 'batchAppendPerSec', goal: '≥ 4,000 links/s', met: f.batchAppendPerSec >= 4000 },
    { figure: 'appendP99Ms', goal: '≤ 25 ms', met: f.appendP99Ms <= 25, note: `the bare route at the same load: ${ms(f.ceilingP99Ms)} ms` },
    { figure: 'sealP99Ms', goal: '≤ 2,000 ms', met: f.sealP99Ms <= 2000 },
    { figure: 'proofFetchPerSec', goal: '≥ 3,000 /s', met: f.proofFetchPerSec >= 3000 },
    { figure: 'verifyBundleLinksPerSec', goal: '≥ 3,000 links/s', met: typeof verify === 'number' ? verify >= 3000 : null, ...(typeof verify === 'number' ? {} : { note: 'pop verify cannot check bundles yet' }) },
    {
      // Judged on the seal's work plus the expected mining time (chainEstimate): the raw medians
      // carry the luck of each block's mining, which does not depend on the chain.
      figure: 'sealMsByChainLength',
      goal: 'within 20% from 10² to 10⁵',
      met: spread === null ? null : spread <= 0.2,
      note:
        `${pct(spread)} apart; raw medians ${pct(chainSpread(chain.medianMs))} apart at ${chain.powBits} bits; ` +
        `without proof-of-work ${pct(chainSpread(chain.medianMsNoPow))} (best rounds ${pct(chainSpread(chain.minMsNoPow))})`,
    },
  ];
}

const pct = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(0)}%`);
const int = (n: number) => Math.round(n).toLocaleString('en');
const ms = (n: number) => (n < 100 ? n.toFixed(1) : int(n));

const byLength = (xs: Record<string, number | null>) =>
  CHAIN_LENGTHS.map((n) => {
    const v = xs[String(n)];
    return v === null || v === undefined ? '—' : ms(v);
  }).join(' / ');

function value(f: Figures, key: keyof Figures, chain: ChainContext): string {
  switch (key) {
    case 'ceilingPerSec':
    case 'appendPerSec':
    case 'proofFetchPerSec':
      return `${int(f[key])} /s`;
    case 'batchAppendPerSec':
      return `${int(f[key])} links/s`;
    case 'appendP99Ms':
    case 'ceilingP99Ms':
    case 'sealP99Ms':
      return `${ms(f[key])} ms`;
    case 'verifyBundleLinksPerSec': {
      const v = f[key];
      return typeof v === 'number' ? `${int(v)} links/s` : (v ?? 'failed');
    }
    case 'sealMsByChainLength':
      return `${byLength(f.sealMsByChainLength)} ms (seal work + expected mining at ${chain.powBits} bits; raw medians ${byLength(chain.medianMs)} ms)`;
    case 'powHashesPerSec':
      return `${(f[key] / 1e6).toFixed(2)} M/s`;
  }
}

const verdict = (g: Goal | undefined) => (!g ? '' : g.met === null ? 'not measured' : g.met ? '**met**' : '**not met**');

export function markdownTable(f: Figures, chain: ChainContext): string {
  const gs = goals(f, chain);
  const rows: string[] = ['| figure | value | goal | verdict |', '|---|---:|---|---|'];
  const order: (keyof Figures)[] = ['ceilingPerSec', 'appendPerSec', 'batchAppendPerSec', 'appendP99Ms', 'ceilingP99Ms', 'sealP99Ms', 'proofFetchPerSec', 'verifyBundleLinksPerSec', 'sealMsByChainLength', 'powHashesPerSec'];
  for (const key of order) {
    const g = gs.find((x) => x.figure === key);
    const label = key === 'sealMsByChainLength' ? 'sealMsByChainLength (10² / 10⁴ / 10⁵ blocks)' : key;
    rows.push(`| \`${label}\` | ${value(f, key, chain)} | ${g?.goal ?? '—'} | ${verdict(g)}${g?.note ? ` (${g.note})` : ''} |`);
  }
  return rows.join('\n');
}

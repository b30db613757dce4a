// The issue's figures, its goals beside them, and the markdown table that docs/performance.md keeps.
export const CHAIN_LENGTHS = [100, 10_000, 100_000] as const;

export type Unavailable = 'not available';

export interface Figures {
  ceilingPerSec: number;
  appendPerSec: number;
  batchAppendPerSec: number;
  appendP99Ms: number;
  sealP99Ms: number;
  proofFetchPerSec: number;
  verifyBundleLinksPerSec: number | Unavailable | null;
  sealMsByChainLength: Record<string, number | null>;
  powHashesPerSec: number;
}

export interface Goal {
  figure: keyof Figures;
  goal: string;
  met: boolean | null;
  /** sealMsByChainLength only: the verdict on the seal time without proof-of-work. */
  metWithoutPow?: boolean | null;
  note?: string;
}

/** Largest relative difference of the longer chains' seal times from the 10² one. */
export function chainSpread(byLength: Record<string, number | null>): number | null {
  const base = byLength[String(CHAIN_LENGTHS[0])];
  const others = CHAIN_LENGTHS.slice(1).map((n) => byLength[String(n)]);
  if (base === null || base === undefined || others.some((v) => v === null || v === undefined)) return null;
  return Math.max(...others.map((v) => Math.abs(v! - base) / base));
}

export function goals(f: Figures, noPowSpread: number | null, bestNoPowSpread: number | null): Goal[] {
  const spread = chainSpread(f.sealMsByChainLength);
  const verify = f.verifyBundleLinksPerSec;
  return [
    { figure: 'appendPerSec', goal: '≥ 80% of ceilingPerSec', met: f.appendPerSec >= 0.8 * f.ceilingPerSec, note: `${((100 * f.appendPerSec) / f.ceilingPerSec).toFixed(0)}% of the ceiling` },
    { figure: 'batchAppendPerSec', goal: '≥ 4,000 links/s', met: f.batchAppendPerSec >= 4000 },
    { figure: 'appendP99Ms', goal: '≤ 25 ms', met: f.appendP99Ms <= 25 },
    { figure: 'sealP99Ms', goal: '≤ 2,000 ms', met: f.sealP99Ms <= 2000 },
    { figure: 'proofFetchPerSec', goal: '≥ 3,000 /s', met: f.proofFetchPerSec >= 3000 },
    { figure: 'verifyBundleLinksPerSec', goal: '≥ 3,000 links/s', met: typeof verify === 'number' ? verify >= 3000 : null, ...(typeof verify === 'number' ? {} : { note: 'pop verify cannot check bundles yet' }) },
    {
      // Proof-of-work time is geometric per block and does not depend on the chain, so the medians
      // at 16 bits carry its noise; the PoW-free time is the part that could grow with the chain.
      figure: 'sealMsByChainLength',
      goal: 'within 20% from 10² to 10⁵',
      met: spread === null ? null : spread <= 0.2,
      metWithoutPow: noPowSpread === null ? null : noPowSpread <= 0.2,
      note: `medians ${pct(spread)} apart at 16 bits; without proof-of-work ${pct(noPowSpread)} (best rounds ${pct(bestNoPowSpread)})`,
    },
  ];
}

const pct = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(0)}%`);
const int = (n: number) => Math.round(n).toLocaleString('en');
const ms = (n: number) => (n < 100 ? n.toFixed(1) : int(n));

function value(f: Figures, key: keyof Figures): string {
  switch (key) {
    case 'ceilingPerSec':
    case 'appendPerSec':
    case 'proofFetchPerSec':
      return `${int(f[key])} /s`;
    case 'batchAppendPerSec':
      return `${int(f[key])} links/s`;
    case 'appendP99Ms':
    case 'sealP99Ms':
      return `${ms(f[key])} ms`;
    case 'verifyBundleLinksPerSec': {
      const v = f[key];
      return typeof v === 'number' ? `${int(v)} links/s` : (v ?? 'failed');
    }
    case 'sealMsByChainLength':
      return CHAIN_LENGTHS.map((n) => {
        const v = f.sealMsByChainLength[String(n)];
        return `${v === null || v === undefined ? '—' : ms(v)}`;
      }).join(' / ') + ' ms';
    case 'powHashesPerSec':
      return `${(f[key] / 1e6).toFixed(2)} M/s`;
  }
}

const word = (met: boolean | null | undefined) => (met === null || met === undefined ? 'not measured' : met ? '**met**' : '**not met**');
const verdict = (g: Goal | undefined) =>
  !g ? '' : g.metWithoutPow === undefined ? word(g.met) : `${word(g.met)} at 16 bits, ${word(g.metWithoutPow)} without proof-of-work`;

export function markdownTable(f: Figures, noPowSpread: number | null, bestNoPowSpread: number | null): string {
  const gs = goals(f, noPowSpread, bestNoPowSpread);
  const rows: string[] = ['| figure | value | goal | verdict |', '|---|---:|---|---|'];
  const order: (keyof Figures)[] = ['ceilingPerSec', 'appendPerSec', 'batchAppendPerSec', 'appendP99Ms', 'sealP99Ms', 'proofFetchPerSec', 'verifyBundleLinksPerSec', 'sealMsByChainLength', 'powHashesPerSec'];
  for (const key of order) {
    const g = gs.find((x) => x.figure === key);
    const label = key === 'sealMsByChainLength' ? 'sealMsByChainLength (10² / 10⁴ / 10⁵ blocks)' : key;
    rows.push(`| \`${label}\` | ${value(f, key)} | ${g?.goal ?? '—'} | ${verdict(g)}${g?.note ? ` (${g.note})` : ''} |`);
  }
  return rows.join('\n');
}

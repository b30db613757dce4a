// The throughput chart: links accepted per bucket over the last minutes, as plain SVG bars with a
// light grid. Scales by viewBox, so it fits any card width.
import { num } from './dom.js';
import { s } from './dom.js';

const W = 720;
const H = 200;
const PAD = { top: 12, right: 8, bottom: 26, left: 40 };

/** A whole-number grid step giving about four intervals: 1, 2, 5 × 10^n. */
function niceStep(max: number): number {
  const raw = Math.max(1, max) / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  return Math.max(1, [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw)!);
}

export function throughputChart(buckets: number[], bucketSeconds: number): SVGSVGElement {
  const total = buckets.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...buckets);
  const step = niceStep(peak);
  const top = step * Math.max(1, Math.ceil(peak / step));
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const bw = iw / buckets.length;
  const y = (v: number) => PAD.top + ih - (v / top) * ih;
  const minutes = (buckets.length * bucketSeconds) / 60;
  const label = `Links accepted per ${bucketSeconds} seconds over the last ${minutes} minutes: ${num(total)} in all, at most ${num(peak)} in one interval.`;

  const grid = Array.from({ length: top / step + 1 }, (_, i) => {
    const v = i * step;
    return s('g', { class: 'chart-grid' },
      s('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
      s('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, num(v)),
    );
  });
  const bars = buckets.map((v, i) =>
    v > 0
      ? s('rect', { class: 'chart-bar', x: PAD.left + i * bw + 1, y: y(v), width: Math.max(1, bw - 2), height: Math.max(1, PAD.top + ih - y(v)), rx: 1.5 },
          s('title', null, `${num(v)} link${v === 1 ? '' : 's'}, ${Math.round(((buckets.length - i) * bucketSeconds) / 60 * 10) / 10} min ago`))
      : null,
  );
  const ticks = [0, 0.5, 1].map((f) => {
    const x = PAD.left + f * iw;
    const text = f === 1 ? 'now' : `−${Math.round(minutes * (1 - f))} min`;
    return s('text', { class: 'chart-axis', x, y: H - 8, 'text-anchor': f === 0 ? 'start' : f === 1 ? 'end' : 'middle' }, text);
  });
  return s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, id: 'throughput-chart' },
    s('title', null, label),
    grid,
    s('line', { class: 'chart-baseline', x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0) }),
    bars,
    ticks,
  );
}

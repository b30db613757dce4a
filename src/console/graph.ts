// A process version's step graph as an SVG diagram: steps in columns by their longest path from a
// start (a layered layout, Sugiyama-style, with one barycentre pass to reduce crossings), arrows for
// the allowed transitions, the author roles on each step, its co-signing roles, and final steps
// marked. Small graphs (tens of steps) only: that is what process definitions are.
import type { ProcessDef } from './api.js';
import { s } from './dom.js';

const NODE_W = 164;
const NODE_H = 66;
const COL_GAP = 46;
const ROW_GAP = 22;
const START_R = 9;
const PAD = 14;

const PALETTE = ['#3b5bdb', '#0c8599', '#e8590c', '#7048e8', '#2b8a3e', '#c2255c', '#5c7cfa', '#d9480f'];

export function roleColors(roles: string[]): Map<string, string> {
  return new Map(roles.map((r, i) => [r, PALETTE[i % PALETTE.length]!]));
}

const clip = (text: string, n: number) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

export function layers(def: ProcessDef): Map<string, number> {
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (name: string): number => {
    const known = layer.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) return -1; // a cycle: the back edge does not push the layer
    visiting.add(name);
    const after = def.steps[name]?.after ?? [];
    const l = after.length === 0 ? 0 : 1 + Math.max(...after.filter((a) => a in def.steps).map(visit), -1);
    visiting.delete(name);
    layer.set(name, l);
    return l;
  };
  for (const name of Object.keys(def.steps)) visit(name);
  return layer;
}

/** Steps in reading order: by layer, then steps that continue the flow before final ones, then name. */
export function orderedSteps(def: ProcessDef): string[] {
  const layer = layers(def);
  return Object.keys(def.steps).sort((a, b) =>
    layer.get(a)! - layer.get(b)! || Number(def.steps[a]!.final === true) - Number(def.steps[b]!.final === true) || a.localeCompare(b));
}

export function stepGraph(def: ProcessDef): SVGSVGElement {
  // (PostgreSQL's jsonb does not keep member order, so the definition's own order is not used.)
  const names = orderedSteps(def);
  const layer = layers(def);
  const columns: string[][] = [];
  for (const n of names) (columns[layer.get(n)!] ??= []).push(n);
  // One barycentre pass: order each column by the mean row of its predecessors; rows fill from the
  // top, so the main path runs straight along the first row and branches hang below it.
  const row = new Map<string, number>();
  columns.forEach((col, c) => {
    if (c > 0) {
      const bary = (n: string) => {
        const rows = def.steps[n]!.after.map((a) => row.get(a)).filter((r): r is number => r !== undefined);
        return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : 0;
      };
      col.sort((a, b) => bary(a) - bary(b) || names.indexOf(a) - names.indexOf(b));
    }
    col.forEach((n, i) => row.set(n, i));
  });
  const maxRows = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const startX = PAD + START_R;
  const x0 = startX + START_R + COL_GAP * 0.8;
  const top = PAD;
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) => col.forEach((n, i) => pos.set(n, { x: x0 + c * (NODE_W + COL_GAP), y: top + i * (NODE_H + ROW_GAP) })));
  const width = x0 + columns.length * (NODE_W + COL_GAP) - COL_GAP + PAD;
  const height = top + maxRows * (NODE_H + ROW_GAP) - ROW_GAP + PAD;
  const colors = roleColors(def.roles);
  const startY = top + NODE_H / 2;

  const edges: SVGElement[] = [];
  const edge = (x1: number, y1: number, x2: number, y2: number, back: boolean, label: string) => {
    // Forward edges bend within the gap after their source, then run level to the target, so an
    // edge that skips columns passes between rows rather than through the boxes in between.
    const bend = Math.min(x2 - 2, x1 + COL_GAP);
    const d = back
      ? `M${x1},${y1} C${x1 + 40},${y1 + NODE_H} ${x2 - 40},${y2 + NODE_H} ${x2},${y2}`
      : `M${x1},${y1} C${(x1 + bend) / 2},${y1} ${(x1 + bend) / 2},${y2} ${bend},${y2} L${x2 - 2},${y2}`;
    edges.push(s('path', { class: `graph-edge${back ? ' graph-edge-back' : ''}`, d, 'marker-end': 'url(#arrow)' }, s('title', null, label)));
  };
  for (const n of names) {
    const to = pos.get(n)!;
    const step = def.steps[n]!;
    if (step.after.length === 0) edge(startX + START_R, startY, to.x, to.y + NODE_H / 2, false, `a map starts with ${n}`);
    for (const a of step.after) {
      const from = pos.get(a);
      if (!from) continue;
      edge(from.x + NODE_W, from.y + NODE_H / 2, to.x, to.y + NODE_H / 2, layer.get(a)! >= layer.get(n)!, `${n} may follow ${a}`);
    }
  }

  const nodes = names.map((n) => {
    const p = pos.get(n)!;
    const step = def.steps[n]!;
    const authors = step.authors;
    const signers = step.signers;
    const title = `${n}${step.title ? `: ${step.title}` : ''}. Authored by ${authors.join(' or ')}${signers.length ? `; co-signed by ${signers.join(' and ')}` : ''}${step.final ? '; final step' : ''}.`;
    return s('g', { class: `graph-node${step.final ? ' is-final' : ''}`, transform: `translate(${p.x},${p.y})`, 'data-step': n },
      s('title', null, title),
      s('rect', { class: 'graph-box', width: NODE_W, height: NODE_H, rx: 8 }),
      s('rect', { class: 'graph-stripe', width: 4, height: NODE_H - 16, x: 0, y: 8, rx: 2, fill: colors.get(authors[0] ?? '') ?? '#868e96' }),
      s('text', { class: 'graph-name', x: 14, y: 22 }, clip(n, 20)),
      step.final ? s('text', { class: 'graph-final', x: NODE_W - 10, y: 22, 'text-anchor': 'end' }, 'final') : null,
      s('text', { class: 'graph-role', x: 14, y: 40 }, clip(`by ${authors.join(' / ')}`, 25)),
      signers.length ? s('text', { class: 'graph-signers', x: 14, y: 56 }, clip(`+ ${signers.join(', ')} signs`, 25)) : null,
    );
  });

  return s('svg', {
    class: 'graph',
    viewBox: `0 0 ${width} ${height}`,
    width,
    role: 'img',
    'aria-label': `Step graph of ${def.title ?? def.id}: ${names.length} steps. ${names.map((n) => `${n} follows ${def.steps[n]!.after.join(' or ') || 'the start'}`).join('; ')}.`,
    id: 'step-graph',
  },
    s('defs', null, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'graph-arrow' }))),
    s('text', { class: 'graph-caption', x: startX, y: startY + START_R + 14, 'text-anchor': 'middle' }, 'start'),
    s('circle', { class: 'graph-start', cx: startX, cy: startY, r: START_R }),
    edges,
    nodes,
  );
}

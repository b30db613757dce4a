// Processes: each process with its versions; a version's step graph, its steps, and its maps.
import { type MapSummary, type Page, type ProcessRecord, enc, get, q } from '../api.js';
import { clear, frag, h, num, short, time } from '../dom.js';
import { layers, orderedSteps, roleColors, stepGraph } from '../graph.js';
import type { PageContext } from '../router.js';
import { button, card, empty, errorPanel, loading, mono, pageHeader, table } from '../ui.js';

export async function processesPage({ main, signal }: PageContext): Promise<void> {
  main.append(pageHeader('Processes', 'Workflow definitions: the steps, who may author and co-sign each, and which step may follow which.'));
  const body = h('div', null, loading());
  main.append(body);
  try {
    const list = await get<Page<ProcessRecord>>('/v1/processes?limit=500');
    if (signal.aborted) return;
    if (list.items.length === 0) return clear(body, empty('No process is registered yet (or none in which you hold a role).'));
    clear(body, h('div', { class: 'process-grid' }, list.items.map((p) => {
      const d = p.definition;
      const steps = Object.keys(d.steps).length;
      return h('a', { class: 'card process-card', href: `#/processes/${enc(p.id)}` },
        h('div', { class: 'process-card-head' }, h('h2', null, d.title ?? p.id), h('span', { class: 'badge' }, `v${p.version}`)),
        h('p', { class: 'mono muted small' }, p.id),
        d.description ? h('p', { class: 'process-desc' }, d.description) : null,
        h('p', { class: 'process-flow' }, flow(d)),
        h('p', { class: 'process-meta' }, `${steps} step${steps === 1 ? '' : 's'} · ${d.roles.length} role${d.roles.length === 1 ? '' : 's'}${d.forks ? ' · forks allowed' : ''}`),
        h('ul', { class: 'roles' }, d.roles.map((r) => h('li', { class: 'role-chip' }, r))),
      );
    })));
  } catch (e) {
    if (!signal.aborted) clear(body, errorPanel(e));
  }
}

export async function processPage({ main, params, query, signal }: PageContext): Promise<void> {
  const id = params['id']!;
  const body = h('div', null, loading());
  main.append(body);
  try {
    const versions = (await get<{ items: ProcessRecord[] }>(`/v1/processes/${enc(id)}/versions`)).items;
    if (signal.aborted) return;
    const wanted = Number(query.get('version'));
    const current = versions.find((v) => v.version === wanted) ?? versions[versions.length - 1]!;
    const d = current.definition;
    const colors = roleColors(d.roles);

    const maps = h('div', null, loading());
    body.replaceWith(frag(
      pageHeader(d.title ?? id, [mono(id), ` · version ${current.version} of ${versions.length} · registered `, time(current.createdAt, true)]),
      h('nav', { class: 'tabs', 'aria-label': 'Versions' }, versions.map((v) =>
        h('a', { href: `#/processes/${enc(id)}?version=${v.version}`, 'aria-current': v.version === current.version ? 'page' : undefined }, `Version ${v.version}`),
      )),
      d.description ? h('p', { class: 'lead' }, d.description) : null,
      card('Step graph', [
        h('div', { class: 'graph-wrap' }, stepGraph(d)),
        h('ul', { class: 'legend', 'aria-label': 'Roles' }, d.roles.map((r) => h('li', null, h('span', { class: 'swatch', 'data-color': colors.get(r)! }), r))),
      ], { id: 'graph', aside: h('span', { class: 'muted small' }, `definition ${short(current.hash)}`) }),
      card('Steps', table(`Steps of ${id} version ${current.version}`, [
        { title: 'Step', cell: ([n, st]) => [h('strong', null, n), st.final ? h('span', { class: 'badge badge-final' }, 'final') : null] },
        { title: 'Title', cell: ([, st]) => st.title ?? '' },
        { title: 'Authored by', cell: ([, st]) => st.authors.join(' or ') },
        { title: 'Co-signed by', cell: ([, st]) => st.signers.join(', ') || h('span', { class: 'muted' }, '—') },
        { title: 'Follows', cell: ([, st]) => st.after.join(', ') || h('span', { class: 'muted' }, 'starts a map') },
        { title: 'Private fields', cell: ([, st]) => privateFields(st.private) },
      ], orderedSteps(d).map((n) => [n, d.steps[n]!] as const)), { id: 'steps' }),
      card('Maps', maps, { id: 'maps', aside: h('span', { class: 'muted small' }, 'each map is one run of the process') }),
    ));
    // Swatch colours are data, applied through the CSSOM (the CSP refuses style attributes).
    main.querySelectorAll<HTMLElement>('.swatch').forEach((sw) => (sw.style.background = sw.dataset['color'] ?? ''));
    await loadMaps(id, maps, signal);
  } catch (e) {
    if (!signal.aborted) clear(body, errorPanel(e));
  }
}

/** The main path through the steps, by layer: "order → confirm → produce → …". */
function flow(d: ProcessRecord['definition']): string {
  const seen = new Set<number>();
  const layer = layers(d);
  return orderedSteps(d).filter((n) => !seen.has(layer.get(n)!) && seen.add(layer.get(n)!)).join(' → ');
}

function privateFields(schema: unknown): string {
  const props = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props).join(', ') : '—';
}

async function loadMaps(process: string, into: HTMLElement, signal: AbortSignal): Promise<void> {
  const rows: MapSummary[] = [];
  const more = async (cursor?: string) => {
    const page = await get<Page<MapSummary>>(`/v1/maps${q({ process, limit: 50, cursor })}`);
    if (signal.aborted) return;
    rows.push(...page.items);
    clear(into,
      table(`Maps of ${process}`, [
        { title: 'Map', cell: (m) => h('a', { href: `#/maps/${enc(m.process)}/${enc(m.mapId)}` }, m.mapId) },
        { title: 'Links', cell: (m) => num(m.links), class: 'num' },
        { title: 'Started', cell: (m) => time(m.createdAt, true) },
        { title: 'Last step', cell: (m) => time(m.updatedAt, true) },
        { title: 'Head', cell: (m) => m.heads.map((hh) => h('a', { href: `#/links/${hh}`, class: 'hash', title: hh }, short(hh))) },
      ], rows, { empty: 'No map of this process yet.' }),
      page.next ? button('Load more maps', () => void more(page.next!)) : null,
    );
  };
  try {
    await more();
  } catch (e) {
    if (!signal.aborted) clear(into, errorPanel(e));
  }
}

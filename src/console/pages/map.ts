// A map as a timeline of its steps: who authored and who co-signed each, when, the block that seals
// it and when that block was anchored. Readers with bundle access can download the map's bundle or
// verify it here.
import { type Anchor, type LinkRecord, type MapSummary, type Page, type Participant, type ProcessRecord, enc, get, getText, session } from '../api.js';
import { coveringAnchor, recentAnchors } from '../chain.js';
import { type Child, clear, frag, h, num, time, when } from '../dom.js';
import type { PageContext } from '../router.js';
import { button, card, download, errorPanel, loading, pageHeader, pill } from '../ui.js';
import { verifyText } from '../verify/client.js';
import { renderOutcome } from '../verify/report.js';

type MapPage = MapSummary & Page<LinkRecord>;

export async function mapPage({ main, params, signal }: PageContext): Promise<void> {
  const process = params['process']!;
  const mapId = params['mapId']!;
  const body = h('div', null, loading());
  main.append(body);
  try {
    const [map, versions, participants, anchors] = await Promise.all([
      get<MapPage>(`/v1/maps/${enc(process)}/${enc(mapId)}?limit=500`),
      get<{ items: ProcessRecord[] }>(`/v1/processes/${enc(process)}/versions`),
      get<Page<Participant>>('/v1/participants?limit=500'),
      recentAnchors(),
    ]);
    if (signal.aborted) return;
    const names = new Map(participants.items.map((p) => [p.id, p.name]));
    const who = (id: string) => (names.has(id) ? `${names.get(id)}` : id);
    const stepTitle = (l: LinkRecord) => versions.items.find((v) => v.version === l.link.processVersion)?.definition.steps[l.link.step]?.title;
    const latest = versions.items[versions.items.length - 1];

    const canBundle = session.viewer !== null && session.viewer.role !== 'participant';
    const verifyOut = h('div', { class: 'verify-result', role: 'status', 'aria-live': 'polite' });
    const bundleUrl = `/v1/bundles?process=${enc(process)}&mapId=${enc(mapId)}`;
    const actions = canBundle
      ? [
          button('Download bundle', () => void getText(bundleUrl).then((t) => download(`${process}-${mapId}.bundle.json`, t), (e: unknown) => clear(verifyOut, errorPanel(e)))),
          button('Verify bundle here', () => {
            clear(verifyOut, h('p', { class: 'loading' }, 'Downloading the bundle, then verifying it in this browser…'));
            void getText(bundleUrl)
              .then((t) => verifyText(t))
              .then((o) => clear(verifyOut, renderOutcome(o, `${mapId} bundle`)), (e: unknown) => clear(verifyOut, errorPanel(e)));
          }, { kind: 'primary' }),
        ]
      : null;

    body.replaceWith(frag(
      pageHeader(['Map ', h('span', { class: 'mono-title' }, mapId)], [
        h('a', { href: `#/processes/${enc(process)}` }, latest?.definition.title ?? process),
        ` · ${num(map.links)} link${map.links === 1 ? '' : 's'} · started `, time(map.createdAt, true), ' · last step ', time(map.updatedAt, true),
      ], actions),
      verifyOut,
      h('ol', { class: 'step-strip', 'aria-label': 'Steps in order' }, map.items.map((l) => h('li', { class: `strip-${l.status}` }, l.link.step))),
      card('Timeline', h('ol', { class: 'timeline', id: 'timeline' }, map.items.map((l) => timelineItem(l, stepTitle(l), who, anchors))), { id: 'timeline-card' }),
      map.next ? h('p', { class: 'muted' }, 'This map has more than 500 links: the first 500 are shown.') : null,
    ));
  } catch (e) {
    if (!signal.aborted) clear(body, errorPanel(e));
  }
}

function timelineItem(l: LinkRecord, title: string | undefined, who: (id: string) => string, anchors: Anchor[]): HTMLElement {
  const link = l.link;
  const cosigners = l.signatures.map((s) => s.signer).filter((s) => s !== link.author);
  const anchor = l.block ? coveringAnchor(l.block.height, anchors) : undefined;
  const metaPairs = Object.entries(link.meta).slice(0, 6);
  const facts: Child[] = [
    h('span', null, 'created ', time(link.createdAt)),
    h('span', null, 'accepted ', time(l.receipt.acceptedAt)),
    l.block
      ? h('span', null, 'sealed in ', h('a', { href: `#/blocks/${l.block.height}` }, `block #${num(l.block.height)}`), ` (leaf ${l.block.leafIndex})`)
      : h('span', { class: 'muted' }, 'waiting to be sealed'),
    anchor
      ? h('span', null, anchor.status === 'confirmed' && anchor.bitcoinBlock
          ? ['anchored in Bitcoin ', anchor.network, ' block ', num(anchor.bitcoinBlock.height), anchor.confirmedAt ? [', confirmed ', h('time', { datetime: anchor.confirmedAt, title: when(anchor.confirmedAt) }, when(anchor.confirmedAt))] : null]
          : ['anchor broadcast on Bitcoin ', anchor.network, ', awaiting confirmation'])
      : null,
  ];
  return h('li', { class: `timeline-item is-${l.status}`, 'data-step': link.step },
    h('span', { class: 'timeline-dot', 'aria-hidden': 'true' }),
    h('div', { class: 'timeline-body' },
      h('div', { class: 'timeline-head' },
        h('h3', null, h('a', { href: `#/links/${l.linkHash}` }, title ?? link.step), h('span', { class: 'step-id' }, link.step)),
        pill(l.status),
      ),
      h('p', { class: 'timeline-who' },
        h('span', { class: 'role-chip' }, link.author), ` ${who(link.author)}`,
        cosigners.length ? [' · co-signed by ', cosigners.map((c, i) => [i ? ', ' : '', h('span', { class: 'role-chip' }, c), ` ${who(c)}`])] : null,
      ),
      h('p', { class: 'timeline-facts' }, facts.filter(Boolean).flatMap((f, i) => (i ? [h('span', { class: 'sep', 'aria-hidden': 'true' }, '·'), f] : [f]))),
      metaPairs.length ? h('dl', { class: 'meta-inline' }, metaPairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, typeof v === 'string' ? v : JSON.stringify(v))])) : null,
      link.digests.length ? h('p', { class: 'muted small' }, `${link.digests.length} private field${link.digests.length === 1 ? '' : 's'} (digests only)`) : null,
    ),
  );
}

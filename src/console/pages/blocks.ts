// Blocks: the chain newest first, and one block with its header fields, its links and its anchor
// evidence.
import { type Anchor, type Block, type Page, get, q } from '../api.js';
import { anchorCell, coveringAnchor, recentAnchors } from '../chain.js';
import { clear, frag, h, num, short, time, when } from '../dom.js';
import type { PageContext } from '../router.js';
import { button, card, dl, empty, errorPanel, hashLink, loading, mono, pageHeader, pill, table } from '../ui.js';

export async function blocksPage({ main, signal }: PageContext): Promise<void> {
  main.append(pageHeader('Blocks', 'Each block seals the links accepted since the last one in an RFC 6962 Merkle tree, chains to the block before it, carries proof of work and the notary\'s signature.'));
  const body = h('div', null, loading());
  main.append(card('Chain', body, { id: 'blocks' }));
  const rows: Block[] = [];
  let anchors: Anchor[] = [];
  const more = async (cursor?: string) => {
    const page = await get<Page<Block>>(`/v1/blocks${q({ limit: 25, cursor })}`);
    if (signal.aborted) return;
    rows.push(...page.items);
    clear(body,
      table('Blocks, newest first', [
        { title: 'Height', cell: (b: Block) => h('a', { href: `#/blocks/${b.height}` }, `#${num(b.height)}`) },
        { title: 'Hash', cell: (b) => hashLink(`#/blocks/${b.height}`, b.hash, 12) },
        { title: 'Links', cell: (b) => num(b.leafCount), class: 'num' },
        { title: 'Links root', cell: (b) => mono(short(b.linksRoot)) },
        { title: 'Work', cell: (b) => `${b.difficulty} bits` },
        { title: 'Sealed', cell: (b) => time(b.timestamp) },
        { title: 'Anchor', cell: (b) => anchorCell(b.height, anchors) },
      ], rows, { empty: 'No block has been sealed yet.' }),
      page.next ? h('div', { class: 'button-row' }, button('Older blocks', () => void more(page.next!))) : null,
    );
  };
  try {
    anchors = await recentAnchors();
    await more();
  } catch (e) {
    if (!signal.aborted) clear(body, errorPanel(e));
  }
}

export async function blockPage({ main, params, signal }: PageContext): Promise<void> {
  const height = Number(params['height']);
  const body = h('div', null, loading());
  main.append(body);
  try {
    if (!Number.isSafeInteger(height) || height < 0) throw new Error(`${params['height']} is not a block height`);
    const [b, links, anchors, tip] = await Promise.all([
      get<Block>(`/v1/blocks/${height}`),
      get<Page<string>>(`/v1/blocks/${height}/links?limit=200`),
      recentAnchors(),
      get<Block>('/v1/blocks/tip'),
    ]);
    if (signal.aborted) return;
    const own = anchors.find((a) => a.blockHeight === height);
    const covering = coveringAnchor(height, anchors);
    body.replaceWith(frag(
      pageHeader(`Block #${num(b.height)}`, ['sealed ', time(b.timestamp), ` · ${num(b.leafCount)} link${b.leafCount === 1 ? '' : 's'}`],
        h('div', { class: 'button-row' },
          b.height > 0 ? h('a', { class: 'btn btn-secondary', href: `#/blocks/${b.height - 1}` }, '← Previous') : null,
          b.height < tip.height ? h('a', { class: 'btn btn-secondary', href: `#/blocks/${b.height + 1}` }, 'Next →') : null,
        )),
      h('div', { class: 'grid grid-1-1' },
        card('Header', [
          dl([
            ['Height', num(b.height)],
            ['Hash', mono(b.hash, 'wrap')],
            ['Previous', b.height === 0 ? h('span', { class: 'muted' }, 'none: genesis') : h('a', { href: `#/blocks/${b.height - 1}`, class: 'hash mono wrap' }, b.prevHash)],
            ['Links root', mono(b.linksRoot, 'wrap')],
            ['Leaf count', num(b.leafCount)],
            ['History root', mono(b.historyRoot, 'wrap')],
            ['Timestamp', `${when(b.timestamp)} (${b.timestamp} ms)`],
            ['Difficulty', `${b.difficulty} leading zero bits`],
            ['Nonce', num(b.nonce)],
            ['Notary', [mono(b.notaryKeyId), h('div', null, mono(b.notarySig, 'wrap small'))]],
          ]),
          h('details', null, h('summary', null, 'Raw header (136 bytes, hex)'), mono(b.header, 'wrap block-code')),
        ], { id: 'header' }),
        h('div', { class: 'stack' },
          card('Anchor evidence', own || covering ? anchorDetails(own ?? covering!, height) : empty('Not anchored yet.'), { id: 'anchor' }),
          card(`Links (${num(b.leafCount)})`, [
            h('ol', { class: 'hash-list', start: 0 }, links.items.map((hh) => h('li', null, h('a', { href: `#/links/${hh}`, class: 'hash mono', title: hh }, short(hh, 16))))),
            links.next ? h('p', { class: 'muted' }, `The first ${links.items.length} are shown.`) : null,
          ], { id: 'links' }),
        ),
      ),
    ));
  } catch (e) {
    if (!signal.aborted) clear(body, errorPanel(e));
  }
}

export function anchorDetails(a: Anchor, height: number): HTMLElement {
  return h('div', null,
    a.blockHeight !== height ? h('p', { class: 'note' }, `Anchored through block #${a.blockHeight}: its history tree includes this block, so the anchor covers it.`) : null,
    dl([
      ['Status', pill(a.status)],
      ['Network', `Bitcoin ${a.network}`],
      ['Transaction', mono(a.txid, 'wrap')],
      ['Commits to', [h('a', { href: `#/blocks/${a.blockHeight}` }, `block #${num(a.blockHeight)}`), ' ', mono(short(a.blockHash))]],
      ['Bitcoin block', a.bitcoinBlock ? [`${num(a.bitcoinBlock.height)} `, mono(short(a.bitcoinBlock.hash, 10))] : h('span', { class: 'muted' }, 'not yet mined')],
      ['Fee', `${num(a.feeSats)} sat · ${num(a.vsize)} vB`],
      ['Broadcast', a.broadcastAt ? when(a.broadcastAt) : '—'],
      ['Confirmed', a.confirmedAt ? when(a.confirmedAt) : '—'],
    ]),
    a.detail ? h('p', { class: 'muted small' }, a.detail) : null,
  );
}

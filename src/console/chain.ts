// Reading anchors the way link statuses are defined: a block is confirmed when a confirmed anchor
// commits to it or to a later block (the history tree ties the two), anchored when only a broadcast
// one does.
import type { Anchor, AnchorStatus, Page } from './api.js';
import { get } from './api.js';
import { h, num, short, time } from './dom.js';
import { dl, mono, pill } from './ui.js';

export async function recentAnchors(limit = 200): Promise<Anchor[]> {
  return (await get<Page<Anchor>>(`/v1/anchors?limit=${limit}`)).items;
}

/** The earliest confirmed (else broadcast) anchor at or after `height`. */
export function coveringAnchor(height: number, anchors: Anchor[]): Anchor | undefined {
  const pick = (status: Anchor['status']) =>
    anchors.filter((a) => a.status === status && a.blockHeight >= height).sort((a, b) => a.blockHeight - b.blockHeight)[0];
  return pick('confirmed') ?? pick('broadcast');
}

export function anchorCell(height: number, anchors: Anchor[]): HTMLElement | string {
  const a = coveringAnchor(height, anchors);
  if (!a) return h('span', { class: 'muted' }, '—');
  return h('span', { title: `${a.network} tx ${a.txid}` }, pill(a.status === 'confirmed' ? 'confirmed' : 'anchored'), a.blockHeight !== height ? h('span', { class: 'muted small' }, ` via #${a.blockHeight}`) : null);
}

/** The anchorer's state: network, address, counts, last confirmed, in flight. */
export function anchorStatusBody(st: AnchorStatus): HTMLElement {
  if (!st.enabled) {
    return h('div', null, h('p', null, pill('off'), ' Anchoring is off on this service.'), h('p', { class: 'muted' }, 'Blocks are sealed and verifiable; start the service with POP_ANCHOR set to commit them to Bitcoin.'));
  }
  const last = st.lastConfirmed;
  const inFlight = st.inFlight;
  return h('div', null,
    dl([
      ['State', [pill(st.state), st.detail ? h('span', { class: 'muted small' }, ` ${st.detail}`) : null]],
      ['Network', h('span', { class: 'network' }, `Bitcoin ${st.network ?? '?'}`)],
      ['Address', st.address ? mono(short(st.address, 12)) : '—'],
      ['Anchors', Object.entries(st.counts).map(([k, v]) => `${num(v)} ${k}`).join(' · ') || 'none yet'],
      ['Last confirmed', last && last.bitcoinBlock
        ? [h('a', { href: `#/blocks/${last.blockHeight}` }, `block #${last.blockHeight}`), ` in Bitcoin block ${num(last.bitcoinBlock.height)}`, last.confirmedAt ? [' · ', time(last.confirmedAt, true)] : null]
        : h('span', { class: 'muted' }, 'none yet')],
      ['In flight', inFlight ? [h('a', { href: `#/blocks/${inFlight.blockHeight}` }, `block #${inFlight.blockHeight}`), ' ', pill(inFlight.status), ` tx ${short(inFlight.txid)}`] : h('span', { class: 'muted' }, 'nothing')],
    ]),
    st.network && st.network !== 'mainnet' ? h('p', { class: 'note' }, `${st.network} blocks can be mined cheaply: only a mainnet anchor carries real evidential weight.`) : null,
  );
}

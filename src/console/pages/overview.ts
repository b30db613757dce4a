// Overview: the chain's height, links by stage, throughput, the latest blocks, the anchorer's state
// and a feed of live events. Everything redraws when the event stream reports a change.
import { type AnchorStatus, type Block, type Page, type Stats, get } from '../api.js';
import { anchorCell, anchorStatusBody, recentAnchors } from '../chain.js';
import { throughputChart } from '../chart.js';
import { clear, h, num, short, time } from '../dom.js';
import { type LiveEvent, onEvent } from '../events.js';
import type { PageContext } from '../router.js';
import { card, errorPanel, hashLink, loading, pageHeader, stat, table } from '../ui.js';

const FEED_MAX = 12;

export async function overviewPage({ main, signal, onLeave }: PageContext): Promise<void> {
  const stats = h('div', { class: 'stats', id: 'overview-stats' }, loading());
  const chart = h('div', { class: 'chart-wrap' });
  const rate = h('span', { class: 'rate', id: 'throughput-rate' });
  const blocks = h('div', null, loading());
  const anchor = h('div', null, loading());
  const feed = h('ol', { class: 'feed', id: 'live-feed', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const feedEmpty = h('p', { class: 'empty' }, 'Waiting for events: links accepted, blocks sealed and anchors confirmed appear here as they happen.');

  main.append(
    pageHeader('Overview', 'The chain as it grows: links accepted, sealed into blocks, anchored in Bitcoin.'),
    stats,
    h('div', { class: 'grid grid-2-1' },
      card('Throughput', chart, { aside: rate, id: 'throughput' }),
      card('Anchoring', anchor, { id: 'anchoring' }),
    ),
    h('div', { class: 'grid grid-2-1' },
      card('Latest blocks', blocks, { aside: h('a', { href: '#/blocks' }, 'All blocks →'), id: 'latest-blocks' }),
      card('Live activity', [feedEmpty, feed], { id: 'activity' }),
    ),
  );

  async function refresh(): Promise<void> {
    try {
      const [s, b, st, anchors] = await Promise.all([
        get<Stats>('/v1/stats'),
        get<Page<Block>>('/v1/blocks?limit=8'),
        get<AnchorStatus>('/v1/anchors/status'),
        recentAnchors(50),
      ]);
      if (signal.aborted) return;
      const anchoredTotal = s.links.anchored + s.links.confirmed;
      clear(stats,
        stat('Chain height', s.chain.height === null ? '—' : `#${num(s.chain.height)}`,
          s.chain.timestamp === null ? 'no block sealed yet' : ['tip sealed ', time(s.chain.timestamp, true)], 'stat-height'),
        stat('Links accepted', num(s.links.total), s.links.accepted ? `${num(s.links.accepted)} waiting to be sealed` : 'all sealed', 'stat-accepted'),
        stat('Sealed', num(s.links.sealed), `in ${num(s.chain.blocks)} block${s.chain.blocks === 1 ? '' : 's'}`, 'stat-sealed'),
        stat('Anchored', num(anchoredTotal), st.enabled ? `${num(s.links.confirmed)} confirmed in Bitcoin` : 'anchoring is off', 'stat-anchored'),
      );
      const perSecond = s.links.total === 0 ? 0 : s.throughput.lastMinute / 60;
      rate.textContent = `${perSecond >= 10 ? num(Math.round(perSecond)) : perSecond.toFixed(perSecond ? 2 : 0)} links/s · last minute`;
      clear(chart, throughputChart(s.throughput.buckets, s.throughput.bucketSeconds),
        h('p', { class: 'chart-caption muted' }, `Links accepted per ${s.throughput.bucketSeconds} s, last ${(s.throughput.buckets.length * s.throughput.bucketSeconds) / 60} minutes.`));
      clear(blocks, table('Latest blocks', [
        { title: 'Height', cell: (r: Block) => h('a', { href: `#/blocks/${r.height}` }, `#${num(r.height)}`) },
        { title: 'Hash', cell: (r) => hashLink(`#/blocks/${r.height}`, r.hash, 10) },
        { title: 'Links', cell: (r) => num(r.leafCount), class: 'num' },
        { title: 'Sealed', cell: (r) => time(r.timestamp, true) },
        { title: 'Anchor', cell: (r) => anchorCell(r.height, anchors) },
      ], b.items, { empty: 'No block has been sealed yet.' }));
      clear(anchor, anchorStatusBody(st));
    } catch (e) {
      if (!signal.aborted) clear(stats, errorPanel(e));
    }
  }

  function describe(e: LiveEvent): [string, HTMLElement] {
    switch (e.type) {
      case 'link.accepted':
        return ['link', h('span', null, 'Link accepted: ', h('a', { href: `#/links/${e.linkHash}` }, `${e.step}`), ` by ${e.author} · `, h('a', { href: `#/maps/${e.process}/${encodeURIComponent(e.mapId)}` }, e.mapId))];
      case 'block.sealed':
        return ['block', h('span', null, 'Block ', h('a', { href: `#/blocks/${e.height}` }, `#${num(e.height)}`), ` sealed with ${num(e.leafCount)} link${e.leafCount === 1 ? '' : 's'} · `, h('code', { class: 'mono' }, short(e.hash)))];
      case 'anchor.confirmed':
        return ['anchor', h('span', null, 'Anchor confirmed: block ', h('a', { href: `#/blocks/${e.height}` }, `#${num(e.height)}`), ` in Bitcoin ${e.network} block ${num(e.bitcoinHeight)}`)];
    }
  }

  let timer = 0;
  const off = onEvent((e) => {
    const [kind, text] = describe(e);
    feedEmpty.remove();
    feed.prepend(h('li', { class: `feed-item feed-${kind}` }, h('span', { class: 'feed-dot', 'aria-hidden': 'true' }), text, h('span', { class: 'feed-time' }, time(Date.now(), false).textContent!.slice(11, 19))));
    while (feed.children.length > FEED_MAX) feed.lastElementChild!.remove();
    // Many events can arrive at once (a batch of links, then its block): redraw once for them all.
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void refresh(), 400);
  });
  // Relative times and the chart's window move on even when nothing happens.
  const tick = window.setInterval(() => void refresh(), 15_000);
  onLeave(() => {
    off();
    window.clearTimeout(timer);
    window.clearInterval(tick);
  });
  await refresh();
}

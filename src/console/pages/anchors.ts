// Anchors: the anchorer's state and every Bitcoin anchor, newest first.
import { type Anchor, type AnchorStatus, type Page, get, q } from '../api.js';
import { anchorStatusBody } from '../chain.js';
import { clear, h, num, short, time } from '../dom.js';
import type { PageContext } from '../router.js';
import { button, card, errorPanel, loading, mono, pageHeader, pill, table } from '../ui.js';

export async function anchorsPage({ main, signal }: PageContext): Promise<void> {
  main.append(pageHeader('Anchors', 'The chain\'s tip committed to Bitcoin in an OP_RETURN output; after enough confirmations the SPV evidence goes into proofs and bundles.'));
  const status = h('div', null, loading());
  const list = h('div', null, loading());
  main.append(h('div', { class: 'grid grid-1-2' }, card('Anchorer', status, { id: 'anchorer' }), card('Anchors', list, { id: 'anchor-list' })));
  try {
    const st = await get<AnchorStatus>('/v1/anchors/status');
    if (signal.aborted) return;
    clear(status, anchorStatusBody(st));
    const rows: Anchor[] = [];
    const more = async (cursor?: string) => {
      const page = await get<Page<Anchor>>(`/v1/anchors${q({ limit: 50, cursor })}`);
      if (signal.aborted) return;
      rows.push(...page.items);
      clear(list,
        table('Anchors, newest first', [
          { title: 'Block', cell: (a: Anchor) => h('a', { href: `#/blocks/${a.blockHeight}` }, `#${num(a.blockHeight)}`) },
          { title: 'Status', cell: (a) => pill(a.status) },
          { title: 'Transaction', cell: (a) => mono(short(a.txid, 10)) },
          { title: 'Bitcoin block', cell: (a) => (a.bitcoinBlock ? num(a.bitcoinBlock.height) : '—'), class: 'num' },
          { title: 'Fee', cell: (a) => `${num(a.feeSats)} sat`, class: 'num' },
          { title: 'Broadcast', cell: (a) => (a.broadcastAt ? time(a.broadcastAt, true) : '—') },
          { title: 'Confirmed', cell: (a) => (a.confirmedAt ? time(a.confirmedAt, true) : '—') },
        ], rows, { empty: st.enabled ? 'No anchor yet: the tip is anchored once it moves and the interval has passed.' : 'Anchoring is off on this service.' }),
        page.next ? h('div', { class: 'button-row' }, button('Older anchors', () => void more(page.next!))) : null,
      );
    };
    await more();
  } catch (e) {
    if (!signal.aborted) clear(status, errorPanel(e));
  }
}

// A link: its public part exactly as signed, its signatures, its status and receipt, its proof (to
// download or verify here), and private fields only for a reader entitled to them — an admin or the
// link's author (its private data), an auditor or regulator (the disclosures granted to its key,
// checked here against the link's digests). Nobody else's browser ever receives private values.
import { ApiError, type LinkRecord, enc, get, getText, session } from '../api.js';
import { verifyDisclosure } from '../../core/disclosure.js';
import { type Child, clear, frag, h, num, short, when } from '../dom.js';
import type { PageContext } from '../router.js';
import { button, card, dl, download, empty, errorPanel, json, loading, mono, pageHeader, pill, table } from '../ui.js';
import { verifyText } from '../verify/client.js';
import { renderOutcome } from '../verify/report.js';

export async function linkPage({ main, params, signal }: PageContext): Promise<void> {
  const hash = params['hash']!;
  const body = h('div', null, loading());
  main.append(body);
  let r: LinkRecord;
  try {
    r = await get<LinkRecord>(`/v1/links/${enc(hash)}`);
  } catch (e) {
    if (!signal.aborted) clear(body, errorPanel(e));
    return;
  }
  if (signal.aborted) return;
  const l = r.link;
  const proof = h('div', null, loading());
  const privacy = h('div', null, loading());
  body.replaceWith(frag(
    pageHeader(['Link ', h('span', { class: 'mono-title', title: r.linkHash }, short(r.linkHash, 12))], [
      h('a', { href: `#/processes/${enc(l.process)}?version=${l.processVersion}` }, `${l.process} v${l.processVersion}`),
      ' · map ', h('a', { href: `#/maps/${enc(l.process)}/${enc(l.mapId)}` }, l.mapId),
      ' · step ', h('strong', null, l.step), ' · by ', l.author,
    ], pill(r.status)),
    h('div', { class: 'grid grid-1-1' },
      card('Public part', [
        dl([
          ['Link hash', mono(r.linkHash, 'wrap small')],
          ['Process', `${l.process} v${l.processVersion}`],
          ['Map', h('a', { href: `#/maps/${enc(l.process)}/${enc(l.mapId)}` }, l.mapId)],
          ['Step', l.step],
          ['Author', l.author],
          ['Created', when(l.createdAt)],
          ['Follows', l.prev.length ? l.prev.map((p) => h('div', null, h('a', { href: `#/links/${p}`, class: 'hash', title: p }, short(p, 12)))) : h('span', { class: 'muted' }, 'nothing: it starts the map')],
          ['Refers to', l.refs.length ? l.refs.map((x) => h('div', null, h('a', { href: `#/links/${x.linkHash}`, class: 'hash' }, short(x.linkHash, 12)), x.rel ? ` (${x.rel})` : '')) : h('span', { class: 'muted' }, '—')],
          ['Tags', l.tags.length ? l.tags.map((t) => h('span', { class: 'tag' }, t)) : h('span', { class: 'muted' }, '—')],
          ['Private digests', l.digests.length ? `${l.digests.length} (values are not public)` : 'none'],
        ]),
        h('h3', { class: 'sub' }, 'Meta'),
        json(l.meta),
      ], { id: 'public' }),
      h('div', { class: 'stack' },
        card('Status', dl([
          ['Status', pill(r.status)],
          ['Accepted', when(r.receipt.acceptedAt)],
          ['Block', r.block ? [h('a', { href: `#/blocks/${r.block.height}` }, `#${num(r.block.height)}`), ` · leaf ${r.block.leafIndex}`] : h('span', { class: 'muted' }, 'not sealed yet')],
          ['Receipt', [mono(short(r.receipt.sig, 16)), h('span', { class: 'muted small' }, ` signed by notary ${r.receipt.notary.keyId}`)]],
        ]), { id: 'status' }),
        card('Signatures', table('Signatures', [
          { title: 'Signer', cell: (s) => [s.signer, s.signer === l.author ? h('span', { class: 'badge' }, 'author') : null] },
          { title: 'Key', cell: (s) => mono(s.keyId) },
          { title: 'Algorithm', cell: (s) => s.alg },
          { title: 'Signature', cell: (s) => mono(short(s.sig, 10)) },
        ], r.signatures), { id: 'signatures' }),
        card('Private data', privacy, { id: 'private' }),
      ),
    ),
    card('Proof', proof, { id: 'proof' }),
  ));
  void loadPrivate(r, privacy, signal);
  void loadProof(r, proof, signal);
}

async function loadPrivate(r: LinkRecord, into: HTMLElement, signal: AbortSignal): Promise<void> {
  const v = session.viewer;
  const n = r.link.digests.length;
  if (n === 0) return clear(into, empty('This link has no private fields.'));
  const hidden = (why: string) => clear(into, h('p', { class: 'private-hidden' }, `${n} private field${n === 1 ? '' : 's'}, not shown: ${why}`));
  if (!v) return hidden('sign in again to see what your role allows.');
  try {
    if (v.role === 'admin' || (v.role === 'participant' && v.participantId === r.link.author)) {
      const p = await get<{ fields: Record<string, unknown> }>(`/v1/links/${r.linkHash}/private`);
      if (signal.aborted) return;
      clear(into,
        h('p', { class: 'muted small' }, v.role === 'admin' ? 'Shown because you are an admin.' : 'Shown because you authored this link.'),
        fieldsTable(Object.entries(p.fields).map(([field, value]) => ({ field, value, note: '' }))));
      return;
    }
    if (v.role === 'participant') return hidden('only the author, an admin, and readers it was disclosed to may see them.');
    const d = await get<{ disclosures: string[] }>(`/v1/links/${r.linkHash}/disclosures`);
    if (signal.aborted) return;
    if (d.disclosures.length === 0) return hidden('none was disclosed to your key.');
    // Each disclosure is checked against the link's public digests before it is shown.
    const rows = d.disclosures.map((text) => {
      try {
        const { field, value } = verifyDisclosure(text, r.link.digests);
        return { field, value, note: '✓ matches a digest of the link' };
      } catch (e) {
        return { field: '?', value: null, note: `✗ ${(e as Error).message}` };
      }
    });
    clear(into, h('p', { class: 'muted small' }, `Disclosed to your key: ${rows.length} of ${n} field${n === 1 ? '' : 's'}.`), fieldsTable(rows));
  } catch (e) {
    if (signal.aborted) return;
    if (e instanceof ApiError && e.status === 410) return clear(into, h('p', null, 'The private data of this link was erased. ', h('span', { class: 'muted' }, e.message)));
    clear(into, errorPanel(e));
  }
}

function fieldsTable(rows: { field: string; value: unknown; note: string }[]): HTMLElement {
  return table('Private fields', [
    { title: 'Field', cell: (x) => h('strong', null, x.field) },
    { title: 'Value', cell: (x) => mono(typeof x.value === 'string' ? x.value : JSON.stringify(x.value)) },
    ...(rows.some((x) => x.note) ? [{ title: 'Check', cell: (x: (typeof rows)[number]) => h('span', { class: 'muted small' }, x.note) }] : []),
  ], rows);
}

async function loadProof(r: LinkRecord, into: HTMLElement, signal: AbortSignal): Promise<void> {
  if (!r.block) return clear(into, empty('The link is accepted but not sealed yet: its proof exists once a block holds it.'));
  try {
    const text = await getText(`/v1/links/${r.linkHash}/proof`);
    if (signal.aborted) return;
    const proof = JSON.parse(text) as { inclusion: { leafIndex: number; treeSize: number; path: string[] }; history?: { path: string[] }; anchor?: { network: string; txid: string; bitcoinBlock: { height: number } } };
    const out = h('div', { class: 'verify-result', role: 'status', 'aria-live': 'polite' });
    const facts: [Child, Child][] = [
      ['Format', 'pop/proof/v1'],
      ['Inclusion', `leaf ${proof.inclusion.leafIndex} of ${proof.inclusion.treeSize}, ${proof.inclusion.path.length} hash${proof.inclusion.path.length === 1 ? '' : 'es'} to the block's root`],
      ['History', proof.history ? `tied to a later block by ${proof.history.path.length} hash${proof.history.path.length === 1 ? '' : 'es'}` : 'none needed: the proof ends at the link\'s own block'],
      ['Anchor', proof.anchor ? `Bitcoin ${proof.anchor.network} block ${num(proof.anchor.bitcoinBlock.height)}, tx ${short(proof.anchor.txid)}` : 'none yet'],
      ['Size', `${num(text.length)} bytes`],
    ];
    clear(into,
      dl(facts),
      h('div', { class: 'button-row' },
        button('Verify in this browser', () => {
          clear(out, h('p', { class: 'loading' }, 'Verifying…'));
          void verifyText(text).then((o) => clear(out, renderOutcome(o)), (e: Error) => clear(out, errorPanel(e)));
        }, { kind: 'primary', id: 'verify-proof' }),
        button('Download proof', () => download(`proof-${r.linkHash.slice(0, 12)}.json`, text)),
      ),
      out,
    );
  } catch (e) {
    if (!signal.aborted) clear(into, errorPanel(e));
  }
}

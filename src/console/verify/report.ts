// Renders what the verifier worker found: "Verified" with each check (and per-link results for a
// bundle), or "Failed" with the code and the reason, exactly as core reports them.
import type { BundleLinkResult, BundleResult } from '../../core/bundle.js';
import type { ProofResult } from '../../core/proof.js';
import { type Child, h, num, short, when } from '../dom.js';
import { dl, mono, table } from '../ui.js';
import type { VerifyOutcome } from './protocol.js';
import type { SignatureUse } from './webcrypto.js';

const ok = (label: Child, detail: Child) => h('li', { class: 'check check-ok' }, h('span', { class: 'check-icon', 'aria-hidden': 'true' }, '✓'), h('span', { class: 'check-label' }, label), h('span', { class: 'check-detail' }, detail));
const note = (label: Child, detail: Child) => h('li', { class: 'check check-note' }, h('span', { class: 'check-icon', 'aria-hidden': 'true' }, '–'), h('span', { class: 'check-label' }, label), h('span', { class: 'check-detail' }, detail));

function verdict(good: boolean, title: string, detail: Child): HTMLElement {
  return h('div', { class: `verdict ${good ? 'verdict-ok' : 'verdict-bad'}`, 'data-verdict': good ? 'verified' : 'failed' },
    h('span', { class: 'verdict-icon', 'aria-hidden': 'true' }, good ? '✓' : '✗'),
    h('div', null, h('div', { class: 'verdict-title' }, title), h('div', { class: 'verdict-detail' }, detail)),
  );
}

const notaryLine = (n: { keyId: string; publicKey: string; pinned: boolean }) =>
  ok('Notary', [`${n.keyId} `, n.pinned ? h('strong', null, '(pinned key)') : h('span', { class: 'muted' }, '(key taken from the file — pin it to trust only this notary)')]);

const ALG_LABEL = { ed25519: 'Ed25519', 'ecdsa-p256': 'P-256', 'ecdsa-secp256k1': 'secp256k1' } as const;

/** Which library decided the signatures, per algorithm: "Ed25519: WebCrypto (12) · secp256k1: noble (3)". */
function signatureBackends(uses: readonly SignatureUse[]): HTMLElement | null {
  if (uses.length === 0) return null;
  const parts = uses.map((u) => `${ALG_LABEL[u.alg]}: ${u.by === 'pre-check' ? "refused by core's pre-checks" : u.by} (${num(u.count)})`);
  return h('ul', { class: 'checks', 'aria-label': 'Signature backends' },
    note('Signatures checked by', h('span', { class: 'signature-backends' }, parts.join(' · '))),
  );
}

export function renderOutcome(o: VerifyOutcome, fileName?: string): HTMLElement {
  const where = `Checked in this browser in ${num(o.ms)} ms${fileName ? ` · ${fileName}` : ''}`;
  if (o.kind === 'failed') {
    return h('div', { class: 'report' },
      verdict(false, 'Failed', [`${o.type ?? 'unknown type'} · `, where]),
      h('div', { class: 'failure', 'data-code': o.failure.code },
        h('div', { class: 'failure-code' }, o.failure.code),
        h('p', { class: 'failure-reason' }, o.failure.message),
      ),
      signatureBackends(o.signatures),
    );
  }
  const report = o.kind === 'proof' ? proofReport(o.result, where) : bundleReport(o.result, where);
  const backends = signatureBackends(o.signatures);
  // Beside the checks (a bundle's per-map tables come after them).
  if (backends) (report.querySelector('ul.checks') ?? report.lastElementChild ?? report).after(backends);
  return report;
}

function proofReport(r: ProofResult, where: string): HTMLElement {
  const l = r.link;
  const a = r.anchored;
  return h('div', { class: 'report' },
    verdict(true, 'Verified', ['pop/proof/v1 · 1 link · ', where]),
    dl([
      ['Link', mono(r.linkHash, 'wrap')],
      ['Step', `${l.process} v${l.processVersion} · map ${l.mapId} · step ${l.step} · by ${l.author}`],
      ['Created', when(l.createdAt)],
    ]),
    h('ul', { class: 'checks', 'aria-label': 'Checks' },
      ok('Link hash', 'SHA-256 of the canonical link matches'),
      r.signers.map((s) => ok('Signature', `${s.signer} (${s.keyId}, ${s.alg})`)),
      ok('Inclusion', `in block ${r.block.height} (${short(r.block.hash)}), sealed ${when(r.block.timestamp)}`),
      ok('Proof of work', `${r.block.difficulty} leading zero bits`),
      notaryLine(r.notary),
      r.history ? ok('History', `block ${r.block.height} is an ancestor of block ${r.history.height}`) : note('History', 'no later block in this proof'),
      a
        ? ok('Anchor', [`Bitcoin ${a.network} block ${num(a.bitcoinHeight)} (${short(a.bitcoinBlockHash)}), tx ${short(a.txid)}`, h('span', { class: 'muted' }, ' · best chain not checked offline')])
        : note('Anchor', 'no anchor evidence in this proof'),
      r.disclosed.map((d) => ok('Disclosed', [`${d.field} = `, mono(JSON.stringify(d.value))])),
    ),
  );
}

function linkStatus(l: BundleLinkResult): Child {
  if (l.ok) return h('span', { class: 'result-ok' }, '✓ verified');
  return h('span', { class: 'result-bad', title: l.failure?.message }, `✗ ${l.failure?.code ?? 'failed'}`);
}

const plural = (n: number, word: string) => `${num(n)} ${word}${n === 1 ? '' : 's'}`;

function bundleReport(r: BundleResult, where: string): HTMLElement {
  const scope = r.scope ? ('mapId' in r.scope && r.scope.mapId ? `map ${r.scope.mapId} of ${r.scope.process}` : 'from' in r.scope ? `${r.scope.process} from ${r.scope.from} to ${r.scope.to}` : `process ${r.scope.process}`) : '—';
  // Per-link results exist only when every shared part (notary, manifest, blocks, processes,
  // history, anchors) held: a shared failure ends verification before any link is checked.
  const sharedOk = r.ok || Object.keys(r.maps).length > 0;
  const head = r.ok
    ? verdict(true, 'Verified', [`pop/bundle/v1 · ${num(r.verified)} of ${num(r.links)} links verified · ${num(r.anchored)} anchored · `, where])
    : verdict(false, 'Failed', [`pop/bundle/v1 · ${num(r.verified)} of ${num(r.links)} links verified · `, where]);
  const shown = r.failures.slice(0, 20);
  const blocks = r.blocks.length === 0 ? '—' : r.blocks.length === 1 ? `block ${r.blocks[0]!.height}` : `${r.blocks.length} blocks, heights ${r.blocks[0]!.height}–${r.blocks[r.blocks.length - 1]!.height}`;
  return h('div', { class: 'report' },
    head,
    shown.map((f) => h('div', { class: 'failure', 'data-code': f.code },
      h('div', { class: 'failure-code' }, f.code, f.index !== undefined ? h('span', { class: 'failure-where' }, ` · link ${f.index + 1}`) : null),
      h('p', { class: 'failure-reason' }, f.message),
    )),
    r.failures.length > shown.length ? h('p', { class: 'muted' }, `… and ${num(r.failures.length - shown.length)} more failing links.`) : null,
    dl([
      ['Scope', scope],
      ['Created', r.createdAt ? when(r.createdAt) : '—'],
      ['Processes', r.processes.map((p) => `${p.id} v${p.version}`).join(', ') || '—'],
      ['Blocks', blocks],
      ['Anchors', r.anchors.length ? r.anchors.map((a) => `Bitcoin ${a.network} block ${num(a.bitcoinHeight)} for block ${a.height}`).join('; ') : 'none in this bundle'],
    ]),
    r.notary && sharedOk ? h('ul', { class: 'checks', 'aria-label': 'Checks' },
      notaryLine(r.notary),
      ok('Manifest', `the notary signed this scope, time and list of ${plural(r.links, 'link')}`),
      ok('Blocks', `${plural(r.blocks.length, 'header')}: layout, proof of work, notary signatures`),
      ok('Processes', `${plural(r.processes.length, 'definition')} hashing to their stated hashes; each link checked against its rules`),
      r.anchors.length
        ? ok('Anchors', [`${plural(r.anchors.length, 'anchor')}: transaction, Merkle branch and header work (SPV)`, h('span', { class: 'muted' }, ' · best chain not checked offline')])
        : note('Anchors', 'no anchor evidence in this bundle'),
    ) : null,
    Object.entries(r.maps).map(([mapId, links]) =>
      h('section', { class: 'bundle-map' },
        h('h3', null, `Map ${mapId}`),
        table(`Links of map ${mapId}`, [
          { title: '#', cell: (l) => l.index + 1, class: 'num' },
          { title: 'Step', cell: (l) => l.step },
          { title: 'Author', cell: (l) => l.author },
          { title: 'Signers', cell: (l) => l.signers.join(', ') },
          { title: 'Block', cell: (l) => `${l.height} · leaf ${l.leafIndex}`, class: 'nowrap' },
          { title: 'Anchored', cell: (l) => (l.anchoredAt ? `Bitcoin ${l.anchoredAt.network} ${num(l.anchoredAt.bitcoinHeight)}` : '—'), class: 'nowrap' },
          { title: 'Result', cell: linkStatus, class: 'nowrap' },
        ], links),
      ),
    ),
    r.disclosed.length
      ? h('section', { class: 'bundle-map' }, h('h3', null, 'Disclosed fields'), table('Disclosed fields', [
          { title: 'Link', cell: (d) => mono(short(d.linkHash)) },
          { title: 'Field', cell: (d) => d.field },
          { title: 'Value', cell: (d) => mono(JSON.stringify(d.value)) },
        ], r.disclosed))
      : null,
  );
}

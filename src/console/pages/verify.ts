// The verify page: a proof or bundle file, dropped or chosen, is verified entirely in this browser by
// src/core (in the verifier worker, which cannot reach the network). The worker is started when the
// page opens, so nothing at all is fetched once a file is given.
import { clear, h, num, s } from '../dom.js';
import type { PageContext } from '../router.js';
import { card, pageHeader } from '../ui.js';
import { preloadVerifier, verifyText } from '../verify/client.js';
import { renderOutcome } from '../verify/report.js';

const MAX_BYTES = 512 * 1024 * 1024;

export function verifyPage({ main, signal }: PageContext): void {
  const result = h('div', { id: 'verify-result', class: 'verify-result', role: 'status', 'aria-live': 'polite' });
  const pin = h('input', { id: 'notary-key', type: 'text', inputmode: 'latin', spellcheck: 'false', autocomplete: 'off', placeholder: '64 hex characters', pattern: '[0-9a-f]{64}', 'aria-describedby': 'notary-key-help' });
  const input = h('input', { id: 'verify-file', type: 'file', accept: '.json,application/json', class: 'visually-hidden' });
  const zone = h('label', { for: 'verify-file', class: 'dropzone', id: 'dropzone' },
    s('svg', { class: 'dropzone-icon', viewBox: '0 0 24 24', 'aria-hidden': 'true' },
      s('path', { d: 'M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z' }),
      s('path', { d: 'M14 3v5h5' }),
      s('path', { d: 'M12 17v-6m-2.5 2.5L12 11l2.5 2.5' }),
    ),
    h('span', { class: 'dropzone-title' }, 'Drop a proof or bundle file here'),
    h('span', { class: 'dropzone-sub' }, 'or ', h('span', { class: 'link-like' }, 'choose a file'), ' — pop/proof/v1 or pop/bundle/v1 JSON'),
  );

  let busy = false;
  async function check(file: File): Promise<void> {
    if (busy) return;
    const key = pin.value.trim().toLowerCase();
    if (key && !/^[0-9a-f]{64}$/.test(key)) {
      clear(result, h('p', { class: 'form-error' }, 'The notary key must be 32 bytes of lowercase hex (64 characters), or left empty.'));
      return;
    }
    if (file.size > MAX_BYTES) {
      clear(result, h('p', { class: 'form-error' }, `${file.name} is larger than 512 MiB.`));
      return;
    }
    busy = true;
    zone.classList.add('is-busy');
    const progress = h('p', { class: 'loading' }, `Verifying ${file.name}…`);
    clear(result, progress);
    try {
      const text = await file.text();
      const outcome = await verifyText(text, {
        ...(key ? { notaryKeys: [key] } : {}),
        onProgress: (done, total) => (progress.textContent = `Verifying ${file.name}… ${num(done)} of ${num(total)} links`),
      });
      if (!signal.aborted) clear(result, renderOutcome(outcome, file.name));
    } catch (e) {
      clear(result, h('p', { class: 'form-error' }, `Could not verify: ${(e as Error).message}`));
    } finally {
      busy = false;
      zone.classList.remove('is-busy');
      input.value = '';
    }
  }

  input.addEventListener('change', () => {
    const f = input.files?.[0];
    if (f) void check(f);
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('is-over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('is-over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('is-over');
    const f = e.dataTransfer?.files[0];
    if (f) void check(f);
  });

  const ready = h('p', { class: 'muted verifier-state', id: 'verifier-state' }, 'Starting the verifier…');
  preloadVerifier().then(
    (backends) =>
      (ready.textContent = `Verifier ready (Ed25519: ${backends.ed25519} · P-256: ${backends['ecdsa-p256']} · secp256k1: ${backends['ecdsa-secp256k1']}). It runs offline: it has no network access.`),
    (e: Error) => (ready.textContent = e.message),
  );

  main.append(
    pageHeader('Verify', 'Check a proof or a bundle here, in this browser, with the same code as pop verify. Nothing is uploaded.'),
    h('div', { class: 'grid grid-verify' },
      card('File', [
        zone,
        input,
        h('details', { class: 'pin' },
          h('summary', null, 'Pin the notary key (optional)'),
          h('label', { for: 'notary-key' }, 'Notary public key'),
          pin,
          h('p', { class: 'help', id: 'notary-key-help' }, 'With a pinned key, a file signed by any other notary fails. Without one, the file\'s own key is used and the report says so. The service publishes its key at /v1/notary.'),
        ),
        ready,
      ]),
      card('What is checked', h('ol', { class: 'explain' },
        h('li', null, 'The file\'s shape against the protocol\'s JSON Schemas.'),
        h('li', null, 'Each link\'s hash: SHA-256 of its canonical JSON (RFC 8785).'),
        h('li', null, 'Every signature, against the keys the file carries.'),
        h('li', null, 'Inclusion of each link in its block\'s RFC 6962 Merkle tree.'),
        h('li', null, 'Block headers: layout, proof of work, the notary\'s signature.'),
        h('li', null, 'History proofs tying blocks to later ones, and Bitcoin anchor evidence (SPV).'),
        h('li', null, 'For a bundle: the notary\'s manifest, and each link against its process\'s rules.'),
      ), { class: 'card-muted' }),
    ),
    result,
  );
}

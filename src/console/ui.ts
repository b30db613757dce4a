// Shared pieces of the pages: headers, cards, tables, status pills, hashes, errors.
import { ApiError, type LinkStatus } from './api.js';
import { type Child, h, short } from './dom.js';

export function pageHeader(title: Child, subtitle?: Child, actions?: Child): HTMLElement {
  return h('div', { class: 'page-header' },
    h('div', null, h('h1', null, title), subtitle ? h('p', { class: 'subtitle' }, subtitle) : null),
    actions ? h('div', { class: 'actions' }, actions) : null,
  );
}

export function card(title: Child, body: Child, opts: { class?: string; aside?: Child; id?: string } = {}): HTMLElement {
  const headingId = opts.id ? `${opts.id}-title` : undefined;
  return h('section', { class: `card ${opts.class ?? ''}`.trim(), id: opts.id, 'aria-labelledby': headingId },
    h('div', { class: 'card-head' }, h('h2', { id: headingId }, title), opts.aside ? h('div', { class: 'card-aside' }, opts.aside) : null),
    h('div', { class: 'card-body' }, body),
  );
}

const STATUS_TEXT: Record<string, string> = {
  accepted: 'Accepted',
  sealed: 'Sealed',
  anchored: 'Anchored',
  confirmed: 'Confirmed',
  signed: 'Signed',
  broadcast: 'Broadcast',
  dropped: 'Dropped',
  failed: 'Failed',
  ok: 'OK',
  waiting: 'Waiting',
  off: 'Off',
  'insufficient-funds': 'Insufficient funds',
  unreachable: 'Unreachable',
  rejected: 'Rejected',
};

/** Status as text in a coloured pill: the colour is never the only cue. */
export function pill(status: LinkStatus | string): HTMLElement {
  return h('span', { class: `pill pill-${status}` }, STATUS_TEXT[status] ?? status);
}

export function hashLink(href: string, hash: string, n = 8): HTMLAnchorElement {
  return h('a', { href, class: 'hash', title: hash }, short(hash, n));
}

export function mono(text: string, cls = ''): HTMLElement {
  return h('code', { class: `mono ${cls}`.trim() }, text);
}

/** Key → value pairs as a description list. */
export function dl(pairs: [Child, Child][]): HTMLDListElement {
  return h('dl', { class: 'fields' }, pairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

export interface Column<T> {
  title: string;
  cell: (row: T) => Child;
  class?: string;
}

export function table<T>(caption: string, columns: Column<T>[], rows: T[], opts: { empty?: string; captionVisible?: boolean } = {}): HTMLElement {
  if (rows.length === 0) return empty(opts.empty ?? 'Nothing here yet.');
  return h('div', { class: 'table-wrap' },
    h('table', null,
      h('caption', { class: opts.captionVisible ? '' : 'visually-hidden' }, caption),
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.title)))),
      h('tbody', null, rows.map((r) => h('tr', null, columns.map((c) => h('td', { class: c.class }, c.cell(r)))))),
    ),
  );
}

export function empty(text: Child): HTMLElement {
  return h('p', { class: 'empty' }, text);
}

export function loading(what = 'Loading…'): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, what);
}

export function errorPanel(e: unknown): HTMLElement {
  const err = e instanceof ApiError ? e : new ApiError(0, 'error', e instanceof Error ? e.message : String(e));
  const title = err.status === 404 ? 'Not found' : err.status === 403 ? 'Not allowed' : err.status === 0 ? 'Cannot reach the service' : 'Something went wrong';
  return h('div', { class: 'alert alert-error', role: 'alert' },
    h('strong', null, title),
    h('p', null, err.message, err.status ? h('span', { class: 'muted' }, ` (${err.status} ${err.code})`) : null),
  );
}

/** Pretty JSON in a scrollable block; the text is a text node, never markup. */
export function json(value: unknown): HTMLElement {
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}

export function stat(label: string, value: Child, foot?: Child, id?: string): HTMLElement {
  return h('div', { class: 'stat', id },
    h('div', { class: 'stat-label' }, label),
    h('div', { class: 'stat-value' }, value),
    foot ? h('div', { class: 'stat-foot' }, foot) : null,
  );
}

export function button(label: Child, onClick: (e: Event) => void, opts: { kind?: 'primary' | 'secondary' | 'ghost'; type?: 'button' | 'submit'; id?: string } = {}): HTMLButtonElement {
  return h('button', { type: opts.type ?? 'button', class: `btn btn-${opts.kind ?? 'secondary'}`, id: opts.id, on: { click: onClick } }, label);
}

/** Saves text as a file through a blob URL (no server round trip). */
export function download(name: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// A tiny DOM builder. Everything the console shows is created as elements and text nodes: no HTML
// strings anywhere, so nothing a link, a meta field or a file carries can become markup (the page's
// CSP also refuses string-to-HTML sinks through Trusted Types).
export type Child = Node | string | number | null | undefined | false | Child[];

type Handler = (event: Event) => void;
export interface Attrs {
  class?: string | undefined;
  on?: Partial<Record<keyof HTMLElementEventMap, Handler>>;
  [name: string]: string | number | boolean | undefined | Attrs['on'];
}

function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

function setAttrs(el: Element, attrs: Attrs | undefined): void {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'on') {
      for (const [type, fn] of Object.entries(value as NonNullable<Attrs['on']>)) el.addEventListener(type, fn as Handler);
    } else if (value === true) el.setAttribute(name, '');
    else if (value !== undefined && value !== false) el.setAttribute(name, String(value));
  }
}

/** An HTML element: h('a', { href: '#/' }, 'Home'). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs ?? undefined);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element (presentation attributes only: the CSP refuses style attributes). */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs ?? undefined);
  append(el, children);
  return el;
}

/** Several children as one fragment (for replaceWith and append). */
export function frag(...children: Child[]): DocumentFragment {
  const f = document.createDocumentFragment();
  append(f, children);
  return f;
}

export function clear(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

// --- formatting ---

/** 3fa2c1…9c1b */
export const short = (hash: string, n = 8): string => (hash.length > 2 * n + 1 ? `${hash.slice(0, n)}…${hash.slice(-4)}` : hash);

const NUMBER = new Intl.NumberFormat('en');
export const num = (n: number): string => NUMBER.format(n);

export function when(input: string | number): string {
  const d = new Date(input);
  if (Number.isNaN(d.getTime())) return String(input);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
}

export function ago(input: string | number, now = Date.now()): string {
  const s = Math.round((now - new Date(input).getTime()) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** A <time> element with the exact instant in its datetime and title. */
export function time(input: string | number, relative = false): HTMLTimeElement {
  const iso = new Date(input).toISOString();
  return h('time', { datetime: iso, title: when(input) }, relative ? ago(input) : when(input));
}

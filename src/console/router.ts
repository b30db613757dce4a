// A tiny hash router: "#/links/<hash>" → the link page. Hash routes need no server fallback, and a
// page's URL can be bookmarked and shared (the key is not in it). Each render gets an AbortSignal
// that fires when the reader navigates away, so late answers never draw over the next page.
export interface PageContext {
  params: Record<string, string>;
  query: URLSearchParams;
  main: HTMLElement;
  signal: AbortSignal;
  /** Runs when the reader leaves the page (unsubscribe, stop timers). */
  onLeave(fn: () => void): void;
}

export interface Route {
  path: string;
  /** Which nav entry is current on this page. */
  nav: string;
  title: string;
  /** Pages that read the API need a key; the verify page does not. */
  auth: boolean;
  render(ctx: PageContext): void | Promise<void>;
}

interface Compiled {
  route: Route;
  re: RegExp;
  names: string[];
}

export class Router {
  readonly #routes: Compiled[];
  readonly #main: HTMLElement;
  readonly #before: (route: Route) => Route | null;
  #leave: (() => void)[] = [];
  #controller: AbortController | null = null;

  /** `before` may swap the route (for the sign-in page) or return null to leave things as they are. */
  constructor(routes: Route[], main: HTMLElement, before: (route: Route) => Route | null) {
    this.#routes = routes.map((route) => {
      const names: string[] = [];
      const pattern = route.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      return { route, re: new RegExp(`^${pattern}$`), names };
    });
    this.#main = main;
    this.#before = before;
    window.addEventListener('hashchange', () => void this.render());
  }

  static go(path: string): void {
    if (location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = path;
  }

  current(): { route: Route; params: Record<string, string>; query: URLSearchParams } {
    const raw = location.hash.replace(/^#/, '') || '/';
    const [path = '/', search = ''] = raw.split('?');
    for (const c of this.#routes) {
      const m = c.re.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      c.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1]!);
        } catch {
          params[n] = m[i + 1]!;
        }
      });
      return { route: c.route, params, query: new URLSearchParams(search) };
    }
    return { route: this.#routes.find((c) => c.route.path === '*')!.route, params: {}, query: new URLSearchParams() };
  }

  async render(): Promise<void> {
    for (const fn of this.#leave.splice(0)) fn();
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    const found = this.current();
    const route = this.#before(found.route) ?? found.route;
    document.title = `${route.title} · Proof of Process`;
    this.#main.replaceChildren();
    this.#main.setAttribute('aria-busy', 'true');
    const leave = this.#leave;
    try {
      await route.render({ ...found, main: this.#main, signal: controller.signal, onLeave: (fn) => leave.push(fn) });
    } finally {
      if (!controller.signal.aborted) {
        this.#main.removeAttribute('aria-busy');
        // Move focus to the new page for keyboard and screen-reader users (unless the page put it
        // somewhere itself, as the sign-in form does), without scrolling jumps.
        if (!this.#main.contains(document.activeElement)) this.#main.focus({ preventScroll: true });
      }
    }
  }
}

// The console's entry: the layout (navigation, session), the routes, sign-in and sign-out.
import { type Stats, get, session, whenSignedOut } from './api.js';
import { clear, h } from './dom.js';
import * as live from './events.js';
import { anchorsPage } from './pages/anchors.js';
import { blockPage, blocksPage } from './pages/blocks.js';
import { linkPage } from './pages/link.js';
import { mapPage } from './pages/map.js';
import { notFoundPage } from './pages/not-found.js';
import { overviewPage } from './pages/overview.js';
import { processPage, processesPage } from './pages/processes.js';
import { signInPage } from './pages/sign-in.js';
import { verifyPage } from './pages/verify.js';
import { type Route, Router } from './router.js';

const NAV: { id: string; label: string; href: string; auth: boolean }[] = [
  { id: 'overview', label: 'Overview', href: '#/', auth: true },
  { id: 'processes', label: 'Processes', href: '#/processes', auth: true },
  { id: 'blocks', label: 'Blocks', href: '#/blocks', auth: true },
  { id: 'anchors', label: 'Anchors', href: '#/anchors', auth: true },
  { id: 'verify', label: 'Verify', href: '#/verify', auth: false },
];

const routes: Route[] = [
  { path: '/', nav: 'overview', title: 'Overview', auth: true, render: overviewPage },
  { path: '/processes', nav: 'processes', title: 'Processes', auth: true, render: processesPage },
  { path: '/processes/:id', nav: 'processes', title: 'Process', auth: true, render: processPage },
  { path: '/maps/:process/:mapId', nav: 'processes', title: 'Map timeline', auth: true, render: mapPage },
  { path: '/links/:hash', nav: 'processes', title: 'Link', auth: true, render: linkPage },
  { path: '/blocks', nav: 'blocks', title: 'Blocks', auth: true, render: blocksPage },
  { path: '/blocks/:height', nav: 'blocks', title: 'Block', auth: true, render: blockPage },
  { path: '/anchors', nav: 'anchors', title: 'Anchors', auth: true, render: anchorsPage },
  { path: '/verify', nav: 'verify', title: 'Verify', auth: false, render: verifyPage },
  { path: '/sign-in', nav: '', title: 'Sign in', auth: false, render: (ctx) => signInPage(ctx, signedIn) },
  { path: '*', nav: '', title: 'Not found', auth: false, render: notFoundPage },
];
const signIn = routes.find((r) => r.path === '/sign-in')!;

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const sessionBox = document.getElementById('session')!;

function drawNav(current: string): void {
  const signedIn = session.key() !== null;
  clear(nav, h('ul', null, NAV.filter((n) => signedIn || !n.auth).map((n) =>
    h('li', null, h('a', { href: n.href, 'aria-current': n.id === current ? 'page' : undefined }, n.label)),
  )));
}

function drawSession(): void {
  const v = session.viewer;
  if (!session.key()) {
    clear(sessionBox, h('a', { class: 'btn btn-small btn-on-dark', href: '#/sign-in' }, 'Sign in'));
    return;
  }
  const dot = h('span', { class: 'live', id: 'live-state', title: 'Event stream' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), h('span', { class: 'live-text' }, 'Connecting'));
  live.onState((s) => {
    dot.dataset['state'] = s;
    dot.querySelector('.live-text')!.textContent = s === 'live' ? 'Live' : s === 'connecting' ? 'Connecting' : 'Offline';
  });
  clear(sessionBox,
    dot,
    v ? h('span', { class: 'whoami', id: 'whoami', title: `API key ${v.keyId}` }, h('span', { class: 'role' }, v.role), v.participantId ? ` ${v.participantId}` : null) : null,
    h('button', { type: 'button', class: 'btn btn-small btn-on-dark', on: { click: signOut } }, 'Sign out'),
  );
}

function signOut(): void {
  live.stop();
  session.clear();
  drawSession();
  Router.go('/sign-in');
}

/** Called by the sign-in page once the key is known to work. */
function signedIn(stats: Stats, next: string): void {
  session.viewer = stats.viewer;
  drawSession();
  live.start();
  Router.go(next);
}

const router = new Router(routes, main, (route) => {
  const target = route.auth && !session.key() ? signIn : route;
  drawNav(target.nav);
  return target === route ? null : target;
});

whenSignedOut(() => {
  live.stop();
  drawSession();
  Router.go('/sign-in');
});

// Stop the browser from opening a file dropped anywhere outside the verify page's drop zone.
for (const type of ['dragover', 'drop'] as const) window.addEventListener(type, (e) => e.preventDefault());

async function boot(): Promise<void> {
  if (session.key()) {
    try {
      session.viewer = (await get<Stats>('/v1/stats')).viewer;
      live.start();
    } catch {
      /* a 401 has signed the session out; anything else shows on the page */
    }
  }
  drawSession();
  await router.render();
}

void boot();

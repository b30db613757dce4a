import { h } from '../dom.js';
import type { PageContext } from '../router.js';
import { pageHeader } from '../ui.js';

export function notFoundPage({ main }: PageContext): void {
  main.append(pageHeader('Page not found'), h('p', null, 'There is no such page. ', h('a', { href: '#/' }, 'Go to the overview'), '.'));
}

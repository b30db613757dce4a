// Sign-in with an API key. The key is checked against the service (GET /v1/stats answers with the
// key's role), then kept in this tab's sessionStorage only.
import { ApiError, type Stats, get, session } from '../api.js';
import { h } from '../dom.js';
import type { PageContext } from '../router.js';

export function signInPage({ main, query }: PageContext, signedIn: (stats: Stats, next: string) => void): void {
  const requested = location.hash.replace(/^#/, '');
  const next = query.get('next') ?? (requested && requested !== '/sign-in' ? requested : '/');
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, minlength: 16, maxlength: 256, 'aria-describedby': 'api-key-help' });
  const message = h('p', { class: 'form-error', id: 'sign-in-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const form = h('form', {
    class: 'sign-in-form',
    on: {
      submit: (e) => {
        e.preventDefault();
        const key = input.value.trim();
        message.textContent = '';
        submit.disabled = true;
        get<Stats>('/v1/stats', key)
          .then((stats) => {
            session.set(key);
            signedIn(stats, next);
          })
          .catch((err: unknown) => {
            message.textContent = err instanceof ApiError && err.status === 401 ? 'This API key is not valid, or it was revoked.' : `Could not sign in: ${(err as Error).message}`;
            submit.disabled = false;
            input.focus();
          });
      },
    },
  },
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h('p', { class: 'help', id: 'api-key-help' }, 'Kept in this tab only (session storage) and sent to this service alone. Closing the tab signs you out.'),
    message,
    submit,
  );
  if (session.key() === null && query.get('expired')) message.textContent = 'Your session ended: sign in again.';
  main.append(h('div', { class: 'sign-in' },
    h('div', { class: 'sign-in-card card' },
      h('h1', null, 'Sign in'),
      h('p', { class: 'subtitle' }, 'Operators, partners, auditors and regulators sign in with the API key the service issued them. What you see depends on its role.'),
      form,
    ),
    h('p', { class: 'sign-in-aside' }, 'Have a proof or a bundle to check? ', h('a', { href: '#/verify' }, 'Verify it in this browser'), ' — no key needed, nothing is uploaded.'),
  ));
  input.focus();
}

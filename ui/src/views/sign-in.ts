import { announce } from '../announce.js';
import { appendChildren, field, h } from '../dom.js';
import { clearToken, setToken } from '../session.js';
import { heading, problemBox, type ViewContext } from '../view.js';

/** Sign in by pasting an admin API token (kept in this tab's session storage only). */
export function signInView(context: ViewContext): void {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true, class: 'wide' });
  const result = h('div', { class: 'result' });
  const form = h('form', { class: 'card sign-in', novalidate: true },
    field('Admin API token', input, 'A JWT minted by regent token or by your identity provider. It stays in this browser tab (session storage) and is sent only to this Regent, in the Authorization header.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')),
    result);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = input.value.trim();
    input.value = '';
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value)) {
      result.replaceChildren(h('p', { class: 'problem', role: 'alert' }, 'That is not a token: a JWT is three base64url parts separated by dots.'));
      input.focus();
      return;
    }
    setToken(value);
    void context.api.get('/api/whoami').then(async () => {
      const principal = await context.signedIn();
      announce(`Signed in as ${principal?.name ?? principal?.subject ?? 'an unknown subject'} (${principal?.role ?? 'no role'}).`, 'success');
      const next = context.query.get('next');
      context.navigate(next && /^\/[a-z]/.test(next) && !next.startsWith('/signin') ? next : '/history');
    }, (error: unknown) => {
      clearToken();
      result.replaceChildren(problemBox(error));
      input.focus();
    });
  });
  appendChildren(context.main,
    heading('Sign in'),
    context.notice ? h('p', { class: 'problem', role: 'alert' }, context.notice) : null,
    form,
    h('p', { class: 'hint' }, 'Scripts can open ', h('code', null, '/ui/#token=<token>'), ': the part after # never reaches a server, and the page removes it from the address bar at once.'));
  input.focus();
}

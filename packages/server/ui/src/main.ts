import './styles.css';
import { captureTokenFromUrl, setToken, UNAUTHORIZED_EVENT } from './api';
import { h, replaceChildren } from './dom';
import { sessionView } from './views/session';
import { sessionsView } from './views/sessions';
import { usageView } from './views/usage';

captureTokenFromUrl();

const app = document.getElementById('app') as HTMLElement;
let current: AbortController | undefined;

function tokenForm(): void {
  current?.abort();
  current = new AbortController();
  const input = h('input', { type: 'password', autocomplete: 'off', 'aria-label': 'Token', name: 'token' });
  replaceChildren(
    app,
    h(
      'form',
      {
        className: 'token-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          setToken(input.value.trim());
          route();
        },
      },
      h('h1', null, 'Token needed'),
      h(
        'p',
        null,
        'This server checks a bearer token. Paste it here (it is kept in this tab only), or open the dashboard as ',
        h('code', null, '…/ui/?token=<token>'),
        '.',
      ),
      input,
      h('button', { type: 'submit', className: 'primary' }, 'Use token'),
    ),
  );
  input.focus();
}

function route(): void {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const hash = window.location.hash.replace(/^#/, '') || '/';
  const session = /^\/sessions\/([^/]+)$/.exec(hash);
  const page = session ? 'sessions' : hash === '/usage' ? 'usage' : 'sessions';
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    link.classList.toggle('current', link.dataset.nav === page && !session);
  }
  window.scrollTo({ top: 0 });
  if (session) sessionView(app, decodeURIComponent(session[1]!), controller.signal);
  else if (hash === '/usage') usageView(app, controller.signal);
  else sessionsView(app, controller.signal);
}

window.addEventListener(UNAUTHORIZED_EVENT, tokenForm);
window.addEventListener('hashchange', route);
route();

import { Api, type Problem } from './api.js';
import { announce, clearAnnouncement } from './announce.js';
import { h, replaceChildren } from './dom.js';
import { clearToken, takeTokenFromAddress, token, type Principal } from './session.js';
import { problemBox, type View, type ViewContext } from './view.js';
import { auditView } from './views/audit.js';
import { changeRequestsView } from './views/change-requests.js';
import { decisionsView } from './views/decisions.js';
import { diffView } from './views/diff.js';
import { environmentsView } from './views/environments.js';
import { fleetView } from './views/fleet.js';
import { historyView } from './views/history.js';
import { playgroundView } from './views/playground.js';
import { revisionView } from './views/revision.js';
import { signInView } from './views/sign-in.js';

interface Route {
  name: string;
  label?: string;
  view: View;
}

/** In navigation order; those with a label are in the menu. */
const ROUTES: readonly Route[] = [
  { name: 'history', label: 'History', view: historyView },
  { name: 'revision', view: revisionView },
  { name: 'diff', label: 'Diff', view: diffView },
  { name: 'audit', label: 'Audit log', view: auditView },
  { name: 'fleet', label: 'Fleet', view: fleetView },
  { name: 'change-requests', label: 'Change requests', view: changeRequestsView },
  { name: 'environments', label: 'Environments', view: environmentsView },
  { name: 'playground', label: 'Playground', view: playgroundView },
  { name: 'decisions', label: 'Decisions', view: decisionsView },
  { name: 'signin', view: signInView },
];

let principal: Principal | undefined;
let generation = 0;
let cleanups: Array<() => void> = [];
let signInMessage: string | undefined;

const api = new Api(token, (problem: Problem) => {
  // An expired or revoked token: forget it and ask for another one.
  clearToken();
  principal = undefined;
  renderHeader();
  if (window.location.hash.startsWith('#/signin')) return;
  signInMessage = `Signed out: ${problem.detail ?? problem.code} [${problem.code}]`;
  navigate(`/signin?next=${encodeURIComponent(window.location.hash.replace(/^#/, ''))}`);
});

function parseRoute(): { route: Route; params: string[]; query: URLSearchParams } {
  const hash = window.location.hash.replace(/^#/, '');
  const [path = '', search = ''] = hash.split(/\?(.*)/s, 2);
  const segments = path.split('/').filter(Boolean).map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment;
    }
  });
  const route = ROUTES.find((candidate) => candidate.name === segments[0]) ?? ROUTES[0]!;
  return { route, params: segments.slice(1), query: new URLSearchParams(search) };
}

function navigate(route: string, options: { replace?: boolean } = {}): void {
  const target = `#${route}`;
  if (options.replace) {
    window.history.replaceState(null, '', target);
    void render(false);
  } else if (window.location.hash === target) {
    void render(true);
  } else {
    window.location.hash = target;
  }
}

async function render(moveFocus: boolean): Promise<void> {
  const main = document.getElementById('main')!;
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
  const mine = ++generation;
  let { route, params, query } = parseRoute();
  if (!token() && route.name !== 'signin') {
    // Not signed in: the sign-in view, which comes back here afterwards.
    const back = window.location.hash.replace(/^#/, '');
    const next = back && !back.startsWith('/signin') ? `?next=${encodeURIComponent(back)}` : '';
    window.history.replaceState(null, '', `#/signin${next}`);
    ({ route, params, query } = parseRoute());
  }
  if (token() && !principal) await loadPrincipal();
  if (mine !== generation) return;
  markCurrentNav(route.name);
  // A redraw in place (a filter applied) keeps the focus on the same control; a navigation moves it to the heading.
  const focusedBefore = moveFocus ? undefined : focusInside(main);
  main.replaceChildren();
  const context: ViewContext = {
    api, principal, main, params, query,
    current: () => mine === generation,
    onLeave: (cleanup) => cleanups.push(cleanup),
    navigate,
    signedIn,
    notice: route.name === 'signin' ? signInMessage : undefined,
  };
  if (route.name === 'signin') signInMessage = undefined;
  if (moveFocus || (focusedBefore && !focusedBefore.name && !focusedBefore.text)) focusHeadingWhenShown(main, mine);
  try {
    await route.view(context);
  } catch (error) {
    if (mine === generation) main.append(problemBox(error));
  }
  if (!moveFocus && focusedBefore && mine === generation) restoreFocus(main, focusedBefore);
}

interface FocusMark {
  name: string | null;
  text: string;
}

/** What had the focus inside the view (a filter's field or button), to find its twin once the view is redrawn. */
function focusInside(main: HTMLElement): FocusMark | undefined {
  const element = document.activeElement;
  if (!(element instanceof HTMLElement) || !main.contains(element) || element === main) return undefined;
  return { name: element.getAttribute('name'), text: element instanceof HTMLButtonElement ? (element.textContent ?? '') : '' };
}

function restoreFocus(main: HTMLElement, mark: FocusMark): void {
  const twin = mark.name
    ? main.querySelector<HTMLElement>(`[name="${CSS.escape(mark.name)}"]`)
    : [...main.querySelectorAll<HTMLButtonElement>('button')].find((button) => button.textContent === mark.text);
  (twin ?? main.querySelector<HTMLElement>('h1'))?.focus();
}

/**
 * After a navigation, keyboard and screen-reader focus goes to the new view's `<h1>` as soon as the
 * view has put it in the page (before its data arrives), so it never stays on a link that is gone.
 */
function focusHeadingWhenShown(main: HTMLElement, mine: number): void {
  const focus = (): boolean => {
    const title = main.querySelector<HTMLElement>('h1');
    if (!title || mine !== generation) return mine !== generation;
    title.focus();
    return true;
  };
  if (focus()) return;
  const observer = new MutationObserver(() => {
    if (focus()) observer.disconnect();
  });
  observer.observe(main, { childList: true });
  cleanups.push(() => observer.disconnect());
}

async function loadPrincipal(): Promise<void> {
  try {
    principal = (await api.get<{ principal: Principal }>('/api/whoami')).principal;
  } catch {
    principal = undefined;
  }
  renderHeader();
}

function markCurrentNav(name: string): void {
  const current = name === 'revision' ? 'history' : name;
  for (const link of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
    if (link.dataset.route === current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function renderHeader(): void {
  const nav = document.getElementById('nav')!;
  replaceChildren(nav, ROUTES.filter((route) => route.label).map((route) =>
    h('li', null, h('a', { href: `#/${route.name}`, 'data-route': route.name }, route.label!))));
  const who = document.getElementById('who')!;
  if (principal) {
    replaceChildren(who,
      h('span', { class: 'principal' }, 'Signed in as ', h('strong', null, principal.name ?? principal.subject), ` (${principal.role})`),
      h('button', { type: 'button', class: 'link-button', onclick: signOut }, 'Sign out'));
  } else {
    replaceChildren(who, token() ? null : h('a', { href: '#/signin' }, 'Sign in'));
  }
}

function signOut(): void {
  clearToken();
  principal = undefined;
  renderHeader();
  announce('Signed out. The token was removed from this tab.', 'info');
  navigate('/signin');
}

/** Called by the sign-in view once a token is stored: reads who it names. */
async function signedIn(): Promise<Principal | undefined> {
  principal = undefined;
  await loadPrincipal();
  return principal;
}

function start(): void {
  const tookToken = takeTokenFromAddress();
  document.getElementById('skip-link')?.addEventListener('click', (event) => {
    event.preventDefault();
    document.getElementById('main')?.focus();
  });
  renderHeader();
  window.addEventListener('hashchange', () => {
    clearAnnouncement();
    void render(true);
  });
  if (tookToken && window.location.hash === '') window.history.replaceState(null, '', '#/history');
  void render(false);
}

start();

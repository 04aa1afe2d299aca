import { ApiError, type Api } from './api.js';
import { h } from './dom.js';
import type { Principal } from './session.js';

/** What a view gets when the router shows it. */
export interface ViewContext {
  api: Api;
  principal: Principal | undefined;
  /** The `<main>` element, emptied for the view. */
  main: HTMLElement;
  /** Path segments after the view's name (`#/revision/<sha>` → `[sha]`), decoded. */
  params: string[];
  query: URLSearchParams;
  /** False once the user went elsewhere: late answers must not be drawn. */
  current(): boolean;
  /** Runs when the user leaves the view (timers, polling). */
  onLeave(cleanup: () => void): void;
  /** Goes to a route (`/audit?subject=ada`); `replace` keeps the history entry (filters). */
  navigate(route: string, options?: { replace?: boolean }): void;
  /** After a new token is stored: reads who it names (`GET /api/whoami`) and redraws the header. */
  signedIn(): Promise<Principal | undefined>;
  /** Why the user was sent to sign in (an expired token), if that is why. */
  notice?: string;
}

export type View = (context: ViewContext) => Promise<void> | void;

/** The view's `<h1>`, focusable so navigation can move keyboard and screen-reader focus to it. */
export function heading(text: string): HTMLHeadingElement {
  return h('h1', { tabindex: -1, class: 'view-title' }, text);
}

/** A sentence saying why something could not be shown, from a problem the API answered. */
export function problemMessage(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error);
  if (error.code === 'route_not_found') return 'This is not available on this server (it has no such endpoint).';
  if (error.code === 'missing_role') return `Your token's role cannot do this: ${error.message}`;
  const where = ['file', 'line', 'column', 'field'].map((key) => error.problem[key]).filter((value) => value !== undefined).join(':');
  return `${error.message}${where ? ` (${where})` : ''} [${error.code}]`;
}

/** A problem shown in the page (the status region says it out loud where the caller announces it). */
export function problemBox(error: unknown): HTMLElement {
  const problems = error instanceof ApiError && Array.isArray(error.problem.problems) ? (error.problem.problems as GateProblem[]) : [];
  return h('div', { class: 'problem', role: 'alert' },
    h('p', null, problemMessage(error)),
    problems.length > 0 ? problemList(problems) : null);
}

export interface GateProblem {
  code: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
}

export function problemList(problems: readonly GateProblem[]): HTMLUListElement {
  return h('ul', { class: 'gate-problems' }, problems.map((problem) =>
    h('li', null,
      h('code', null, problem.code), ' ',
      problem.file ? h('span', { class: 'where' }, `${problem.file}${problem.line ? `:${problem.line}` : ''}${problem.column ? `:${problem.column}` : ''}`) : null, ' ',
      problem.message)));
}

/** Said where an endpoint this view needs is not on this server (an older or newer Regent). */
export function notAvailable(what: string): HTMLElement {
  return h('p', { class: 'not-available' }, `${what} is not available on this server.`);
}

export function loading(what = 'Loading…'): HTMLElement {
  return h('p', { class: 'loading', 'aria-busy': 'true' }, what);
}

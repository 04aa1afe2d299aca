/**
 * The admin token of this browser tab. It lives in `sessionStorage` only (gone when the tab closes, never
 * shared with other tabs, never a cookie, so nothing sends it by itself), and leaves the page only in the
 * `Authorization` header of API calls. Scripts can open `/ui/#token=<token>`: the fragment never reaches
 * a server, and the page removes it from the address bar and history at once.
 */
const KEY = 'regent.token';

/** Principal as `GET /api/whoami` names it. */
export interface Principal {
  subject: string;
  role: 'viewer' | 'auditor' | 'editor' | 'admin';
  name?: string;
  email?: string;
}

const ROLES = ['viewer', 'auditor', 'editor', 'admin'] as const;

export function hasRole(principal: Principal | undefined, role: Principal['role']): boolean {
  return principal !== undefined && ROLES.indexOf(principal.role) >= ROLES.indexOf(role);
}

/**
 * Takes `#token=<token>` (optionally `&view=<route>`) out of the address: stores the token and replaces
 * the entry in the history with the route, so neither the address bar, the history nor a bookmark keeps
 * it. Returns true when a token was taken.
 */
export function takeTokenFromAddress(): boolean {
  const fragment = window.location.hash.replace(/^#/, '');
  if (!/^token=/.test(fragment)) return false;
  const params = new URLSearchParams(fragment);
  const token = params.get('token')?.trim();
  const view = params.get('view');
  const route = view && /^\/[A-Za-z0-9/_.?=&%-]*$/.test(view) ? view : '/history';
  window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}#${route}`);
  if (!token) return false;
  setToken(token);
  return true;
}

export function token(): string | undefined {
  try {
    return window.sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function setToken(value: string): void {
  window.sessionStorage.setItem(KEY, value);
}

export function clearToken(): void {
  window.sessionStorage.removeItem(KEY);
}

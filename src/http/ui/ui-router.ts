import type { RequestHandler, Response } from 'express';
import { UnavailableError } from '../../domain/errors.js';
import type { StaticAsset, UiAssets } from './static-assets.js';

/** Where the web view is served. */
export const UI_PREFIX = '/ui';

/**
 * What the web view may do in a browser: load its own script, style sheet and images, call this origin's
 * API, and nothing else: no inline script or style, no framing, no plugins, no form posts elsewhere,
 * no `<base>`. The page's token therefore cannot be sent anywhere but to this Regent.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'", "font-src 'self'",
  "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: ReadonlyArray<[string, string]> = [
  ['Content-Security-Policy', UI_CONTENT_SECURITY_POLICY],
  ['X-Content-Type-Options', 'nosniff'],
  ['Referrer-Policy', 'no-referrer'],
  ['X-Frame-Options', 'DENY'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
];

/**
 * The web view at `/ui/` (static files held in memory, no server-side session: the page keeps the
 * token in the browser's `sessionStorage` and sends it as a bearer token to `/api`). `GET`/`HEAD`
 * `/ui` redirects to `/ui/`, which is `index.html`; `/ui/<file>` is one built file. Anything else
 * under `/ui/` falls through to `route_not_found`. Until `npm run build` has produced the folder,
 * `/ui/` answers 503 `ui_not_built`. A plain middleware (not Express routes): it is not part of the
 * API, so the OpenAPI document does not describe it.
 */
export function createUiRouter(assets: UiAssets): RequestHandler {
  return (req, res, next) => {
    const path = req.path;
    if ((req.method !== 'GET' && req.method !== 'HEAD') || (path !== UI_PREFIX && !path.startsWith(`${UI_PREFIX}/`))) {
      next();
      return;
    }
    if (path === UI_PREFIX) {
      // The browser keeps the fragment (`#token=...`) across the redirect; it is never sent here.
      res.redirect(308, `${UI_PREFIX}/`);
      return;
    }
    const name = path === `${UI_PREFIX}/` ? 'index.html' : path.slice(UI_PREFIX.length + 1);
    if (!assets.built && name === 'index.html') {
      next(new UnavailableError('ui_not_built', `the web view has not been built into ${assets.dir}: run 'npm run build'`));
      return;
    }
    const asset = assets.get(name);
    if (!asset) {
      next();
      return;
    }
    send(res, asset, req.headers['if-none-match']);
  };
}

function send(res: Response, asset: StaticAsset, ifNoneMatch: string | undefined): void {
  for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
  res.setHeader('Cache-Control', asset.cacheControl);
  res.setHeader('ETag', asset.etag);
  if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === asset.etag)) {
    res.status(304).end();
    return;
  }
  res.setHeader('Content-Type', asset.contentType);
  res.setHeader('Content-Length', String(asset.body.length));
  res.status(200).end(res.req.method === 'HEAD' ? undefined : asset.body);
}

import { Router, type RequestHandler } from 'express';
import { createWhoamiRouter } from './whoami-router.js';

export interface AdminRouterDeps {
  /** The `authenticate(...)` middleware: runs before every admin route, so nothing under /api is anonymous. */
  authenticate: RequestHandler;
  /** Resource routers (policies, versions, audit, ...), mounted after authentication, in order. */
  routers?: readonly RequestHandler[];
}

/**
 * The admin API, mounted at `/api` by `createApp`. Authentication comes first for every path, known or
 * not, so an anonymous caller gets 401 and learns nothing about which routes exist; each route then
 * checks its role with `requireRole`.
 */
export function createAdminRouter(deps: AdminRouterDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  router.use(deps.authenticate);
  router.use(createWhoamiRouter());
  for (const resource of deps.routers ?? []) router.use(resource);
  return router;
}


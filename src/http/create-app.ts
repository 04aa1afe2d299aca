import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from '../domain/logger.js';
import { createErrorHandler, notFoundHandler } from './error-handler.js';
import { openApiDocument } from './openapi-document.js';
import { rejectMalformedPaths } from './path-encoding.js';
import type { RequestCounters } from './request-counters.js';
import { requestLogger } from './request-logger-middleware.js';
import { createStatusRouter, type StatusRouterDeps } from './status-router.js';
import type { UiAssets } from './ui/static-assets.js';
import { createUiRouter } from './ui/ui-router.js';

export interface AppDeps extends StatusRouterDeps {
  logger: Logger;
  /** The admin API (`createAdminRouter`), mounted at `/api`. */
  adminRouter?: RequestHandler;
  /** Git host webhooks (`createWebhookRouter`), mounted at `/hooks`: signed by the host, no bearer token. */
  webhookRouter?: RequestHandler;
  /** OPA agents' status reports (`POST /status`, `POST /status/<partition>`). */
  statusReportRouter?: RequestHandler;
  /** The built web view (`dist/ui/`), served at `/ui/`; without it `/ui` is `route_not_found`. */
  ui?: UiAssets;
  /** OPA agents' decision logs (`POST /logs`, `POST /logs/<partition>`). */
  decisionLogsRouter?: RequestHandler;
  /** `GET /metrics` (absent when metrics are off: 404). */
  metricsRouter?: RequestHandler;
  /** Where requests are counted by route and status for `/metrics`. */
  requestCounters?: RequestCounters;
}

/** The Express application for everything but the bundle hot path. No `listen` here. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.set('query parser', 'simple');
  app.set('trust proxy', false);
  const logger = deps.logger.child({ component: 'http' });
  app.use(requestLogger(logger, deps.requestCounters));
  app.use(rejectMalformedPaths);
  app.use(createStatusRouter(deps));
  if (deps.statusReportRouter) app.use(deps.statusReportRouter);
  if (deps.decisionLogsRouter) app.use(deps.decisionLogsRouter);
  if (deps.metricsRouter) app.use(deps.metricsRouter);
  // The API's description is public, like any OpenAPI document: it names routes, never data.
  app.get('/api/openapi.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(openApiDocument);
  });
  if (deps.ui) app.use(createUiRouter(deps.ui));
  if (deps.webhookRouter) app.use('/hooks', deps.webhookRouter);
  if (deps.adminRouter) app.use('/api', deps.adminRouter);
  app.use(notFoundHandler);
  app.use(createErrorHandler(logger));
  return app;
}

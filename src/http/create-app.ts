import express, { type Express } from 'express';
import type { Logger } from '../domain/logger.js';
import { createErrorHandler, notFoundHandler } from './error-handler.js';
import { requestLogger } from './request-logger-middleware.js';
import { createStatusRouter, type StatusRouterDeps } from './status-router.js';

export interface AppDeps extends StatusRouterDeps {
  logger: Logger;
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
  app.use(requestLogger(logger));
  app.use(createStatusRouter(deps));
  app.use(notFoundHandler);
  app.use(createErrorHandler(logger));
  return app;
}

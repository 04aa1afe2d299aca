import type { RequestHandler } from 'express';
import type { Logger } from '../domain/logger.js';
import type { RequestCounters } from './request-counters.js';
import { logCompletion, requestIdOf } from './request-log.js';

/**
 * Assigns `res.locals.reqId`, echoes it as `X-Request-Id`, logs one completion line, and counts the
 * request by route template and status when `counters` is given (`/metrics`; `(unmatched)` for a path no
 * route took, so a scanner cannot grow the counts).
 */
export function requestLogger(logger: Logger, counters?: RequestCounters): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const reqId = requestIdOf(req);
    res.locals.reqId = reqId;
    res.setHeader('X-Request-Id', reqId);
    res.on('close', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      const status = res.writableFinished ? res.statusCode : 499;
      const bytes = Number(res.getHeader('Content-Length') ?? 0);
      counters?.count(route ? `${req.baseUrl}${route}` : '(unmatched)', status, bytes);
      logCompletion(logger, {
        reqId,
        method: req.method,
        route: route ? `${req.baseUrl}${route}` : req.path.slice(0, 200),
        status,
        bytes,
        ms: performance.now() - started,
        subject: res.locals.subject as string | undefined,
      });
    });
    next();
  };
}

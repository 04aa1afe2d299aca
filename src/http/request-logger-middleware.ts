import type { RequestHandler } from 'express';
import type { Logger } from '../domain/logger.js';
import { logCompletion, requestIdOf } from './request-log.js';

/** Assigns `res.locals.reqId`, echoes it as `X-Request-Id`, and logs one completion line. */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const reqId = requestIdOf(req);
    res.locals.reqId = reqId;
    res.setHeader('X-Request-Id', reqId);
    res.on('close', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      logCompletion(logger, {
        reqId,
        method: req.method,
        route: route ? `${req.baseUrl}${route}` : req.path.slice(0, 200),
        status: res.writableFinished ? res.statusCode : 499,
        bytes: Number(res.getHeader('Content-Length') ?? 0),
        ms: performance.now() - started,
        subject: res.locals.subject as string | undefined,
      });
    });
    next();
  };
}

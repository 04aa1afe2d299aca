import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BUNDLES_PREFIX } from './bundles/bundle-handler.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * One server, one port: `/bundles/...` goes to the lean bundle handler, everything else to Express.
 * Slow-header clients are cut after 10 s; `requestTimeout` only covers receiving the request, so it
 * does not cut long polls, which are answered by the handler's own hold timer.
 */
export function createRegentServer(handlers: { bundles: Handler; app: Handler }): Server {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, maxHeaderSize: 16_384 }, (req, res) => {
    if (req.url?.startsWith(BUNDLES_PREFIX)) handlers.bundles(req, res);
    else handlers.app(req, res);
  });
  return server;
}

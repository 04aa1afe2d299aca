import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BUNDLES_PREFIX } from './bundles/bundle-handler.js';
import { CLIENT_ADDRESS_HEADER } from './primary-proxy.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * One server, one port: `/bundles/...` goes to the lean bundle handler, everything else to Express.
 * Behind worker processes `options.behindWorkers` (see {@link believeWorker}). Slow-header clients are cut after 10 s; `requestTimeout` only covers receiving the request, so it
 * does not cut long polls, which are answered by the handler's own hold timer.
 */
export function createRegentServer(handlers: { bundles: Handler; app: Handler }, options: { behindWorkers?: boolean } = {}): Server {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, maxHeaderSize: 16_384 }, (req, res) => {
    if (options.behindWorkers) believeWorker(req);
    if (req.url?.startsWith(BUNDLES_PREFIX)) handlers.bundles(req, res);
    else handlers.app(req, res);
  });
  return server;
}

/**
 * Behind workers (`server.workers` > 1) the primary listens on a private socket only its workers reach,
 * one request per connection: the client's address is the one the worker names, so logs, re-fetch
 * tracking and webhook limits see the client, not the worker.
 */
function believeWorker(req: IncomingMessage): void {
  const named = req.headers[CLIENT_ADDRESS_HEADER];
  delete req.headers[CLIENT_ADDRESS_HEADER];
  if (typeof named === 'string' && req.socket.remoteAddress === undefined) Object.defineProperty(req.socket, 'remoteAddress', { value: named, configurable: true });
}

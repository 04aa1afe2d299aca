import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { BUNDLES_PREFIX, type BundleHandler } from './bundles/bundle-handler.js';
import { BundleFastPath } from './fast-path/bundle-fast-path.js';
import { ResponseHeadBytes } from './fast-path/response-head-bytes.js';
import { CLIENT_ADDRESS_HEADER } from './primary-proxy.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const MAX_HEADER_BYTES = 16_384;

/**
 * One server, one port: `/bundles/...` goes to the lean bundle handler, everything else to Express.
 * Behind worker processes `options.behindWorkers` (see {@link believeWorker}). Slow-header clients are cut after 10 s; `requestTimeout` only covers receiving the request, so it
 * does not cut long polls, which are answered by the handler's own hold timer.
 *
 * In front of node:http, the {@link BundleFastPath} answers plain bundle reads (no long poll, no
 * query: the fleet's heartbeat and downloads) from the socket; a connection that sends anything else
 * is node:http's from then on. Not behind workers: there the primary's socket only carries what
 * workers pass on.
 */
export function createRegentServer(handlers: { bundles: Handler | BundleHandler; app: Handler }, options: { behindWorkers?: boolean } = {}): Server {
  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 30_000, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    if (options.behindWorkers) believeWorker(req);
    if (req.url?.startsWith(BUNDLES_PREFIX)) handlers.bundles(req, res);
    else handlers.app(req, res);
  });
  const { bundles } = handlers;
  if (!options.behindWorkers && 'plain' in bundles) putFastPathInFront(server, bundles);
  return server;
}

/**
 * node:http's own `connection` listener gets each connection the fast path gives up; shutting down
 * (`close`, `closeIdleConnections`, `closeAllConnections`) ends the fast path's connections too.
 */
function putFastPathInFront(server: Server, bundles: BundleHandler): void {
  const nodeListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const heads = new ResponseHeadBytes(KEEP_ALIVE_TIMEOUT_MS);
  const fastPath = new BundleFastPath({
    answer: (head) => {
      const answer = bundles.plain(head);
      if (!answer) return undefined;
      const headBytes = heads.bytesFor(answer.status, answer.headers);
      return answer.status === 200 && answer.body ? [headBytes, answer.body] : [headBytes];
    },
    handOver: (socket) => {
      for (const listener of nodeListeners) listener.call(server, socket);
    },
    maxHeadBytes: MAX_HEADER_BYTES,
    firstRequestTimeoutMs: HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
  });
  server.on('connection', (socket: Socket) => fastPath.adopt(socket));
  const closeIdle = server.closeIdleConnections.bind(server);
  const closeAll = server.closeAllConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdle();
    fastPath.closeIdle();
  };
  server.closeAllConnections = () => {
    closeAll();
    fastPath.closeAll();
  };
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

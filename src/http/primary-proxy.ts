import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '../domain/logger.js';
import { writeProblem } from './problem.js';

/**
 * The header a worker process names the client's address in, towards the primary. The primary listens on
 * a socket only its own workers can reach, so it believes it there (and nowhere else).
 */
export const CLIENT_ADDRESS_HEADER = 'x-regent-client-address';

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not the request. */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

export interface PrimaryProxyOptions {
  /** The primary's private socket. */
  socketPath: string;
  logger: Logger;
  /** Requests passed on at once at most; more are answered 503 `primary_unavailable`. */
  maxInFlight: number;
  /** What this proxy passes on, for the 503's detail (`requests` by default). */
  what?: string;
  /** A passed-on request with no byte either way this long is cut (a long poll for a delta waits up to `bundles.longPollMaxSeconds`). */
  idleTimeoutMs: number;
}

/**
 * A worker's handler for everything it does not answer itself (the admin API, `/status`, the web view,
 * status reports, delta bundles): the request is streamed to the primary over its private socket, one
 * connection per request, with the client's address in {@link CLIENT_ADDRESS_HEADER}, and the answer
 * streamed back. The primary enforces its own body limits; this bounds the requests in flight and idle
 * time. The primary writes the request's completion line; this logs only when the primary is unreachable
 * (not when the client went away first, nor after a complete answer).
 */
export function createPrimaryProxy(options: PrimaryProxyOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { socketPath, maxInFlight, idleTimeoutMs } = options;
  const log = options.logger.child({ component: 'proxy' });
  let inFlight = 0;
  const unavailable = (res: ServerResponse, detail: string): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    writeProblem(res, { status: 503, code: 'primary_unavailable', title: 'Service unavailable', detail }, { 'Retry-After': '2' });
  };
  return (req, res) => {
    if (inFlight >= maxInFlight) {
      unavailable(res, `this worker passes ${maxInFlight} ${options.what ?? 'requests'} to the primary already; retry shortly`);
      return;
    }
    inFlight++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      inFlight--;
    };
    const headers: Record<string, string | string[] | undefined> = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && name !== CLIENT_ADDRESS_HEADER) headers[name] = value;
    headers[CLIENT_ADDRESS_HEADER] = req.socket.remoteAddress ?? '';
    headers.connection = 'close';
    const upstream = request({ socketPath, method: req.method, path: req.url, headers, agent: false, timeout: idleTimeoutMs });
    upstream.on('response', (answer) => {
      const answerHeaders: Record<string, string | string[] | undefined> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(name) && name !== 'transfer-encoding') answerHeaders[name] = value;
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answerHeaders);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('timeout', () => upstream.destroy(new Error(`no byte either way for ${idleTimeoutMs} ms`)));
    // The client went away (or its answer was complete): the upstream is ended on purpose, not failing.
    let clientDone = false;
    upstream.on('error', (error) => {
      settle();
      if (clientDone || res.writableFinished) return;
      log.warn({ err: error, method: req.method, url: req.url?.slice(0, 200) }, 'request not passed to the primary');
      unavailable(res, 'the primary process did not answer; retry shortly');
    });
    res.on('close', () => {
      settle();
      clientDone = true;
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };
}

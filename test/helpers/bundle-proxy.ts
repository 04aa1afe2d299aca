import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

export interface ProxiedResponse {
  /** The upstream that answered (see {@link BundleProxy.setUpstream}). */
  upstream: string;
  url: string;
  ifNoneMatch: string | undefined;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Rewrites a bundle body on its way to the agent; return undefined to pass it through unchanged. */
export type BundleRewrite = (tarball: Buffer, bundle: string) => Promise<Buffer | undefined>;

export interface BundleProxy {
  url: string;
  /** Responses by status code, for assertions (e.g. that the agent was really sent 304s). */
  counts: Map<number, number>;
  /** How many rewritten bundles the agent received. */
  rewrites: number;
  /** Every answer passed on, in order: the request's path and `If-None-Match`, status, headers, body. */
  responses: ProxiedResponse[];
  setRewrite(rewrite: BundleRewrite | undefined): void;
  /** Sends the next requests elsewhere, as a load balancer moving an agent to another replica does. */
  setUpstream(upstream: string): void;
}

/**
 * A man in the middle between an OPA agent and Regent: forwards requests (headers included, so long
 * polls and If-None-Match behave as without it) and can rewrite bundle bodies, with a new ETag, to
 * show what the agent does with tampered bundles. Its upstream can be switched between requests.
 */
export async function startBundleProxy(initialUpstream: string): Promise<BundleProxy> {
  let rewrite: BundleRewrite | undefined;
  let upstream = initialUpstream;
  const proxy: BundleProxy = { url: '', counts: new Map(), rewrites: 0, responses: [], setRewrite: (next) => (rewrite = next), setUpstream: (next) => (upstream = next) };
  const server: Server = createServer(async (req, res) => {
    const target = upstream;
    try {
      const headers: Record<string, string> = {};
      for (const name of ['if-none-match', 'prefer', 'authorization', 'user-agent']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      // A rewritten ETag is not Regent's: translate it back so Regent still sees what the agent has.
      const upstreamResponse = await fetch(`${target}${req.url}`, { method: req.method, headers });
      let body: Buffer = Buffer.from(await upstreamResponse.arrayBuffer());
      const outHeaders: Record<string, string> = {};
      upstreamResponse.headers.forEach((value, key) => {
        if (!['content-length', 'connection', 'keep-alive', 'transfer-encoding'].includes(key)) outHeaders[key] = value;
      });
      if (upstreamResponse.status === 200 && rewrite && req.url?.startsWith('/bundles/')) {
        const changed = await rewrite(body, req.url.slice('/bundles/'.length));
        if (changed) {
          body = changed;
          outHeaders.etag = `"tampered-${createHash('sha256').update(changed).digest('hex').slice(0, 16)}"`;
          proxy.rewrites++;
        }
      }
      proxy.counts.set(upstreamResponse.status, (proxy.counts.get(upstreamResponse.status) ?? 0) + 1);
      proxy.responses.push({ upstream: target, url: req.url ?? '', ifNoneMatch: headers['if-none-match'], status: upstreamResponse.status, headers: outHeaders, body });
      res.writeHead(upstreamResponse.status, { ...outHeaders, 'content-length': String(body.length) });
      res.end(body);
    } catch (error) {
      res.writeHead(502);
      res.end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  onTestFinished(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return proxy;
}

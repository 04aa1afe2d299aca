import { request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { silentLogger } from '../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { CLIENT_ADDRESS_HEADER, createPrimaryProxy } from './primary-proxy.js';
import { createRegentServer } from './regent-server.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => {
    server.closeAllConnections();
    server.close(done);
  })));
});

function listen(server: Server, where: { path: string } | { port: 0; host: string }): Promise<void> {
  servers.push(server);
  return new Promise((done) => server.listen(where, () => done()));
}

function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A worker's front (bundles answered locally, the rest proxied) before a primary on a Unix socket. */
async function workerBefore(primary: (seen: { address: string | undefined; headers: IncomingHttpHeaders; body: string }) => { status: number; body: string }, maxInFlight = 8): Promise<number> {
  const socketPath = join(tempDirForTest('regent-proxy-'), 'primary.sock');
  const primaryServer = createRegentServer({
    bundles: (_req, res) => res.writeHead(500).end(),
    app: (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => { body += chunk; });
      req.on('end', () => {
        const answer = primary({ address: req.socket.remoteAddress, headers: req.headers, body });
        res.writeHead(answer.status, { 'Content-Type': 'text/plain', 'X-From': 'primary' }).end(answer.body);
      });
    },
  }, { behindWorkers: true });
  await listen(primaryServer, { path: socketPath });
  const proxy = createPrimaryProxy({ socketPath, logger: silentLogger(), maxInFlight, idleTimeoutMs: 5000 });
  const worker = createRegentServer({ bundles: (_req, res) => res.writeHead(200).end('bundle'), app: proxy });
  await listen(worker, { port: 0, host: '127.0.0.1' });
  return (worker.address() as AddressInfo).port;
}

describe('a worker passes what it does not serve to the primary', () => {
  test('method, path, headers and body reach the primary; its answer comes back; the client address is the worker\'s peer, whatever the client claims', async () => {
    let seen: { address: string | undefined; headers: IncomingHttpHeaders; body: string } | undefined;
    const port = await workerBefore((request) => {
      seen = request;
      return { status: 201, body: `got ${request.body}` };
    });
    const answer = await send(port, 'POST', '/api/policies/x?y=1', { 'Content-Type': 'application/json', Authorization: 'Bearer t', [CLIENT_ADDRESS_HEADER]: '203.0.113.9', 'X-Request-Id': 'abc' }, '{"a":1}');
    expect(answer).toMatchObject({ status: 201, body: 'got {"a":1}' });
    expect(answer.headers['x-from']).toBe('primary');
    expect(seen?.address).toBe('127.0.0.1');
    expect(seen?.headers).toMatchObject({ authorization: 'Bearer t', 'x-request-id': 'abc', 'content-type': 'application/json' });
    expect(seen?.headers[CLIENT_ADDRESS_HEADER]).toBeUndefined();
  });

  test('a primary that does not answer gives 503 primary_unavailable, as problem+json', async () => {
    const proxy = createPrimaryProxy({ socketPath: join(tempDirForTest('regent-proxy-'), 'nobody.sock'), logger: silentLogger(), maxInFlight: 8, idleTimeoutMs: 5000 });
    const worker = createRegentServer({ bundles: (_req, res) => res.writeHead(200).end(), app: proxy });
    await listen(worker, { port: 0, host: '127.0.0.1' });
    const answer = await send((worker.address() as AddressInfo).port, 'GET', '/status', {});
    expect(answer.status).toBe(503);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'primary_unavailable' });
  });

  test('outside worker mode a client cannot name its own address', async () => {
    let address: string | undefined;
    const server = createRegentServer({ bundles: (_req, res) => res.end(), app: (req, res) => { address = req.socket.remoteAddress; res.end(); } });
    await listen(server, { port: 0, host: '127.0.0.1' });
    await send((server.address() as AddressInfo).port, 'GET', '/status', { [CLIENT_ADDRESS_HEADER]: '203.0.113.9' });
    expect(address).toBe('127.0.0.1');
  });
});

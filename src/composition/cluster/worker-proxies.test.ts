import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { silentLogger } from '../../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../../test/helpers/temp-dir.js';
import { createWorkerProxies } from './worker-proxies.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => {
    server.closeAllConnections();
    server.close(done);
  })));
});

/** Status and `code` of what `handler` answers to a request for `path` (through a real front server). */
async function through(front: number, path: string): Promise<{ status: number; code?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: front, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: body.startsWith('{') ? (JSON.parse(body) as { code?: string }).code : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function listen(server: Server, where: { path: string } | { port: 0; host: string }): Promise<void> {
  servers.push(server);
  await new Promise<void>((done) => server.listen(where, () => done()));
}

describe("a worker's ways to the primary", () => {
  test('delta bundle requests held at the primary fill their own bound, not the one the admin API and /health go through', async () => {
    const socketPath = join(tempDirForTest('regent-proxies-'), 'primary.sock');
    const held: ServerResponse[] = [];
    // The primary: holds every delta request (a long poll), answers everything else at once.
    await listen(createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.includes('deltas=')) held.push(res);
      else res.writeHead(200, { 'Content-Type': 'text/plain' }).end('primary');
    }), { path: socketPath });
    const proxies = createWorkerProxies({ socketPath, logger: silentLogger(), idleTimeoutMs: 10_000, limits: { app: 2, deltas: 2 } });
    const front = createServer((req, res) => (req.url?.includes('deltas=') ? proxies.deltas : proxies.app)(req, res));
    await listen(front, { port: 0, host: '127.0.0.1' });
    const port = (front.address() as { port: number }).port;

    const polls = [through(port, '/bundles/rbac?deltas=true'), through(port, '/bundles/rbac?deltas=true')];
    while (held.length < 2) await new Promise((done) => setTimeout(done, 20));
    expect(await through(port, '/bundles/rbac?deltas=true')).toEqual({ status: 503, code: 'primary_unavailable' });
    expect(await through(port, '/health/ready')).toEqual({ status: 200, code: undefined });
    expect(await through(port, '/api/revisions')).toEqual({ status: 200, code: undefined });
    for (const res of held) res.writeHead(304).end();
    expect((await Promise.all(polls)).map(({ status }) => status)).toEqual([304, 304]);
  });
});

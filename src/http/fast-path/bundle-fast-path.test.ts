import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import type { BuiltBundle } from '../../domain/bundles/bundle-builder.js';
import { BundleCounters } from '../bundles/bundle-counters.js';
import { createBundleHandler, type BundleHandler } from '../bundles/bundle-handler.js';
import { LongPollWaiters } from '../bundles/long-poll-waiters.js';
import { createRegentServer } from '../regent-server.js';
import { BundleFastPath } from './bundle-fast-path.js';

const ETAG = `"${'ab'.repeat(32)}"`;
const REVISION = 'c'.repeat(40);
const builtBundle = (tarball: Buffer, etag = ETAG) => ({ name: 'rbac', revision: REVISION, manifest: { revision: REVISION, roots: ['rbac'] }, tarball, etag, keyId: 'regent', fileCount: 3 }) as unknown as BuiltBundle;
const catalogOf = (bundle: BuiltBundle) => ({
  get: (name: string) => (name === 'rbac' ? bundle : undefined),
  published: { revision: REVISION, bundles: new Map([['rbac', bundle]]), publishedAt: new Date() },
});

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    if ('closeAllConnections' in server) server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
});

/** Answers everything that is not a bundle: the method, path and body length it got. */
function app(req: IncomingMessage, res: ServerResponse): void {
  let length = 0;
  req.on('data', (chunk: Buffer) => (length += chunk.length));
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`app ${req.method} ${req.url} ${length}`);
  });
}

/** One Regent server with the fast path in front and one without it, over the same bundle handler. */
async function twoServers(served = builtBundle(Buffer.from('a signed tarball'))): Promise<{ fast: number; plain: number; counters: BundleCounters; handlerCalls: () => number; handler: BundleHandler }> {
  const counters = new BundleCounters();
  const handler = createBundleHandler({ catalog: catalogOf(served), waiters: LongPollWaiters.create({ batchSize: 10, logger: pino({ level: 'silent' }) }), longPollMaxSeconds: 1, logger: pino({ level: 'silent' }), counters });
  let calls = 0;
  const counted = Object.assign((req: IncomingMessage, res: ServerResponse) => {
    calls++;
    handler(req, res);
  }, { plain: handler.plain });
  const fast = createRegentServer({ bundles: counted, app });
  const plain = createRegentServer({ bundles: (req, res) => handler(req, res), app });
  return { fast: await listen(fast), plain: await listen(plain), counters, handlerCalls: () => calls, handler };
}

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as AddressInfo).port;
}

/**
 * Sends `parts` on one connection (`wait` ms between them, or one value per gap) and returns all that came back until the
 * server closed it or was silent for `idleMs`, with `Date` values masked; `closed` says whether the
 * server ended the connection. `end`: the client half-closes after the last part.
 */
async function exchange(port: number, parts: string[], options: { wait?: number | number[]; idleMs?: number; end?: boolean } = {}): Promise<{ text: string; closed: boolean }> {
  const socket = connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const ended = new Promise<void>((done) => socket.on('close', () => {
    closed = true;
    done();
  }));
  socket.on('error', () => undefined);
  await new Promise((done) => socket.once('connect', done));
  for (const [index, part] of parts.entries()) {
    if (index > 0) await sleep(Array.isArray(options.wait) ? options.wait[index - 1]! : (options.wait ?? 30));
    if (!socket.destroyed) socket.write(Buffer.from(part, 'latin1'));
  }
  if (options.end && !socket.destroyed) socket.end();
  let seen = -1;
  while (!closed && seen !== received.length) {
    seen = received.length;
    await Promise.race([sleep(options.idleMs ?? 300), ended]);
  }
  socket.destroy();
  return { text: Buffer.concat(received).toString('latin1').replace(/^Date: .*$/gim, 'Date: <masked>'), closed };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const get = (headers: string[], target = '/bundles/rbac', method = 'GET', version = 'HTTP/1.1'): string => `${method} ${target} ${version}\r\n${headers.map((line) => `${line}\r\n`).join('')}\r\n`;
const heartbeat = (extra: string[] = []): string => get(['Host: regent', `If-None-Match: ${ETAG}`, ...extra]);
const statuses = (text: string): string[] => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]!);

describe('the bundle fast path in front of node:http', () => {
  test('answers exact heartbeats itself: the same bytes as node:http, counted, the handler never called', async () => {
    const { fast, plain, counters, handlerCalls } = await twoServers();
    const sent = [heartbeat() + heartbeat(['Prefer: modes=snapshot,delta', 'User-Agent: Open Policy Agent/1.22.2 (linux, amd64)']) + get(['Host: regent', `If-None-Match: ${ETAG}`], '/bundles/rbac', 'HEAD')];
    const fromFast = await exchange(fast, sent);
    expect(statuses(fromFast.text)).toEqual(['304', '304', '304']);
    expect(handlerCalls()).toBe(0);
    expect(counters.notModified).toBe(3);
    expect(fromFast.text).toBe((await exchange(plain, sent)).text);
    expect(fromFast.text).toContain(`ETag: ${ETAG}\r\nCache-Control: private, no-cache\r\nX-Regent-Revision: ${REVISION}\r\nDate: <masked>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n`);
  });

  test('answers plain downloads itself (GET and HEAD, no or a stale If-None-Match): the same bytes as node:http, counted', async () => {
    const { fast, plain, counters, handlerCalls } = await twoServers();
    const sent = [get(['Host: regent']) + get(['Host: regent', 'If-None-Match: "stale"', 'Prefer: modes=snapshot,delta']) + get(['Host: regent'], '/bundles/rbac', 'HEAD')];
    const fromFast = await exchange(fast, sent);
    expect(statuses(fromFast.text)).toEqual(['200', '200', '200']);
    expect(handlerCalls()).toBe(0);
    expect(counters).toMatchObject({ ok: 3, bytesSent: 2 * 'a signed tarball'.length });
    expect(fromFast.text).toBe((await exchange(plain, sent)).text);
    expect(fromFast.text.split('a signed tarball')).toHaveLength(3);
  });

  test('a client that pipelines downloads of a large bundle without reading them is handed to node:http, which holds it: memory stays bounded', async () => {
    const large = builtBundle(Buffer.alloc(1 << 20, 7));
    const { fast } = await twoServers(large);
    let serverSide: Socket | undefined;
    servers[0]!.on('connection', (socket: Socket) => (serverSide = socket));
    const client = connect(fast, '127.0.0.1');
    await new Promise((done) => client.once('connect', done));
    client.pause();
    const requests = 40;
    client.write(get(['Host: regent']).repeat(requests));
    await sleep(500);
    expect(serverSide!.writableLength).toBeLessThan(4 << 20);
    let bytes = 0;
    client.on('data', (chunk: Buffer) => (bytes += chunk.length));
    client.resume();
    while (bytes < requests * (1 << 20)) await sleep(50);
    await sleep(100);
    expect(bytes).toBeGreaterThan(requests * (1 << 20));
    expect(bytes).toBeLessThan(requests * ((1 << 20) + 1000));
    client.destroy();
  });

  // Each sequence goes to both servers; what comes back must be the same, byte for byte (but Date).
  test.each([
    ['a malformed If-None-Match', [get(['Host: regent', 'If-None-Match: no-quotes'])]],
    ['an empty If-None-Match', [get(['Host: regent', 'If-None-Match:'])]],
    ['a weak or listed ETag, and *', [get(['Host: regent', `If-None-Match: W/${ETAG}`]) + get(['Host: regent', `If-None-Match: "x", ${ETAG}`]) + get(['Host: regent', 'If-None-Match: *'])]],
    ['an unknown bundle between heartbeats', [heartbeat() + get(['Host: regent', `If-None-Match: ${ETAG}`], '/bundles/nope') + heartbeat()]],
    ['an admin call with a body after heartbeats', [heartbeat() + heartbeat() + 'POST /api/policies HTTP/1.1\r\nHost: regent\r\nContent-Length: 5\r\n\r\nhello' + heartbeat()]],
    // (Each in its own packet after a heartbeat: node:http itself drops pipelined answers after a request it cannot
    // keep the connection for, where the fast path, which answered the heartbeat already, does not.)
    ['Connection: close', [heartbeat(), heartbeat(['Connection: close']) + heartbeat()]],
    ['a head split over two packets', [heartbeat().slice(0, 30), heartbeat().slice(30)]],
    ['a head split inside its blank line', [heartbeat().slice(0, -1), `${heartbeat().slice(-1)}${heartbeat()}`]],
    ['a heartbeat, then a second one in pieces', [heartbeat() + heartbeat().slice(0, 10), heartbeat().slice(10)]],
    ['HTTP/1.0', [get(['Host: regent', `If-None-Match: ${ETAG}`], '/bundles/rbac', 'GET', 'HTTP/1.0')]],
    ['no Host', [get([`If-None-Match: ${ETAG}`])]],
    ['a query (delta bundles)', [get(['Host: regent', `If-None-Match: ${ETAG}`], '/bundles/rbac?deltas=true')]],
    ['a percent-escape that does not decode', [get(['Host: regent', `If-None-Match: ${ETAG}`], '/bundles/%ff')]],
    ['a malformed Prefer', [heartbeat(['Prefer: wait=soon'])]],
    ['obs-fold after heartbeats', [heartbeat(), heartbeat(['X-Folded: a', ' b'])]],
    ['a bare LF', [heartbeat(), `GET /bundles/rbac HTTP/1.1\r\nHost: regent\nIf-None-Match: ${ETAG}\r\n\r\n`]],
    ['a NUL in a header', [heartbeat(['X-Nul: a\u0000b'])]],
    ['a head with bare LFs only, whole in one packet', [heartbeat().replace(/\r\n/g, '\n')]],
    ['the start of a head with a byte no plain head holds', [heartbeat(), 'GET /bundles/rbac HTTP/1.1\r\nHost: regent\r\nX-Nul: a\u0000b']],
    ['a smuggled request in a chunked GET body', [`GET /bundles/rbac HTTP/1.1\r\nHost: regent\r\nIf-None-Match: ${ETAG}\r\nTransfer-Encoding: chunked\r\n\r\n${(heartbeat().length).toString(16)}\r\n${heartbeat()}\r\n0\r\n\r\n${heartbeat()}`]],
    ['a smuggled request in a GET body with Content-Length', [`GET /bundles/rbac HTTP/1.1\r\nHost: regent\r\nIf-None-Match: ${ETAG}\r\nContent-Length: ${heartbeat().length}\r\n\r\n${heartbeat()}`]],
    ['Content-Length and Transfer-Encoding together', [`GET /bundles/rbac HTTP/1.1\r\nHost: regent\r\nIf-None-Match: ${ETAG}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`]],
    ['Expect: 100-continue', [heartbeat(['Expect: 100-continue'])]],
    ['Proxy-Connection: close (node:http reads it as Connection)', [heartbeat(['Proxy-Connection: close']) + heartbeat()]],
    ['an If-None-Match after 2000 headers (node:http ignores it)', [get(['Host: regent', ...Array.from({ length: 2000 }, () => 'a:b'), `If-None-Match: ${ETAG}`])]],
    ['a head over 16 KiB', [heartbeat(), heartbeat([`X-Big: ${'a'.repeat(17_000)}`])]],
    ['a method the bundles refuse', [heartbeat() + get(['Host: regent', `If-None-Match: ${ETAG}`], '/bundles/rbac', 'DELETE')]],
    ['garbage', [heartbeat(), 'HELLO\r\n\r\n']],
  ])('leaves %s to node:http, which answers as without the fast path', async (_name, parts) => {
    const { fast, plain } = await twoServers();
    const fromFast = await exchange(fast, parts);
    const fromPlain = await exchange(plain, parts);
    expect(statuses(fromPlain.text).length).toBeGreaterThan(0);
    expect(fromFast).toEqual(fromPlain);
  });

  test('a plain head split over packets, at any offset, is still answered from the socket, with the same bytes', async () => {
    const { fast, handlerCalls, counters } = await twoServers();
    const whole = heartbeat(['Authorization: Bearer a-token-long-enough-to-be-split', 'Prefer: modes=snapshot,delta']);
    const expected = (await exchange(fast, [whole])).text;
    for (let offset = 1; offset < whole.length; offset++) {
      const { text } = await exchange(fast, [whole.slice(0, offset), whole.slice(offset) + heartbeat()], { wait: 5, idleMs: 100 });
      expect(text, `split at ${offset}`).toBe(expected + expected);
    }
    expect(handlerCalls()).toBe(0);
    expect(counters.notModified).toBe(1 + 2 * (whole.length - 1));
  });

  test.each([
    ['the start of a heartbeat', [heartbeat().slice(0, 30)]],
    ['a heartbeat and the start of another', [heartbeat() + heartbeat().slice(0, 30)]],
    ['a heartbeat cut inside its blank line, in two packets', [heartbeat().slice(0, 40), heartbeat().slice(40, -1)]],
  ])('a client that half-closes after %s gets node:http\'s answer to the cut head, as without the fast path', async (_name, parts) => {
    const { fast, plain } = await twoServers();
    const fromFast = await exchange(fast, parts, { end: true });
    const fromPlain = await exchange(plain, parts, { end: true });
    expect(statuses(fromPlain.text)).toContain('400');
    expect(fromFast).toEqual(fromPlain);
  });

  test('shutting down while a heartbeat\'s head is still arriving leaves it to node:http, which answers it, as without the fast path', async () => {
    const { fast, plain } = await twoServers();
    const [fastServer, plainServer] = servers;
    const shutDown = (server: Server) => setTimeout(() => {
      server.close();
      server.closeIdleConnections();
    }, 100);
    const parts = [heartbeat().slice(0, 30), heartbeat().slice(30)];
    shutDown(fastServer!);
    shutDown(plainServer!);
    const [fromFast, fromPlain] = await Promise.all([exchange(fast, parts, { wait: 250 }), exchange(plain, parts, { wait: 250 })]);
    expect(statuses(fromPlain.text)).toEqual(['304']);
    expect(fromFast).toEqual(fromPlain);
  });

  test('a long poll after heartbeats on the same connection is held by the handler, as always', async () => {
    const { fast, handlerCalls } = await twoServers();
    const started = performance.now();
    const { text } = await exchange(fast, [heartbeat() + heartbeat(['Prefer: modes=snapshot,delta;wait=1'])], { idleMs: 1500 });
    expect(statuses(text)).toEqual(['304', '304']);
    expect(text).toContain('Preference-Applied: wait=1');
    expect(handlerCalls()).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(850);
  });

  test('a client that sends faster than it reads is not read further: the answers waiting stay bounded', async () => {
    const { fast } = await twoServers();
    const server = servers[0]!;
    let serverSide: Socket | undefined;
    server.on('connection', (socket: Socket) => (serverSide = socket));
    const requests = 100_000;
    const client = connect(fast, '127.0.0.1');
    client.on('error', () => undefined);
    await new Promise((done) => client.once('connect', done));
    client.pause();
    client.write(heartbeat().repeat(requests));
    // Until the answers fill what the kernel buffers (how soon depends on the machine's load), then a while longer.
    for (let waited = 0; !(serverSide && serverSide.writableLength > 0) && waited < 20_000; waited += 50) await sleep(50);
    await sleep(300);
    const waiting = serverSide!.writableLength;
    expect(waiting).toBeGreaterThan(0);
    expect(waiting).toBeLessThan(1 << 20);
    let received = '';
    client.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    client.resume();
    while (statuses(received).length < requests) await sleep(50);
    expect(statuses(received).every((status) => status === '304')).toBe(true);
    client.destroy();
  });

  test('shutting down ends idle fast-path connections at once', async () => {
    const { fast } = await twoServers();
    const server = servers.shift()!;
    const client = connect(fast, '127.0.0.1');
    client.write(heartbeat());
    await new Promise((done) => client.once('data', done));
    const ended = new Promise((done) => client.on('end', done));
    const started = performance.now();
    await new Promise((done) => server.close(done));
    await ended;
    expect(performance.now() - started).toBeLessThan(2000);
    client.destroy();
    servers.shift();
  });

  test('a request that arrives once shutting down began is not answered, and its connection is cut', async () => {
    const { fast, counters } = await twoServers();
    const server = servers.shift()!;
    const client = connect(fast, '127.0.0.1');
    client.on('error', () => undefined);
    client.write(heartbeat());
    await new Promise((done) => client.once('data', done));
    let after = '';
    client.on('data', (chunk: Buffer) => (after += chunk.toString('latin1')));
    const closed = new Promise((done) => client.on('close', done));
    server.closeIdleConnections();
    client.write(heartbeat());
    await closed;
    expect(after).toBe('');
    expect(counters.notModified).toBe(1);
    await new Promise((done) => server.close(done));
  });

  test('shutting down: closeAllConnections ends a download still being written on the fast path, as it does on node:http', async () => {
    const size = 8 << 20;
    const { fast, plain } = await twoServers(builtBundle(Buffer.alloc(size, 7)));
    const [fastServer, plainServer] = servers.splice(0, 2);
    for (const [port, server] of [[fast, fastServer!], [plain, plainServer!]] as const) {
      const client = connect(port, '127.0.0.1');
      client.on('error', () => undefined);
      await new Promise((done) => client.once('connect', done));
      let received = 0;
      // A client that reads, but slowly: the download takes seconds.
      client.on('data', (chunk: Buffer) => {
        received += chunk.length;
        client.pause();
        setTimeout(() => client.resume(), 50);
      });
      const clientClosed = new Promise((done) => client.on('close', done));
      client.write(get(['Host: regent']));
      while (received === 0) await sleep(20);
      const serverClosed = new Promise((done) => server.close(done));
      server.closeIdleConnections();
      server.closeAllConnections();
      await serverClosed;
      await clientClosed;
      expect(received).toBeLessThan(size);
    }
  });
});

describe('BundleFastPath', () => {
  const heartbeatOfX = get(['Host: x', 'If-None-Match: "e"'], '/bundles/x');
  const startOfX = 'GET /bundles/x HTTP/1.1\r\nHost: x\r\n';
  /** A fast path answering `GET /bundles/x` heartbeats with a fixed 304, node:http behind it. */
  async function withFastPath(timeouts: { firstRequestTimeoutMs: number; keepAliveTimeoutMs: number }): Promise<{ port: number; fastPath: BundleFastPath }> {
    const http = createHttpServer((_req, res) => res.end('from node:http'));
    const fastPath = new BundleFastPath({
      answer: (head) => (head.target === '/bundles/x' ? [Buffer.from('HTTP/1.1 304 Not Modified\r\n\r\n')] : undefined),
      handOver: (socket) => http.emit('connection', socket),
      maxHeadBytes: 16_384,
      ...timeouts,
    });
    const net = createNetServer((socket) => fastPath.adopt(socket));
    servers.push(net as unknown as Server);
    await new Promise<void>((done) => net.listen(0, '127.0.0.1', done));
    return { port: (net.address() as AddressInfo).port, fastPath };
  }

  test('a connection silent from the start, or idle after its answers, is closed; one handed over is not its to close', async () => {
    const { port, fastPath } = await withFastPath({ firstRequestTimeoutMs: 300, keepAliveTimeoutMs: 150 });
    const silent = exchange(port, [], { idleMs: 2000 });
    const idle = exchange(port, [get(['Host: x', 'If-None-Match: "e"'], '/bundles/x')], { idleMs: 2000 });
    const handedOver = exchange(port, [get(['Host: x'], '/other')], { idleMs: 1000 });
    expect((await silent).closed).toBe(true);
    const answered = await idle;
    expect(answered.closed).toBe(true);
    expect(statuses(answered.text)).toEqual(['304']);
    const other = await handedOver;
    expect(other.text).toContain('from node:http');
    expect(other.closed).toBe(false);
    expect(fastPath.size).toBe(0);
  });

  test('the start of a plain head whose end does not come in time is given to node:http, with the bytes already read', async () => {
    const { port } = await withFastPath({ firstRequestTimeoutMs: 200, keepAliveTimeoutMs: 5000 });
    const start = 'GET /bundles/x HTTP/1.1\r\nHost: x\r\n';
    const { text } = await exchange(port, [start, 'If-None-Match: "e"\r\n\r\n'], { wait: 400, idleMs: 500 });
    expect(text).toContain('from node:http');
    expect(statuses(text)).toEqual(['200']);
  });

  test.each([
    ['in the packet of the answered one', [heartbeatOfX + startOfX], [500]],
    ['in a later packet', [heartbeatOfX, startOfX], [100, 500]],
  ])('the start of a head after an answer, %s, is closed with the connection when it stays idle for the keep-alive timeout, as node:http does', async (_name, sent, wait) => {
    const { port } = await withFastPath({ firstRequestTimeoutMs: 5000, keepAliveTimeoutMs: 300 });
    const { text, closed } = await exchange(port, [...sent, 'If-None-Match: "e"\r\n\r\n'], { wait, idleMs: 500 });
    expect(statuses(text)).toEqual(['304']);
    expect(text).not.toContain('from node:http');
    expect(closed).toBe(true);
  });

  test('a plain head dribbled over more than a few reads is given to node:http', async () => {
    const { port } = await withFastPath({ firstRequestTimeoutMs: 5000, keepAliveTimeoutMs: 5000 });
    const whole = get(['Host: x', 'If-None-Match: "e"'], '/bundles/x');
    const pieces = [...Array(8).keys()].map((index) => whole.slice(index * 8, index === 7 ? undefined : (index + 1) * 8));
    const { text } = await exchange(port, pieces, { wait: 20 });
    expect(text).toContain('from node:http');
  });

  test('bytes that cannot start a plain request are node:http\'s at once, complete or not', async () => {
    const { port } = await withFastPath({ firstRequestTimeoutMs: 5000, keepAliveTimeoutMs: 5000 });
    const { text } = await exchange(port, ['POST /bundles/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n', '\r\nok'], { wait: 50 });
    expect(text).toContain('from node:http');
  });

  test('a client that half-closes after its heartbeat gets its answer and the end of the connection', async () => {
    const { port } = await withFastPath({ firstRequestTimeoutMs: 5000, keepAliveTimeoutMs: 5000 });
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const closed = new Promise((done) => socket.on('close', done));
    socket.end(get(['Host: x', 'If-None-Match: "e"'], '/bundles/x'));
    await closed;
    expect(statuses(received)).toEqual(['304']);
  });
});

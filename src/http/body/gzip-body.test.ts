import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, onTestFinished, test } from 'vitest';
import { readCompressedBody } from './gzip-body.js';

/** A real server whose handler waits until the request is closed, then reads its body. */
async function readAfterClose(): Promise<{ port: number; outcome: Promise<string> }> {
  let report: (outcome: string) => void = () => undefined;
  const outcome = new Promise<string>((resolve) => {
    report = resolve;
  });
  const server = createServer((req: IncomingMessage) => {
    req.once('close', () => {
      readCompressedBody(req, { maxBytes: 1024, maxDecompressedBytes: 4096, timeoutMs: 60_000 }).then(
        (body) => report(`read ${body.bytes.length} bytes`),
        (error: { code?: string }) => report(error.code ?? 'unknown error'),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => new Promise<void>((done) => server.close(() => done())));
  return { port: (server.address() as AddressInfo).port, outcome };
}

describe('readCompressedBody', () => {
  test('a request whose client went away before the read started is refused at once as request_aborted', async () => {
    const { port, outcome } = await readAfterClose();
    const client = request({ host: '127.0.0.1', port, method: 'POST', path: '/logs', headers: { 'Content-Length': 100 } });
    client.on('error', () => undefined);
    client.write('[');
    await new Promise((resolve) => setTimeout(resolve, 100));
    client.destroy();
    // Before, listeners were attached to a closed stream that never emits again: this never settled.
    expect(await outcome).toBe('request_aborted');
  });
});

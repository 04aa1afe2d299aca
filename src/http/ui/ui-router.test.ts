import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { createErrorHandler, notFoundHandler } from '../error-handler.js';
import { loadUiAssets, MAX_UI_FILE_BYTES } from './static-assets.js';
import { createUiRouter } from './ui-router.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'regent-ui-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function serve(dir: string): Promise<string> {
  const app = express();
  app.use(createUiRouter(await loadUiAssets(dir)));
  app.use(notFoundHandler);
  app.use(createErrorHandler(pino({ level: 'silent' })));
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the web view router', () => {
  test('answers 503 ui_not_built, saying to run npm run build, when the folder is missing', async () => {
    const url = await serve(join(tempDir(), 'missing'));
    const response = await fetch(`${url}/ui/`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await response.json()) as { code: string; detail: string };
    expect(problem.code).toBe('ui_not_built');
    expect(problem.detail).toContain("run 'npm run build'");
  });

  test('serves only files of known kinds with safe names, read once into memory', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(dir, 'app-ABCDEFGH.js'), 'export {};');
    writeFileSync(join(dir, 'notes.md'), '# not served');
    writeFileSync(join(dir, '.hidden.js'), 'secret');
    const url = await serve(dir);
    writeFileSync(join(dir, 'index.html'), 'changed after start');
    expect(await (await fetch(`${url}/ui/`)).text()).toBe('<!doctype html><title>t</title>');
    expect((await fetch(`${url}/ui/app-ABCDEFGH.js`)).headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${url}/ui/notes.md`)).status).toBe(404);
    expect((await fetch(`${url}/ui/.hidden.js`)).status).toBe(404);
  });

  test('refuses to load a file over the size bound', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'index.html'), Buffer.alloc(MAX_UI_FILE_BYTES + 1, 0x20));
    await expect(loadUiAssets(dir)).rejects.toThrow(/over the 8388608-byte limit/);
  });
});

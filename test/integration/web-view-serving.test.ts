import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { UI_CONTENT_SECURITY_POLICY } from '../../src/http/ui/ui-router.js';
import { rawRequest } from '../helpers/admin-client.js';
import { PROJECT_ROOT } from '../helpers/regent-process.js';
import { startTestRegent } from '../helpers/start-regent.js';

const BUILT = readdirSync(join(PROJECT_ROOT, 'dist', 'ui'));
const SCRIPT = BUILT.find((name) => /^app-[A-Z0-9]{8}\.js$/.test(name))!;
const STYLE = BUILT.find((name) => /^style-[A-Z0-9]{8}\.css$/.test(name))!;

describe('the web view is served at /ui by Express', () => {
  test('/ui redirects to /ui/, whose page loads only its own script and style sheet under a strict CSP, with no inline script', async () => {
    const regent = await startTestRegent();
    const redirect = await fetch(`${regent.url}/ui`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/ui/');

    const page = await fetch(`${regent.url}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(UI_CONTENT_SECURITY_POLICY);
    expect(UI_CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
    expect(UI_CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(UI_CONTENT_SECURITY_POLICY).not.toContain('unsafe');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('set-cookie')).toBeNull();
    // Express answered (its request logger sets X-Request-Id), not the bundle handler.
    expect(page.headers.get('x-request-id')).toMatch(/.+/);
    const html = await page.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map(([, attributes, body]) => [attributes!.trim(), body])).toEqual([[`type="module" src="${SCRIPT}"`, '']]);
    expect(html).toContain(`<link rel="stylesheet" href="${STYLE}">`);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect(html).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);

    const again = await fetch(`${regent.url}/ui/`, { headers: { 'If-None-Match': page.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  test('its files are served with their content types; content-hashed ones are cached for a year', async () => {
    const regent = await startTestRegent();
    for (const [name, contentType] of [[SCRIPT, 'text/javascript; charset=utf-8'], [STYLE, 'text/css; charset=utf-8'], ['icon.svg', 'image/svg+xml']] as const) {
      const response = await fetch(`${regent.url}/ui/${name}`);
      expect(response.status, name).toBe(200);
      expect(response.headers.get('content-type'), name).toBe(contentType);
      expect(response.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(response.headers.get('cache-control'), name).toBe(name === 'icon.svg' ? 'no-cache' : 'public, max-age=31536000, immutable');
      const body = Buffer.from(await response.arrayBuffer());
      expect(Number(response.headers.get('content-length')), name).toBe(body.length);
      const head = await fetch(`${regent.url}/ui/${name}`, { method: 'HEAD' });
      expect(head.status, name).toBe(200);
      expect(head.headers.get('content-length'), name).toBe(String(body.length));
    }
  });

  test('the bundled script makes no request to another origin', async () => {
    const regent = await startTestRegent();
    const script = await (await fetch(`${regent.url}/ui/${SCRIPT}`)).text();
    expect(script).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(script).not.toMatch(/\beval\(|new Function\(/);
  });

  test('anything else under /ui is route_not_found: no other file, no path escape, no other method', async () => {
    const regent = await startTestRegent();
    for (const [method, path] of [['GET', '/ui/nope.js'], ['GET', '/ui/..%2fpackage.json'], ['GET', '/ui/%2e%2e/package.json'], ['GET', '/ui/sub/index.html'], ['POST', '/ui/'], ['GET', '/uix']]) {
      const response = await rawRequest(regent.url, method!, path!, undefined, {});
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(((await response.json()) as { code: string }).code, `${method} ${path}`).toBe('route_not_found');
    }
  });
});

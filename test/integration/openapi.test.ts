import type { Express } from 'express';
import { describe, expect, test } from 'vitest';
import { openApiDocument } from '../../src/http/openapi-document.js';
import { adminClient } from '../helpers/admin-client.js';
import { startTestRegent } from '../helpers/start-regent.js';

const HTTP_METHODS = ['get', 'head', 'put', 'post', 'delete', 'patch', 'options'] as const;

interface Layer {
  rawPath?: string | string[];
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

/** `:name` and `*name` segments as OpenAPI `{name}`. */
function toOpenApiPath(expressPath: string): string {
  return expressPath.replace(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

/** Every `METHOD path` the Express app routes, walking mounted routers (Express 5 / router 2 layers). */
function expressRoutes(app: Express): string[] {
  const routes: string[] = [];
  const walk = (stack: Layer[], prefix: string): void => {
    for (const layer of stack) {
      if (layer.route) {
        for (const path of Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path]) {
          for (const method of Object.keys(layer.route.methods)) {
            if (method !== '_all') routes.push(`${method.toUpperCase()} ${toOpenApiPath(prefix + path)}`);
          }
        }
      } else if (layer.handle.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return routes;
}

/** The bundle hot path is bare node:http in front of Express; it answers these two. */
const BUNDLE_HANDLER_ROUTES = ['GET /bundles/{name}', 'HEAD /bundles/{name}'];

function documentedRoutes(): string[] {
  return Object.entries(openApiDocument.paths).flatMap(([path, item]) =>
    HTTP_METHODS.filter((method) => method in item).map((method) => `${method.toUpperCase()} ${path}`));
}

describe('the OpenAPI document served by Regent', () => {
  test('documents exactly the routes Regent has, and is served without a token', async () => {
    const regent = await startTestRegent();
    const served = expressRoutes(regent.app);
    // The walk found the admin routers, so a regression in it cannot make this test vacuous.
    expect(served).toContain('PUT /api/policies/{path}');
    expect(served).toContain('GET /api/audit');
    const actual = [...served, ...BUNDLE_HANDLER_ROUTES].sort();
    expect(actual).toEqual([...new Set(actual)].sort());
    expect(documentedRoutes().sort()).toEqual(actual);

    const response = await fetch(`${regent.url}/api/openapi.json`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(body.openapi).toBe('3.1.0');
    expect(Object.keys(body.paths).sort()).toEqual(Object.keys(openApiDocument.paths).sort());
  });

  test('every documented admin operation is routed (an admin never gets route_not_found)', async () => {
    const regent = await startTestRegent({ config: { environments: [{ name: 'prod', ref: 'tags/prod' }] } });
    const admin = adminClient(regent, { sub: 'ada', role: 'admin' });
    const head = (await regent.store.head())!;
    const concrete = (path: string): string => path.replace('{path}', 'rbac/policy.rego').replace('{revision}', head).replace('{name}', 'rbac').replace('{environment}', 'prod');
    for (const route of documentedRoutes()) {
      const [method, path] = route.split(' ') as [string, string];
      if (method === 'GET' || method === 'HEAD') {
        const response = await fetch(`${regent.url}${concrete(path)}`, { method, headers: { Authorization: `Bearer ${admin.token}` } });
        expect.soft(response.status, route).not.toBe(404);
        continue;
      }
      // Writes are sent without a body: each must reach its handler and be refused on its input, not be unknown.
      const response = await fetch(`${regent.url}${concrete(path)}`, { method, headers: { Authorization: `Bearer ${admin.token}` } });
      const body = (await response.json()) as { code: string };
      expect.soft(body.code, route).not.toBe('route_not_found');
      expect.soft(response.status, route).toBeGreaterThanOrEqual(400);
      expect.soft(response.status, route).toBeLessThan(500);
    }
    expect(await regent.store.head()).toBe(head);
  });
});

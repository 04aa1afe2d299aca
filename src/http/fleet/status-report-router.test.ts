import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, onTestFinished, test } from 'vitest';
import { silentLogger } from '../../../test/helpers/git-repo.js';
import { FleetRegistry } from '../../domain/fleet/fleet-registry.js';
import { createErrorHandler } from '../error-handler.js';
import { createStatusReportRouter, type StatusReportRouterDeps } from './status-report-router.js';

async function serve(deps: Omit<StatusReportRouterDeps, 'registry' | 'body'>) {
  const registry = FleetRegistry.create({ maxAgents: 10, maxStoredBytes: 1 << 20, staleAfterMs: 60_000 });
  const app = express();
  app.use(createStatusReportRouter({ registry, body: { maxBytes: 64 * 1024, maxDepth: 100 }, ...deps }));
  app.use(createErrorHandler(silentLogger()));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => new Promise<void>((done) => server.close(() => done())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/status`;
  const post = (body: unknown, headers: Record<string, string> = {}, path = '') => fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { registry, post };
}

const report = { labels: { id: 'agent-1', version: '1.22.2' }, bundles: { rbac: { name: 'rbac', active_revision: 'a'.repeat(40) } } };

describe('POST /status', () => {
  test('outside development mode, without a report token configured, reports are refused and kept nowhere', async () => {
    const { registry, post } = await serve({ acceptWithoutToken: false });
    const response = await post(report);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'fleet_reports_disabled', field: 'fleet.reportToken' });
    expect(registry.snapshot().agents).toEqual([]);
  });

  test('too many bundles in one report is refused, so one agent cannot take much memory', async () => {
    const { registry, post } = await serve({ acceptWithoutToken: true });
    const bundles = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`b${i}`, { name: `b${i}` }]));
    const response = await post({ labels: { id: 'greedy' }, bundles });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'invalid_status_report', field: 'bundles' });
    expect((await post(report)).status).toBe(200);
    expect(registry.snapshot().agents.map((agent) => agent.agentId)).toEqual(['agent-1']);
  });

  test('a partition is checked segment by segment after escapes are decoded: an escaped slash cannot smuggle in . or ..', async () => {
    const { registry, post } = await serve({ acceptWithoutToken: true });
    for (const path of ['/a%2F..%2Fb', '/a%2F.%2Fb', '/..%2Fb', '/a/b%2F..', '/a%2Fb%2Fc%2Fd%2Fe']) {
      const response = await post(report, {}, path);
      expect.soft(response.status, path).toBe(400);
      expect.soft(await response.json(), path).toMatchObject({ code: 'invalid_status_report', field: 'partition' });
    }
    expect(registry.snapshot().agents).toEqual([]);
    // An escaped slash between good segments is the same partition as a real one.
    expect((await post(report, {}, '/eu%2Fwest')).status).toBe(200);
    expect(registry.snapshot().agents.map((agent) => agent.partition)).toEqual(['eu/west']);
  });
});

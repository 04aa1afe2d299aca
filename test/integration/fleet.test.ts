import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import type { AgentView, BundleConvergence } from '../../src/domain/fleet/fleet-registry.js';
import { adminClient } from '../helpers/admin-client.js';
import { eventually, agentOptionsFor, startOpaAgent } from '../helpers/opa-agent.js';
import { startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;
interface FleetView { agents: AgentView[]; bundles: BundleConvergence[]; total: number; nextCursor: string | null }

async function agentFor(regent: Regent, options: { bearerToken?: string } = {}) {
  const agent = await startOpaAgent({
    ...agentOptionsFor(regent),
    reportStatus: true,
    ...options,
  });
  await agent.waitUntilReady();
  return agent;
}

describe('fleet: real OPA agents report their status to Regent', () => {
  test('an agent shows up with the revision it enforces; after a commit the fleet converges on the new one', async () => {
    const regent = await startTestRegent();
    const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });
    const agent = await agentFor(regent);
    const fleet = async (): Promise<FleetView> => (await (await auditor.get('/api/fleet')).json()) as FleetView;
    const head = (await regent.store.head())!;

    const converged = async (revision: string): Promise<boolean> => {
      const view = await fleet();
      return ['datasets', 'rbac'].every((name) => view.bundles.some((bundle) => bundle.name === name && bundle.servedRevision === revision && bundle.agents === 1 && bundle.onServedRevision === 1 && bundle.convergenceMs !== undefined));
    };
    await eventually(() => converged(head), 15_000, () => agent.logs().slice(-2000));
    const view = await fleet();
    expect(view.agents).toHaveLength(1);
    expect(view.agents[0]).toMatchObject({ stale: false, labels: { version: '1.22.2' } });
    expect(view.agents[0]!.bundles.map((bundle) => bundle.activeRevision)).toEqual([head, head]);

    const data = readFileSync(`${import.meta.dirname}/../../policies-repo/rbac/data.json`);
    const next = await regent.store.commit({
      changes: [{ op: 'put', path: 'rbac/data.json', content: Buffer.from(data.toString().replace('"users": {', '"users": {\n    "fleet-probe": {"active": true},')) }],
      message: 'Add a user', author: { name: 'Test', email: 'test@example.test' }, expectedHead: head,
    });
    await eventually(() => converged(next.revision), 15_000, () => agent.logs().slice(-2000));
    expect((await fleet()).bundles.find((bundle) => bundle.name === 'rbac')!.revisions).toEqual({ [next.revision]: 1 });
  });

  test('a report token, when configured, is required; bad reports get 400 naming the field; the view needs auditor', async () => {
    const token = 'fleet-report-token-0123456789';
    const regent = await startTestRegent({ config: { fleet: { reportToken: token } } });
    const report = { labels: { id: 'probe-1', version: '1.22.2' }, bundles: { rbac: { name: 'rbac', active_revision: 'x' } } };
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${regent.url}/status`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });

    const anonymous = await post(report);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'report_token_invalid' });
    expect((await post(report, { Authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);

    const bad = await post({ labels: { version: '1' } }, { Authorization: `Bearer ${token}` });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'invalid_status_report', field: 'labels.id' });

    expect((await post(report, { Authorization: `Bearer ${token}` })).status).toBe(200);
    const partitioned = await fetch(`${regent.url}/status/eu-west`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ ...report, labels: { id: 'probe-2' } }) });
    expect(partitioned.status).toBe(200);

    const viewer = adminClient(regent, { sub: 'vic', role: 'viewer' });
    expect((await viewer.get('/api/fleet')).status).toBe(403);
    const view = (await (await adminClient(regent, { sub: 'ada', role: 'auditor' }).get('/api/fleet')).json()) as FleetView;
    expect(view.agents.map((agent) => agent.agentId).sort()).toEqual(['probe-1', 'probe-2']);

    // A real agent with the token reports too.
    const agent = await agentFor(regent, { bearerToken: token });
    await eventually(async () => ((await (await adminClient(regent, { sub: 'ada', role: 'auditor' }).get('/api/fleet')).json()) as FleetView).agents.length === 3, 15_000, () => agent.logs().slice(-2000));
  });

  test('the fleet survives a restart (kept in the data directory)', async () => {
    const first = await startTestRegent({ keepRunning: true, config: { fleet: { snapshotIntervalMs: 100 } } });
    const report = { labels: { id: 'probe-restart' }, bundles: {} };
    expect((await fetch(`${first.url}/status`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(report) })).status).toBe(200);
    await first.close();
    const second = await startTestRegent({ dataDir: first.dataDir });
    const view = (await (await adminClient(second, { sub: 'ada', role: 'auditor' }).get('/api/fleet')).json()) as FleetView;
    expect(view.agents.map((agent) => agent.agentId)).toEqual(['probe-restart']);
  });
});

import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { rawRequest } from '../helpers/admin-client.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { histogramCount, sample, scrape, type MetricFamily } from '../helpers/prometheus.js';
import { startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;

async function commitFile(regent: Regent, path: string, content: string): Promise<string> {
  const head = (await regent.store.head())!;
  const { revision } = await regent.store.commit({
    changes: [{ op: 'put', path, content: Buffer.from(content) }], message: `Write ${path}`, author: { name: 'Test', email: 'test@example.test' }, expectedHead: head,
  });
  return revision;
}

describe('GET /metrics', () => {
  test('speaks Prometheus text format, names everything regent_*, and its counters move as agents pull, long polls are released, decisions arrive and revisions fail', async () => {
    const regent = await startTestRegent();
    const text = await (await fetch(`${regent.url}/metrics`)).text();
    // What the outside check greps for.
    expect(text).toMatch(/^# TYPE /m);
    expect(text).toMatch(/^regent_[a-z_]*(long_?poll|wait)/m);
    const m0 = await scrape(regent.url);
    expect(m0.length).toBeGreaterThan(30);
    for (const family of m0) expect(family.name).toMatch(/^regent_[a-z0-9_]+$/);
    const head0 = (await regent.store.head())!;
    expect(sample(m0, 'regent_revision_info', { role: 'active', revision: head0 })).toBe(1);
    expect(sample(m0, 'regent_head_active_equal', { environment: '' })).toBe(1);
    expect(sample(m0, 'regent_audit_chain_ok')).toBe(1);
    expect(sample(m0, 'regent_opa_max_concurrency')).toBeGreaterThanOrEqual(1);
    expect(histogramCount(text, 'regent_activation_step_seconds', { step: 'gate' })).toBe(1);
    expect(sample(m0, 'regent_activations_total', { outcome: 'activated' })).toBe(1);

    // A real agent pulls both bundles (200), then long-polls them; it reports status and decisions.
    const agent = await startOpaAgent({ ...agentOptionsFor(regent), reportStatus: true, decisionLogs: true, labels: { name: 'metrics-agent' } });
    await agent.waitUntilReady();
    let m1: MetricFamily[] = [];
    await eventually(async () => {
      m1 = await scrape(regent.url);
      return sample(m1, 'regent_long_polls_held', { environment: '' }) === 2 && sample(m1, 'regent_fleet_agents', { state: 'live' }) === 1;
    }, 60_000, () => agent.logs().slice(-1000));
    expect(sample(m1, 'regent_bundle_responses_total', { status: '200' })).toBe(2);
    expect(sample(m1, 'regent_http_requests_total', { route: '/bundles/:name', status: '200' })).toBe(2);
    expect(sample(m1, 'regent_http_response_bytes_total', { route: '/bundles/:name' })).toBeGreaterThan(1000);
    expect(sample(m1, 'regent_http_requests_total', { route: '/status', status: '200' })).toBeGreaterThanOrEqual(1);

    // An unchanged bundle asked for without a long poll: the 304 fast path counts it.
    const etag = (await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag')!;
    const before304 = sample(await scrape(regent.url), 'regent_bundle_responses_total', { status: '304' })!;
    for (let i = 0; i < 3; i++) expect((await rawRequest(regent.url, 'GET', '/bundles/rbac', undefined, { 'If-None-Match': etag })).status).toBe(304);
    expect(sample(await scrape(regent.url), 'regent_bundle_responses_total', { status: '304' })).toBe(before304 + 3);

    // A commit releases the two held long polls, and is timed step by step.
    const next = await commitFile(regent, 'rbac/metrics_probe.rego', 'package rbac.metrics_probe\n\nenabled := true\n');
    let m2: MetricFamily[] = [];
    await eventually(async () => {
      m2 = await scrape(regent.url);
      return sample(m2, 'regent_revision_info', { role: 'active', revision: next }) === 1 && sample(m2, 'regent_fleet_convergence_seconds', { bundle: 'rbac', fraction: '1' }) !== undefined;
    }, 60_000, () => agent.logs().slice(-1000));
    expect(sample(m2, 'regent_long_poll_outcomes_total', { outcome: 'released' })).toBeGreaterThanOrEqual(1);
    expect(sample(m2, 'regent_activations_total', { outcome: 'activated' })).toBe(2);
    expect(histogramCount(await (await fetch(`${regent.url}/metrics`)).text(), 'regent_activation_step_seconds', { step: 'gate' })).toBe(2);
    expect(sample(m2, 'regent_fleet_bundle_agents_on_served_revision', { bundle: 'rbac' })).toBe(1);
    expect(sample(m2, 'regent_fleet_convergence_seconds', { bundle: 'rbac', fraction: '0.5' })).toBeGreaterThanOrEqual(0);

    // Decisions from a real query arrive; a refused batch is counted by its code.
    expect(await agent.query('rbac/allow', { subject: 'alice', action: 'delete', resource: { type: 'workflow', project: 'zeus' } })).toBe(true);
    expect((await rawRequest(regent.url, 'POST', '/logs', gzipSync('{}'), { 'Content-Encoding': 'gzip' })).status).toBe(400);
    let m3: MetricFamily[] = [];
    await eventually(async () => {
      m3 = await scrape(regent.url);
      return (sample(m3, 'regent_decision_events_total') ?? 0) >= 1;
    }, 60_000, () => agent.logs().slice(-1000));
    expect(sample(m3, 'regent_decision_batches_total', { outcome: 'accepted' })).toBeGreaterThanOrEqual(1);
    expect(sample(m3, 'regent_decision_batches_total', { outcome: 'invalid_decision_batch' })).toBe(1);
    expect(sample(m3, 'regent_decision_batch_bytes_total', { form: 'compressed' })).toBeGreaterThan(0);
    expect(sample(m3, 'regent_decision_log_records')).toBeGreaterThanOrEqual(1);

    // A revision the gate refuses: counted by code, and head differs from active.
    const broken = await commitFile(regent, 'rbac/broken.rego', 'package rbac.broken\n\nallow if {\n');
    let m4: MetricFamily[] = [];
    await eventually(async () => {
      m4 = await scrape(regent.url);
      return sample(m4, 'regent_activation_failures_total', { code: 'gate_failed' }) === 1;
    }, 60_000);
    expect(sample(m4, 'regent_head_active_equal', { environment: '' })).toBe(0);
    expect(sample(m4, 'regent_revision_info', { role: 'head', revision: broken })).toBe(1);
    expect(sample(m4, 'regent_revision_info', { role: 'active', revision: next })).toBe(1);
  }, 180_000);

  test('metrics.token makes /metrics need it; metrics.enabled: false turns it off', async () => {
    const token = 'metrics-scrape-token-0123456789';
    const guarded = await startTestRegent({ config: { metrics: { token } } });
    const refused = await fetch(`${guarded.url}/metrics`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'metrics_token_invalid' });
    expect((await fetch(`${guarded.url}/metrics`, { headers: { Authorization: 'Bearer not-the-token-at-all' } })).status).toBe(401);
    expect(sample(await scrape(guarded.url, { Authorization: `Bearer ${token}` }), 'regent_audit_chain_ok')).toBe(1);

    const off = await startTestRegent({ config: { metrics: { enabled: false } } });
    const response = await fetch(`${off.url}/metrics`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'route_not_found' });
  }, 180_000);
});

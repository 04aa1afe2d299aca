import { describe, expect, test } from 'vitest';
import { InputError } from '../errors.js';
import { parseAgentStatusReport } from './agent-status-report.js';
import { FleetRegistry, type ServedBundle } from './fleet-registry.js';

const R1 = 'a'.repeat(40);
const R2 = 'b'.repeat(40);

/** An OPA v1.22 status report, shaped as the real binary sends it (metrics trimmed). */
function opaReport(id: string, bundles: Record<string, { active_revision?: string; activated?: string; code?: string }>): unknown {
  return {
    labels: { id, version: '1.22.2', region: 'eu' },
    metrics: { prometheus: { go_gc_duration_seconds: { name: 'go_gc_duration_seconds', metric: [] } } },
    plugins: { bundle: { state: 'OK' }, status: { state: 'OK' } },
    bundles: Object.fromEntries(Object.entries(bundles).map(([name, bundle]) => [name, {
      name,
      active_revision: bundle.active_revision ?? '',
      last_successful_download: '2026-11-30T10:00:00Z',
      last_successful_activation: bundle.activated ?? '0001-01-01T00:00:00Z',
      last_request: '2026-11-30T10:00:00Z',
      ...(bundle.code ? { code: bundle.code, message: 'server replied with Not Found', http_code: 404 } : {}),
      metrics: { timer_bundle_request_ns: 904018 },
    }])),
  };
}

describe('parseAgentStatusReport', () => {
  test('keeps the id, string labels, per-bundle revision, times and error, plugin states; drops metrics and Go zero times', () => {
    const report = parseAgentStatusReport(opaReport('agent-1', { rbac: { active_revision: R1, activated: '2026-11-30T10:00:01Z' }, datasets: { code: 'bundle_error' } }));
    expect(report).toEqual({
      agentId: 'agent-1',
      labels: { id: 'agent-1', version: '1.22.2', region: 'eu' },
      plugins: { bundle: 'OK', status: 'OK' },
      bundles: [
        { name: 'rbac', activeRevision: R1, lastSuccessfulDownload: '2026-11-30T10:00:00Z', lastSuccessfulActivation: '2026-11-30T10:00:01Z', lastRequest: '2026-11-30T10:00:00Z', code: undefined, message: undefined, httpCode: undefined },
        { name: 'datasets', activeRevision: undefined, lastSuccessfulDownload: '2026-11-30T10:00:00Z', lastSuccessfulActivation: undefined, lastRequest: '2026-11-30T10:00:00Z', code: 'bundle_error', message: 'server replied with Not Found', httpCode: 404 },
      ],
    });
  });

  test.each([
    ['no labels', {}, 'labels'],
    ['no labels.id', { labels: { version: '1' } }, 'labels.id'],
    ['an id with a slash', { labels: { id: '../x' } }, 'labels.id'],
    ['bundles that are not an object', { labels: { id: 'a' }, bundles: [] }, 'bundles'],
    ['a revision that is not a string', { labels: { id: 'a' }, bundles: { rbac: { active_revision: 7 } } }, 'bundles.rbac.active_revision'],
    ['a JSON array', [], 'body'],
  ])('refuses %s with invalid_status_report naming the field', (_name, body, field) => {
    let error: unknown;
    try {
      parseAgentStatusReport(body);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ code: 'invalid_status_report', details: { field } });
  });
});

describe('FleetRegistry', () => {
  const published = new Date('2026-11-30T10:00:00Z');
  const serving = (revision: string) => (name: string): ServedBundle | undefined => (name === 'rbac' ? { revision, publishedAt: published } : undefined);

  test('counts agents per revision and reports convergence once every live agent runs the served revision', () => {
    let now = new Date('2026-11-30T10:00:05Z');
    const fleet = FleetRegistry.create({ maxAgents: 10, maxStoredBytes: 1 << 20, staleAfterMs: 60_000, now: () => now });
    fleet.record(parseAgentStatusReport(opaReport('a', { rbac: { active_revision: R2, activated: '2026-11-30T10:00:00.300Z' } })));
    fleet.record(parseAgentStatusReport(opaReport('b', { rbac: { active_revision: R1, activated: '2026-11-30T09:00:00Z' } })));
    let bundles = fleet.summary(serving(R2)).bundles;
    // One of two agents (50%) runs it: the 50% time is known, 90% and 100% are not yet.
    expect(bundles).toEqual([{ name: 'rbac', servedRevision: R2, agents: 2, onServedRevision: 1, withErrors: 0, revisions: { [R2]: 1, [R1]: 1 }, convergence: { p50Ms: 300 } }]);

    fleet.record(parseAgentStatusReport(opaReport('b', { rbac: { active_revision: R2, activated: '2026-11-30T10:00:00.450Z' } })));
    bundles = fleet.summary(serving(R2)).bundles;
    expect(bundles[0]).toMatchObject({ agents: 2, onServedRevision: 2, convergenceMs: 450, convergence: { p50Ms: 300, p90Ms: 450, p100Ms: 450 } });
    expect(fleet.page({ limit: 10 }).agents.map((agent) => agent.agentId)).toEqual(['a', 'b']);

    // A silent agent turns stale and stops counting.
    now = new Date('2026-11-30T10:05:00Z');
    fleet.record(parseAgentStatusReport(opaReport('c', { rbac: { code: 'bundle_error' } })));
    bundles = fleet.summary(serving(R2)).bundles;
    expect(fleet.page({ limit: 10 }).agents.filter((agent) => agent.stale).map((agent) => agent.agentId)).toEqual(['a', 'b']);
    expect(bundles[0]).toMatchObject({ agents: 1, onServedRevision: 0, withErrors: 1, revisions: { none: 1 } });
    expect(bundles[0]!.convergenceMs).toBeUndefined();
  });

  test('forgets the agent heard from least recently beyond its bound, and survives a snapshot round trip', () => {
    const fleet = FleetRegistry.create({ maxAgents: 2, maxStoredBytes: 1 << 20, staleAfterMs: 60_000 });
    for (const id of ['a', 'b', 'a', 'c']) fleet.record(parseAgentStatusReport(opaReport(id, {})));
    const { agents, changed } = fleet.snapshot();
    expect(changed).toBe(true);
    expect(agents.map((agent) => agent.agentId)).toEqual(['a', 'c']);
    expect(fleet.snapshot().changed).toBe(false);
    const restored = FleetRegistry.create({ maxAgents: 2, maxStoredBytes: 1 << 20, staleAfterMs: 60_000 });
    restored.restore(agents);
    expect(restored.page({ limit: 10 }).agents.map((agent) => agent.agentId)).toEqual(['a', 'c']);
    expect(restored.snapshot().agents.map((agent) => agent.agentId)).toEqual(['a', 'c']);
  });

  test('pages by agent id: every agent once, in order, while others report, arrive and are forgotten', () => {
    const fleet = FleetRegistry.create({ maxAgents: 1000, maxStoredBytes: 1 << 24, staleAfterMs: 60_000 });
    const ids = Array.from({ length: 250 }, (_, i) => `agent-${String(i * 2).padStart(4, '0')}`);
    for (const id of ids) fleet.record(parseAgentStatusReport(opaReport(id, {})));
    const seen: string[] = [];
    let after: string | undefined;
    let round = 0;
    do {
      const page = fleet.page({ limit: 40, after });
      expect(page.total).toBe(250 + round);
      seen.push(...page.agents.map((agent) => agent.agentId));
      after = page.next;
      // Between pages: every agent reports again (reordering the eviction order), and one new agent arrives.
      for (const id of [...ids].reverse()) fleet.record(parseAgentStatusReport(opaReport(id, {})));
      fleet.record(parseAgentStatusReport(opaReport(`agent-${String(round * 2 + 1).padStart(4, '0')}`, {})));
      round++;
    } while (after !== undefined);
    expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(seen);
    expect(fleet.page({ limit: 10, after: 'zzz' })).toEqual({ agents: [], total: 250 + round });
    expect(fleet.page({ limit: 1000 }).next).toBeUndefined();
  });

  test('keeps at most maxStoredBytes of records, as the snapshot file measures them, forgetting the least recent', () => {
    const maxStoredBytes = 1024 * 1024;
    const fleet = FleetRegistry.create({ maxAgents: 10_000, maxStoredBytes, staleAfterMs: 60_000 });
    // The worst a report can be: every list full, every string at its limit, characters JSON escapes to six bytes.
    const fat = (id: string): unknown => ({
      labels: { id, ...Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`label-${i}`.padEnd(64, '\u0001'), '\u0001'.repeat(128)])) },
      plugins: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`plugin-${i}`.padEnd(64, '\u0001'), { state: '\u0001'.repeat(32) }])),
      bundles: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`bundle-${i}`.padEnd(128, '\u0001'), {
        active_revision: '\u0001'.repeat(128), last_successful_download: '\u0001'.repeat(64), last_successful_activation: '\u0001'.repeat(64),
        last_request: '\u0001'.repeat(64), code: '\u0001'.repeat(64), message: '\u0001'.repeat(300), http_code: -9007199254740991,
      }])),
    });
    expect(Buffer.byteLength(JSON.stringify(parseAgentStatusReport(fat('agent-0'))))).toBeGreaterThan(90_000);
    for (let i = 0; i < 60; i++) {
      fleet.record(parseAgentStatusReport(fat(`agent-${i}`)));
      const { agents } = fleet.snapshot();
      const file = JSON.stringify({ version: 1, agents });
      expect(Buffer.byteLength(file)).toBeLessThanOrEqual(maxStoredBytes + 26);
      expect(fleet.size).toEqual({ agents: agents.length, bytes: Buffer.byteLength(file) - 24 });
    }
    const kept = fleet.page({ limit: 1000 }).agents.map((agent) => agent.agentId);
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.length).toBeLessThan(12);
    expect(kept).toContain('agent-59');
    expect(kept).not.toContain('agent-0');
  });

  test('the summary shows every served bundle and at most 50 names Regent does not serve, those most reported', () => {
    const fleet = FleetRegistry.create({ maxAgents: 100, maxStoredBytes: 1 << 24, staleAfterMs: 60_000 });
    for (let agent = 0; agent < 10; agent++) {
      const bundles = Object.fromEntries([['rbac', { active_revision: R1 }], ...Array.from({ length: 15 }, (_, i) => [`made-up-${agent}-${i}`, {}])]);
      fleet.record(parseAgentStatusReport({ labels: { id: `agent-${agent}` }, bundles }));
    }
    fleet.record(parseAgentStatusReport({ labels: { id: 'agent-x' }, bundles: { 'made-up-9-14': {}, 'made-up-9-13': {} } }));
    const summary = fleet.summary(serving(R1));
    expect(summary.bundles).toHaveLength(51);
    expect(summary.omittedBundles).toBe(150 - 50);
    expect(summary.bundles.find((bundle) => bundle.name === 'rbac')).toMatchObject({ agents: 10, onServedRevision: 10 });
    expect(summary.bundles.filter((bundle) => bundle.agents === 2).map((bundle) => bundle.name)).toEqual(['made-up-9-13', 'made-up-9-14']);
  });

  test('the summary is reused while nothing changed, for at most a second; a report or a publish makes a new one', () => {
    let now = new Date('2026-11-30T10:00:05Z');
    const fleet = FleetRegistry.create({ maxAgents: 10, maxStoredBytes: 1 << 20, staleAfterMs: 60_000, now: () => now });
    fleet.record(parseAgentStatusReport(opaReport('a', { rbac: { active_revision: R1, activated: '2026-11-30T10:00:01Z' } })));
    let served = serving(R1);
    const first = fleet.summary((name) => served(name));
    expect(fleet.summary((name) => served(name))).toBe(first);
    served = serving(R2);
    const republished = fleet.summary((name) => served(name));
    expect(republished).not.toBe(first);
    expect(republished.bundles[0]).toMatchObject({ servedRevision: R2, onServedRevision: 0 });
    expect(fleet.summary((name) => served(name))).toBe(republished);
    fleet.record(parseAgentStatusReport(opaReport('b', { rbac: { active_revision: R2 } })));
    const reported = fleet.summary((name) => served(name));
    expect(reported.bundles[0]).toMatchObject({ agents: 2, onServedRevision: 1 });
    now = new Date(now.getTime() + 999);
    expect(fleet.summary((name) => served(name))).toBe(reported);
    now = new Date(now.getTime() + 1);
    expect(fleet.summary((name) => served(name))).not.toBe(reported);
  });

  test('labels, bundles, plugins and revisions named __proto__, constructor, toString or hasOwnProperty are data', () => {
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    // Written as JSON text, as a request carries it: JSON.parse makes "__proto__" an own key.
    const members = (value: (name: string) => string): string => names.map((name) => `"${name}":${value(name)}`).join(',');
    const body = JSON.parse(`{"labels":{"id":"agent-proto",${members((name) => `"label ${name}"`)}},"plugins":{${members(() => '{"state":"OK"}')}},"bundles":{${members((name) => `{"active_revision":"${name}"}`)}}}`) as unknown;
    const report = parseAgentStatusReport(body);
    expect(Object.keys(report.labels).sort()).toEqual([...names, 'id'].sort());
    expect(Object.getPrototypeOf(report.labels)).toBeNull();
    expect(report.labels.__proto__).toBe('label __proto__');
    expect(Object.keys(report.plugins).sort()).toEqual([...names].sort());
    expect(report.bundles.map((bundle) => [bundle.name, bundle.activeRevision])).toEqual(names.map((name) => [name, name]));
    const fleet = FleetRegistry.create({ maxAgents: 10, maxStoredBytes: 1 << 20, staleAfterMs: 60_000 });
    fleet.record(report);
    fleet.record({ ...report, agentId: 'agent-proto-2' });
    const bundles = fleet.summary((name) => ({ revision: name, publishedAt: new Date(0) })).bundles;
    expect(bundles.map((bundle) => [bundle.name, bundle.agents, bundle.onServedRevision, JSON.stringify(bundle.revisions)])).toEqual(
      [...names].sort().map((name) => [name, 2, 2, `{"${name}":2}`]),
    );
    expect(JSON.stringify(fleet.page({ limit: 1 }).agents[0]!.labels)).toBe(`{"id":"agent-proto",${members((name) => `"label ${name}"`)}}`);
  });
});

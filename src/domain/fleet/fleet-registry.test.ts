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
    const fleet = FleetRegistry.create({ maxAgents: 10, staleAfterMs: 60_000, now: () => now });
    fleet.record(parseAgentStatusReport(opaReport('a', { rbac: { active_revision: R2, activated: '2026-11-30T10:00:00.300Z' } })));
    fleet.record(parseAgentStatusReport(opaReport('b', { rbac: { active_revision: R1, activated: '2026-11-30T09:00:00Z' } })));
    let view = fleet.view(serving(R2));
    expect(view.bundles).toEqual([{ name: 'rbac', servedRevision: R2, agents: 2, onServedRevision: 1, withErrors: 0, revisions: { [R2]: 1, [R1]: 1 } }]);

    fleet.record(parseAgentStatusReport(opaReport('b', { rbac: { active_revision: R2, activated: '2026-11-30T10:00:00.450Z' } })));
    view = fleet.view(serving(R2));
    expect(view.bundles[0]).toMatchObject({ agents: 2, onServedRevision: 2, convergenceMs: 450 });
    expect(view.agents.map((agent) => agent.agentId)).toEqual(['b', 'a']);

    // A silent agent turns stale and stops counting.
    now = new Date('2026-11-30T10:05:00Z');
    fleet.record(parseAgentStatusReport(opaReport('c', { rbac: { code: 'bundle_error' } })));
    view = fleet.view(serving(R2));
    expect(view.agents.filter((agent) => agent.stale).map((agent) => agent.agentId).sort()).toEqual(['a', 'b']);
    expect(view.bundles[0]).toMatchObject({ agents: 1, onServedRevision: 0, withErrors: 1, revisions: { none: 1 } });
    expect(view.bundles[0]!.convergenceMs).toBeUndefined();
  });

  test('forgets the agent heard from least recently beyond its bound, and survives a snapshot round trip', () => {
    const fleet = FleetRegistry.create({ maxAgents: 2, staleAfterMs: 60_000 });
    for (const id of ['a', 'b', 'a', 'c']) fleet.record(parseAgentStatusReport(opaReport(id, {})));
    const { agents, changed } = fleet.snapshot();
    expect(changed).toBe(true);
    expect(agents.map((agent) => agent.agentId)).toEqual(['a', 'c']);
    expect(fleet.snapshot().changed).toBe(false);
    const restored = FleetRegistry.create({ maxAgents: 2, staleAfterMs: 60_000 });
    restored.restore(agents);
    expect(restored.view(() => undefined).agents.map((agent) => agent.agentId)).toEqual(['c', 'a']);
  });
});

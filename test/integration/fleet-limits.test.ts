import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { AgentView, BundleConvergence } from '../../src/domain/fleet/fleet-registry.js';
import { adminClient, rawRequest } from '../helpers/admin-client.js';
import { eventually } from '../helpers/opa-agent.js';
import { startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;
interface FleetPage { agents: AgentView[]; bundles: BundleConvergence[]; omittedBundles: number; total: number; limit: number; nextCursor: string | null }

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

/** Posts a status report as JSON text, exactly as given (so `"__proto__"` is a key on the wire). */
async function report(regent: Regent, json: string): Promise<number> {
  return (await rawRequest(regent.url, 'POST', '/status', Buffer.from(json), { 'Content-Type': 'application/json' })).status;
}

function fleetOf(regent: Regent) {
  const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });
  return async (query = ''): Promise<FleetPage> => {
    const response = await auditor.get(`/api/fleet${query}`);
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as FleetPage;
  };
}

/** Every agent id, following nextCursor from the first page. */
async function allIds(fleet: (query?: string) => Promise<FleetPage>, limit: number, between: () => Promise<void> = async () => {}): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: FleetPage = await fleet(`?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.agents.length).toBeLessThanOrEqual(limit);
    ids.push(...page.agents.map((agent) => agent.agentId));
    cursor = page.nextCursor;
    await between();
  } while (cursor);
  return ids;
}

const members = (value: (name: string) => string): string => NAMES.map((name) => `"${name}":${value(name)}`).join(',');

describe('fleet: names from outside are data', () => {
  test('labels, bundles, plugins and revisions named __proto__, constructor, toString ... are stored and shown as they are, also after a restart', async () => {
    const first = await startTestRegent({ keepRunning: true, config: { fleet: { snapshotIntervalMs: 100 } } });
    const body = (id: string): string => `{"labels":{"id":"${id}",${members((name) => `"label-${name}"`)}},"plugins":{${members(() => '{"state":"OK"}')}},"bundles":{${members((name) => `{"name":"${name}","active_revision":"${name}"}`)}}}`;
    expect(await report(first, body('proto-1'))).toBe(200);
    expect(await report(first, body('proto-2'))).toBe(200);

    const check = async (regent: Regent): Promise<void> => {
      const page = await fleetOf(regent)();
      expect(page.agents.map((agent) => agent.agentId).sort()).toEqual(['proto-1', 'proto-2']);
      for (const agent of page.agents) {
        expect(Object.keys(agent.labels).sort()).toEqual([...NAMES, 'id'].sort());
        for (const name of NAMES) {
          expect(Object.getOwnPropertyDescriptor(agent.labels, name)?.value).toBe(`label-${name}`);
          expect(Object.getOwnPropertyDescriptor(agent.plugins, name)?.value).toBe('OK');
        }
        expect(agent.bundles.map((bundle) => [bundle.name, bundle.activeRevision])).toEqual(NAMES.map((name) => [name, name]));
      }
      expect(page.bundles.map((bundle) => bundle.name)).toEqual([...NAMES].sort());
      for (const bundle of page.bundles) {
        expect(bundle.agents).toBe(2);
        expect(Object.entries(bundle.revisions)).toEqual([[bundle.name, 2]]);
      }
    };
    await check(first);
    await first.close();
    const stored = readFileSync(join(first.dataDir, 'fleet', 'agents.json'), 'utf8');
    expect(stored).toContain('"labels":{"id":"proto-1","__proto__":"label-__proto__"');
    const second = await startTestRegent({ dataDir: first.dataDir });
    await check(second);
  });
});

describe('fleet: GET /api/fleet is paged, the stored fleet bounded in bytes', () => {
  test('pages of at most `limit` agents (default 100, at most 1000) in id order; the cursor chain lists every agent once while agents report', async () => {
    const regent = await startTestRegent();
    const fleet = fleetOf(regent);
    const ids = Array.from({ length: 1200 }, (_, i) => `agent-${String(i * 2).padStart(5, '0')}`);
    const small = (id: string): string => JSON.stringify({ labels: { id, version: '1.22.2' }, bundles: { rbac: { name: 'rbac', active_revision: 'r1' } } });
    for (let i = 0; i < ids.length; i += 50) {
      const statuses = await Promise.all(ids.slice(i, i + 50).map((id) => report(regent, small(id))));
      expect(new Set(statuses)).toEqual(new Set([200]));
    }

    const first = await fleet();
    expect(first).toMatchObject({ total: 1200, limit: 100, omittedBundles: 0 });
    expect(first.agents.map((agent) => agent.agentId)).toEqual(ids.slice(0, 100));
    expect(first.bundles).toEqual([expect.objectContaining({ name: 'rbac', agents: 1200, revisions: { r1: 1200 } })]);
    expect((await fleet('?limit=1000')).agents).toHaveLength(1000);
    expect(await allIds(fleet, 1000)).toEqual(ids);

    // While paging, every known agent reports again and new agents appear between known ids.
    let round = 0;
    const seen = await allIds(fleet, 70, async () => {
      const newcomer = `agent-${String(round * 2 + 1).padStart(5, '0')}`;
      round++;
      const statuses = await Promise.all([newcomer, ...ids.slice(round * 60, round * 60 + 60)].map((id) => report(regent, small(id))));
      expect(new Set(statuses)).toEqual(new Set([200]));
    });
    expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
    expect(new Set(seen).size).toBe(seen.length);

    const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });
    for (const [query, field] of [['?limit=1001', 'limit'], ['?limit=0', 'limit'], ['?limit=x', 'limit'], ['?cursor=%2E%2E', 'cursor'], ['?cursor=Lw', 'cursor'], ['?page=2', 'page']] as const) {
      const response = await auditor.get(`/api/fleet${query}`);
      expect(response.status, query).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'invalid_query', field });
    }
  });

  test('the stored fleet never exceeds fleet.maxStoredBytes: the largest reports evict the least recent agents, in memory and in agents.json', async () => {
    const maxStoredBytes = 1024 * 1024;
    const regent = await startTestRegent({ config: { fleet: { maxStoredBytes, snapshotIntervalMs: 100 } } });
    const fleet = fleetOf(regent);
    // As large as a report may be: every list full, every string at its limit, characters JSON escapes to six bytes.
    const control = (length: number): string => '\\u0001'.repeat(length);
    const fat = (id: string): string => JSON.stringify({
      labels: { id, ...Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`label-${i}`, 'x'.repeat(128)])) },
      plugins: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`plugin-${i}`, { state: 'y'.repeat(32) }])),
      bundles: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`bundle-${i}`.padEnd(128, 'b'), { active_revision: 'CTRL128', code: 'CTRL64', message: 'CTRL200' }])),
    }).replaceAll('CTRL128', control(128)).replaceAll('CTRL64', control(64)).replaceAll('CTRL200', control(200));
    const path = join(regent.dataDir, 'fleet', 'agents.json');
    for (let i = 0; i < 40; i++) {
      expect(await report(regent, fat(`fat-${String(i).padStart(2, '0')}`))).toBe(200);
      if (i % 10 === 9) {
        await eventually(async () => (await fleet()).agents.some((agent) => agent.agentId === `fat-${String(i).padStart(2, '0')}`), 5000);
      }
    }
    const page = await fleet('?limit=1000');
    expect(page.total).toBeLessThan(40);
    expect(page.total).toBeGreaterThan(5);
    expect(page.agents.map((agent) => agent.agentId)).toContain('fat-39');
    expect(page.agents.map((agent) => agent.agentId)).not.toContain('fat-00');
    await eventually(async () => {
      // The first snapshot is written within snapshotIntervalMs of a change; until then there is no file.
      if (!existsSync(path)) return false;
      const stored = JSON.parse(readFileSync(path, 'utf8')) as { agents: Array<{ agentId: string }> };
      return stored.agents.some((agent) => agent.agentId === 'fat-39');
    }, 5000);
    expect(statSync(path).size).toBeLessThanOrEqual(maxStoredBytes + 26);
    expect(statSync(path).size).toBeGreaterThan(maxStoredBytes / 2);
  });
});

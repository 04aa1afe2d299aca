import { describe, expect, test } from 'vitest';
import type { AgentView } from '../../src/domain/fleet/fleet-registry.js';
import { adminClient } from '../helpers/admin-client.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { floorOpaPath } from '../helpers/opa-path.js';
import { startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;

interface Status {
  active: string | null;
  head: string | null;
  lastError: { revision: string; code: string; message: string; problems: Array<Record<string, unknown>> } | null;
  gate: { opaVersion: string; source: string; minAgentVersion: string | null; oldestAgentVersion: string | null };
}

const status = async (regent: Regent): Promise<Status> => (await (await fetch(`${regent.url}/status`)).json()) as Status;

/** `strings.split_n` came after OPA v1.0.0: a v1.0.0 agent cannot compile a module that calls it. */
const SPLIT_N = 'package rbac.splitter\n\nparts := strings.split_n("a,b,c", ",", 2)\n';
const FINE = 'package rbac.splitter\n\nparts := split("a,b,c", ",")\n';

async function commit(regent: Regent, path: string, content: string, message: string) {
  return regent.store.commit({
    changes: [{ op: 'put', path, content: Buffer.from(content) }],
    message, author: { name: 'Test', email: 'test@example.test' }, expectedHead: (await regent.store.head())!,
  });
}

/** A real OPA v1.0.0 agent on the `rbac` bundle, long polling, reporting its status (labels.version 1.0.0). */
async function oldAgent(regent: Regent, reportStatus: boolean) {
  const agent = await startOpaAgent({ ...agentOptionsFor(regent), bundles: ['rbac'], opaBinary: floorOpaPath(), reportStatus, labels: { name: 'old-agent' } });
  await agent.waitUntilReady();
  return agent;
}

describe('the gate checks revisions against the fleet\'s oldest OPA', () => {
  test('a v1.0.0 floor refuses strings.split_n naming it; a real v1.0.0 agent keeps the old revision, then gets a fine next one', async () => {
    const regent = await startTestRegent({ config: { gate: { minAgentVersion: 'v1.0.0' } } });
    const agent = await oldAgent(regent, false);
    const before = (await regent.store.head())!;
    expect(await agent.activeRevision('rbac')).toBe(before);
    expect((await status(regent)).gate).toMatchObject({ opaVersion: 'v1.0.0', source: 'floor', minAgentVersion: 'v1.0.0' });

    const refused = await commit(regent, 'rbac/splitter.rego', SPLIT_N, 'Use strings.split_n');
    await eventually(async () => (await status(regent)).lastError?.revision === refused.revision, 15_000);
    const afterRefusal = await status(regent);
    expect(afterRefusal.active).toBe(before);
    expect(afterRefusal.lastError).toMatchObject({ code: 'gate_failed' });
    expect(afterRefusal.lastError!.problems[0]).toMatchObject({ code: 'builtin_unavailable_on_fleet', builtin: 'strings.split_n', opaVersion: 'v1.0.0', file: 'rbac/splitter.rego', line: 3 });
    expect(afterRefusal.lastError!.message).toContain('strings.split_n is not available on OPA v1.0.0');
    expect(afterRefusal.lastError!.message).toContain('gate.minAgentVersion is v1.0.0');
    expect(await agent.activeRevision('rbac')).toBe(before);

    const fine = await commit(regent, 'rbac/splitter.rego', FINE, 'Use split');
    await eventually(async () => (await agent.activeRevision('rbac')) === fine.revision, 15_000, () => agent.logs().slice(-3000));
    expect(agent.logs()).not.toContain('strings.split_n');
  });

  test('without a floor, a live v1.0.0 agent reporting its status is the oldest OPA: new heads are checked against it', async () => {
    const regent = await startTestRegent();
    expect((await status(regent)).gate).toMatchObject({ source: 'regent', minAgentVersion: null, oldestAgentVersion: null });
    const agent = await oldAgent(regent, true);
    await eventually(async () => (await status(regent)).gate.oldestAgentVersion === 'v1.0.0', 15_000, () => agent.logs().slice(-3000));
    expect((await status(regent)).gate).toMatchObject({ opaVersion: 'v1.0.0', source: 'agents' });
    const fleet = (await (await adminClient(regent, { sub: 'ada', role: 'auditor' }).get('/api/fleet')).json()) as { agents: AgentView[] };
    expect(fleet.agents[0]!.labels).toMatchObject({ name: 'old-agent', version: '1.0.0' });

    const refused = await commit(regent, 'rbac/splitter.rego', SPLIT_N, 'Use strings.split_n');
    await eventually(async () => (await status(regent)).lastError?.revision === refused.revision, 15_000);
    const { lastError, active } = await status(regent);
    expect(active).not.toBe(refused.revision);
    expect(lastError!.problems[0]).toMatchObject({ code: 'builtin_unavailable_on_fleet', builtin: 'strings.split_n', opaVersion: 'v1.0.0' });
    expect(lastError!.message).toContain('1 live agent runs it');
  });

  test('an API write using a built-in the floor lacks is refused with 422 naming it, and nothing is committed', async () => {
    const regent = await startTestRegent({ config: { gate: { minAgentVersion: '1.0.0' } } });
    const admin = adminClient(regent, { sub: 'ada', role: 'admin' });
    const head = (await regent.store.head())!;
    const response = await admin.put('/api/policies/rbac/splitter.rego', { content: SPLIT_N, message: 'Use strings.split_n', baseRevision: head });
    expect(response.status).toBe(422);
    const problem = (await response.json()) as { code: string; problems: Array<Record<string, unknown>> };
    expect(problem.code).toBe('validation_failed');
    expect(problem.problems[0]).toMatchObject({ code: 'builtin_unavailable_on_fleet', builtin: 'strings.split_n', opaVersion: 'v1.0.0' });
    expect(await regent.store.head()).toBe(head);
  });

  test('a floor Regent\'s OPA has no capabilities for stops start-up naming the key', async () => {
    await expect(startTestRegent({ config: { gate: { minAgentVersion: 'v1.0.3' } } })).rejects.toMatchObject({ code: 'invalid_config', details: { field: 'gate.minAgentVersion' } });
  });
});

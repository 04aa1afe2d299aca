import { describe, expect, test } from 'vitest';
import type { DecisionRecord } from '../../src/domain/decisions/decision-log.js';
import type { RevisionConvergence } from '../../src/domain/fleet/convergence-tracker.js';
import type { AgentView, BundleConvergence } from '../../src/domain/fleet/fleet-registry.js';
import { adminClient, type AdminClient } from '../helpers/admin-client.js';
import { agentOptionsFor, eventually, startOpaAgent, type OpaAgent } from '../helpers/opa-agent.js';
import { startTestRegent } from '../helpers/start-regent.js';
import { exampleDecisions } from './example-decisions.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;
interface FleetView { agents: AgentView[]; bundles: BundleConvergence[]; revisions: RevisionConvergence[] }
interface DecisionsView { decisions: DecisionRecord[]; nextCursor: string | null; partial: boolean }

/** A commit on the tracked branch (as a push would make it) adding a user to rbac/data.json. */
async function addUser(regent: Regent, user: string): Promise<string> {
  const head = (await regent.store.head())!;
  const entry = (await regent.store.listTree(head)).find((file) => file.path === 'rbac/data.json')!;
  const data = JSON.parse((await regent.store.readBlobs([entry.blobId])).get(entry.blobId)!.toString('utf8')) as { users: Record<string, unknown> };
  data.users[user] = { active: true };
  const { revision } = await regent.store.commit({
    changes: [{ op: 'put', path: 'rbac/data.json', content: Buffer.from(JSON.stringify(data, null, 2)) }],
    message: `Add ${user}`, author: { name: 'Test', email: 'test@example.test' }, expectedHead: head,
  });
  return revision;
}

async function fleetOf(auditor: AdminClient): Promise<FleetView> {
  return (await (await auditor.get('/api/fleet')).json()) as FleetView;
}

async function decisions(auditor: AdminClient, query = ''): Promise<DecisionsView> {
  const response = await auditor.get(`/api/decisions${query}`);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as DecisionsView;
}

/** Real agents named by the label `name` (OPA gives each process its own `labels.id`, a UUID, whatever the config says). */
async function startAgents(regent: Regent, names: readonly string[], extra: Partial<Parameters<typeof startOpaAgent>[0]> = {}): Promise<OpaAgent[]> {
  const agents = await Promise.all(names.map((name, index) => startOpaAgent({
    ...agentOptionsFor(regent), reportStatus: true, decisionLogs: true, labels: { name, region: index % 2 === 0 ? 'eu' : 'us' }, ...extra,
  })));
  await Promise.all(agents.map((agent) => agent.waitUntilReady()));
  return agents;
}

describe('a fleet of real OPA agents: convergence and decision logs', () => {
  test('after a commit every agent converges, with the 50/90/100% times in /api/fleet, /status and the audit log; their decisions are stored and filtered', async () => {
    const regent = await startTestRegent();
    const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });
    const names = ['agent-a', 'agent-b', 'agent-c'];
    const agents = await startAgents(regent, names);
    const next = await addUser(regent, 'fleet-probe');

    const converged = async (): Promise<boolean> => {
      const view = await fleetOf(auditor);
      const rbac = view.bundles.find((bundle) => bundle.name === 'rbac');
      return rbac?.servedRevision === next && rbac.agents === 3 && rbac.onServedRevision === 3
        && view.revisions.some((entry) => entry.bundle === 'rbac' && entry.revision === next && entry.state === 'converged');
    };
    await eventually(converged, 60_000, () => JSON.stringify(agents.map((agent) => agent.logs().slice(-500))));
    const view = await fleetOf(auditor);
    expect(view.agents.map((agent) => agent.labels.name).sort()).toEqual(names);
    expect(new Set(view.agents.map((agent) => agent.agentId)).size).toBe(3);
    const idOf = new Map(view.agents.map((agent) => [agent.labels.name!, agent.agentId]));
    const record = view.revisions.find((entry) => entry.bundle === 'rbac' && entry.revision === next)!;
    expect(record).toMatchObject({ agents: 3, state: 'converged' });
    expect(record.p50Ms).toBeGreaterThanOrEqual(0);
    expect(record.p90Ms).toBeGreaterThanOrEqual(record.p50Ms!);
    expect(record.p100Ms).toBeGreaterThanOrEqual(record.p90Ms!);
    expect(record.p100Ms).toBeLessThan(60_000);
    const status = (await (await fetch(`${regent.url}/status`)).json()) as { fleet: { agents: { live: number }; bundles: Array<Record<string, unknown>> } };
    expect(status.fleet.agents.live).toBe(3);
    expect(status.fleet.bundles.find((bundle) => bundle.name === 'rbac')).toMatchObject({ servedRevision: next, agents: 3, onServedRevision: 3, state: 'converged', p100Ms: record.p100Ms });
    await eventually(async () => {
      const audit = (await (await auditor.get('/api/audit?action=fleet.converged')).json()) as { records: Array<{ revision: string; detail: string; paths: string[] }> };
      return audit.records.some((entry) => entry.revision === next && entry.paths[0] === 'rbac' && /all 3 live agents.*50% in .* s, 90% in .* s, 100% in .* s/.test(entry.detail));
    }, 30_000);

    // Real queries on each agent, on the converged revision.
    const asked = [
      { agent: agents[0]!, decision: exampleDecisions.find((d) => d.name === 'superadmin can delete a workflow in any project')! },
      { agent: agents[1]!, decision: exampleDecisions.find((d) => d.name === 'editor cannot delete a workflow')! },
      { agent: agents[2]!, decision: exampleDecisions.find((d) => d.name === 'public dataset is readable with no token claims')! },
    ];
    for (const { agent, decision } of asked) expect(await agent.query(decision.path, decision.input)).toBe(decision.expected);
    // Each agent uploads on its own schedule (every 1–2 s): wait for all three.
    await eventually(async () => (await decisions(auditor, `?revision=${next}`)).decisions.length === 3, 60_000, () => agents[0]!.logs().slice(-1500));

    const byAgent = (await decisions(auditor, `?agent=${idOf.get('agent-b')}`)).decisions;
    expect(byAgent.map((d) => [d.labels.name, d.path, d.result])).toEqual([['agent-b', 'rbac/allow', false]]);
    expect(byAgent[0]).toMatchObject({ input: asked[1]!.decision.input, labels: { id: idOf.get('agent-b'), name: 'agent-b', region: 'us' }, bundles: { rbac: { revision: next } } });
    expect((await decisions(auditor, '?result=false')).decisions.map((d) => d.labels.name)).toEqual(['agent-b']);
    expect((await decisions(auditor, '?path=data.datasets.allow')).decisions.map((d) => d.labels.name)).toEqual(['agent-c']);
    // Every decision names the revision of every bundle the agent had (agent-c's datasets decision too).
    // Agents upload on their own schedules, so which of the two was received first is not fixed.
    expect((await decisions(auditor, `?revision=${next}&result=true`)).decisions.map((d) => d.labels.name).sort()).toEqual(['agent-a', 'agent-c']);
    expect((await decisions(auditor, `?revision=${next}&result=true&path=rbac/allow`)).decisions.map((d) => d.labels.name)).toEqual(['agent-a']);
    const one = byAgent[0]!;
    expect((await decisions(auditor, `?decision_id=${one.decisionId}`)).decisions.map((d) => d.decisionId)).toEqual([one.decisionId]);
    const at = Date.parse(one.timestamp);
    expect((await decisions(auditor, `?since=${new Date(at).toISOString()}&until=${new Date(at).toISOString()}`)).decisions.map((d) => d.decisionId)).toContain(one.decisionId);
    expect((await decisions(auditor, `?until=${new Date(at - 60_000).toISOString()}`)).decisions).toEqual([]);

    // Paging: one at a time, newest first, each decision once.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: DecisionsView = await decisions(auditor, `?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.decisions.map((d) => d.decisionId));
      cursor = page.nextCursor;
    } while (cursor);
    const everything = (await decisions(auditor, '?limit=500')).decisions.map((d) => d.decisionId);
    expect(seen).toEqual(everything);
    expect(new Set(seen).size).toBe(seen.length);
    expect(everything.length).toBeGreaterThanOrEqual(3);

    // Bad queries name the parameter; the view needs auditor.
    expect(await (await auditor.get('/api/decisions?result=yes')).json()).toMatchObject({ code: 'invalid_query', field: 'result' });
    expect(await (await auditor.get('/api/decisions?cursor=nope!')).json()).toMatchObject({ code: 'invalid_query', field: 'cursor' });
    expect(await (await auditor.get('/api/decisions?agents=x')).json()).toMatchObject({ code: 'invalid_query', field: 'agents' });
    expect((await adminClient(regent, { sub: 'vic', role: 'viewer' }).get('/api/decisions')).status).toBe(403);
  }, 180_000);

  test('agents of an environment are counted against its revision (by status partition, or by revision), not the branch\'s', async () => {
    const regent = await startTestRegent({ config: { environments: [{ name: 'prod', ref: 'tags/prod' }] } });
    const admin = adminClient(regent, { sub: 'ada', role: 'admin' });
    const released = (await regent.store.head())!;
    expect((await admin.put('/api/environments/prod', { revision: released, message: 'Release' }, { 'If-None-Match': '*' })).status).toBe(200);
    const [branchAgent] = await startAgents(regent, ['branch-1']);
    const [declared] = await startAgents(regent, ['prod-declared'], { resourcePrefix: 'prod/', statusPartition: 'prod' });
    const [inferred] = await startAgents(regent, ['prod-inferred'], { resourcePrefix: 'prod/' });
    const next = await addUser(regent, 'branch-only');
    const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });

    await eventually(async () => {
      const view = await fleetOf(auditor);
      const branch = view.bundles.find((bundle) => bundle.name === 'rbac');
      const prod = view.bundles.find((bundle) => bundle.name === 'prod/rbac');
      return branch?.servedRevision === next && branch.agents === 1 && branch.onServedRevision === 1
        && prod?.servedRevision === released && prod.agents === 2 && prod.onServedRevision === 2;
    }, 60_000, () => [branchAgent, declared, inferred].map((agent) => agent!.logs().slice(-400)).join('\n'));
    const view = await fleetOf(auditor);
    const byId = new Map(view.agents.map((agent) => [agent.labels.name, agent]));
    expect(byId.get('prod-declared')).toMatchObject({ partition: 'prod' });
    expect(byId.get('prod-declared')!.bundles.find((bundle) => bundle.name === 'rbac')).toMatchObject({ activeRevision: released, countedAs: 'prod/rbac' });
    expect(byId.get('prod-inferred')!.bundles.find((bundle) => bundle.name === 'rbac')).toMatchObject({ activeRevision: released, countedAs: 'prod/rbac' });
    expect(byId.get('branch-1')!.bundles.find((bundle) => bundle.name === 'rbac')!.countedAs).toBeUndefined();
  }, 180_000);

  test('a revision some live agent does not reach within fleet.stuckAfterSeconds is recorded as fleet.stuck, naming the agent and its error', async () => {
    const regent = await startTestRegent({ config: { fleet: { stuckAfterSeconds: 5 } } });
    const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });
    await startAgents(regent, ['healthy-1']);
    const next = await addUser(regent, 'stuck-probe');
    // An agent that cannot activate the new revision, as its own status reports say.
    const report = (): Promise<Response> => fetch(`${regent.url}/status`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ labels: { id: 'failing-1', version: '1.22.2' }, bundles: { rbac: { name: 'rbac', active_revision: 'f'.repeat(40), code: 'bundle_error', message: 'bundle rbac: verification key not found' } } }),
    });
    expect((await report()).status).toBe(200);
    const stuck = await eventually(async () => {
      await report();
      const audit = (await (await auditor.get('/api/audit?action=fleet.stuck')).json()) as { records: Array<{ revision: string; detail: string }> };
      return audit.records.some((entry) => entry.revision === next && entry.detail.includes('failing-1') && entry.detail.includes('verification key not found'));
    }, 60_000);
    expect(stuck).toBeGreaterThan(0);
    const view = await fleetOf(auditor);
    expect(view.revisions.find((entry) => entry.bundle === 'rbac' && entry.revision === next)).toMatchObject({ state: 'stuck', agents: 2, p50Ms: expect.any(Number) });
  }, 180_000);
});

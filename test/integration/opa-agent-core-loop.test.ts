import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { git } from '../helpers/git-repo.js';
import { startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';
import { eventually, agentOptionsFor, startOpaAgent } from '../helpers/opa-agent.js';
import { exampleDecisions } from './example-decisions.js';

const BUNDLES = ['rbac', 'datasets'] as const;

async function regentWithAgent(options: { longPollSeconds?: number } = {}) {
  const regent = await startTestRegent();
  const agent = await startOpaAgent({
    ...agentOptionsFor(regent),
    bundles: BUNDLES,
    longPollSeconds: options.longPollSeconds ?? 30,
    // Periodic polling is slow on purpose: anything that arrives within seconds came by long polling.
    minDelaySeconds: 60,
    maxDelaySeconds: 120,
  });
  await agent.waitUntilReady();
  return { regent, agent };
}

interface RbacData {
  users: Record<string, { active: boolean }>;
  assignments: Record<string, Array<{ role: string; project: string }>>;
}

// Changes add new users: the example repo's Rego tests pin the seeded users' decisions, and a change
// that broke them would (rightly) be refused by the activation gate.
async function commitDataChange(regent: Awaited<ReturnType<typeof startTestRegent>>, mutate: (data: RbacData) => void) {
  const head = (await regent.store.head())!;
  const entry = (await regent.store.listTree(head)).find((file) => file.path === 'rbac/data.json')!;
  const data = JSON.parse((await regent.store.readBlobs([entry.blobId])).get(entry.blobId)!.toString('utf8'));
  mutate(data);
  return regent.store.commit({
    changes: [{ op: 'put', path: 'rbac/data.json', content: Buffer.from(JSON.stringify(data, null, 2)) }],
    message: 'Change rbac assignments',
    author: { name: 'Test Admin', email: 'admin@example.test' },
    expectedHead: head,
  });
}

describe('a real OPA agent pulling from Regent', () => {
  test('downloads, verifies and activates both bundles, then answers every example decision as expected', async () => {
    const { regent, agent } = await regentWithAgent();
    const head = await regent.store.head();
    for (const bundle of BUNDLES) expect(await agent.activeRevision(bundle)).toBe(head);
    const answers = [];
    for (const row of exampleDecisions) answers.push({ name: row.name, result: await agent.query(row.path, row.input) });
    expect(answers).toEqual(exampleDecisions.map((row) => ({ name: row.name, result: row.expected })));
  });

  test('a commit to the store changes the agent decision through long polling, well before any poll interval', async () => {
    const { regent, agent } = await regentWithAgent();
    const input = { subject: 'heidi', action: 'delete', resource: { type: 'workflow', project: 'apollo' } };
    expect(await agent.query('rbac/allow', input)).toBe(false);

    const committed = await commitDataChange(regent, (data) => {
      data.users.heidi = { active: true };
      data.assignments.heidi = [{ role: 'admin', project: 'apollo' }];
    });
    const elapsed = await eventually(async () => (await agent.query('rbac/allow', input)) === true, 10_000, () => agent.logs().slice(-3000));
    expect(await agent.activeRevision('rbac')).toBe(committed.revision);
    // The agent polls every 60-120 s: a flip within 10 s can only have come through a held request.
    expect(elapsed).toBeLessThan(10_000);
    // Bundles whose content did not change keep their ETag, but the datasets bundle names the new revision too.
    await eventually(async () => (await agent.activeRevision('datasets')) === committed.revision, 10_000);
  });

  test('an outside push that moves the branch reaches the agent as well', async () => {
    const { regent, agent } = await regentWithAgent();
    const input = { subject: 'ivan', action: 'view', resource: { type: 'agent', project: 'zeus' } };
    expect(await agent.query('rbac/allow', input)).toBe(false);
    // A real `git push` from a clone into Regent's bare store: Regent learns of it by watching refs.
    const work = tempDirForTest('regent-clone-');
    await git(['clone', '--quiet', '--', `${regent.dataDir}/store.git`, work]);
    const dataPath = join(work, 'rbac', 'data.json');
    const data = JSON.parse(readFileSync(dataPath, 'utf8')) as RbacData;
    data.users.ivan = { active: true };
    data.assignments.ivan = [{ role: 'viewer', project: 'zeus' }];
    writeFileSync(dataPath, JSON.stringify(data, null, 2));
    await git(['commit', '--quiet', '-am', 'Give ivan viewer on zeus'], { cwd: work });
    await git(['push', '--quiet', 'origin', 'HEAD:main'], { cwd: work });
    const pushed = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    await eventually(async () => (await agent.query('rbac/allow', input)) === true, 10_000, () => agent.logs().slice(-3000));
    expect(await agent.activeRevision('rbac')).toBe(pushed);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { adminClient } from '../helpers/admin-client.js';
import { git } from '../helpers/git-repo.js';
import { eventually, agentOptionsFor, startOpaAgent } from '../helpers/opa-agent.js';
import { gitRemote, readTree } from '../helpers/git-remote.js';
import { EXAMPLE_POLICIES, startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;

const ENVIRONMENTS = { environments: [{ name: 'prod', ref: 'tags/prod' }, { name: 'staging', ref: 'heads/release' }] };
const deleteOnApollo = (subject: string) => ({ subject, action: 'delete', resource: { type: 'workflow', project: 'apollo' } });

interface RbacData {
  users: Record<string, { active: boolean }>;
  assignments: Record<string, Array<{ role: string; project: string }>>;
}

/** A commit on main (straight into the store, as a push would) making `user` an admin of apollo. */
async function grantAdmin(regent: Regent, user: string): Promise<string> {
  const head = (await regent.store.head())!;
  const entry = (await regent.store.listTree(head)).find((file) => file.path === 'rbac/data.json')!;
  const data = JSON.parse((await regent.store.readBlobs([entry.blobId])).get(entry.blobId)!.toString('utf8')) as RbacData;
  data.users[user] = { active: true };
  data.assignments[user] = [{ role: 'admin', project: 'apollo' }];
  const { revision } = await regent.store.commit({
    changes: [{ op: 'put', path: 'rbac/data.json', content: Buffer.from(JSON.stringify(data, null, 2)) }],
    message: `${user} administers apollo`, author: { name: 'Test Admin', email: 'admin@example.test' }, expectedHead: head,
  });
  expect((await regent.activation.awaitOutcome(revision, 20_000)).state).toBe('active');
  return revision;
}

/** A commit on main that real OPA rejects (a Rego syntax error), committed without the API's checks. */
async function commitBrokenRego(regent: Regent): Promise<string> {
  const head = (await regent.store.head())!;
  const { revision } = await regent.store.commit({
    changes: [{ op: 'put', path: 'rbac/broken.rego', content: Buffer.from('package rbac.broken\n\nallow if {\n') }],
    message: 'Break the build', author: { name: 'Test Admin', email: 'admin@example.test' }, expectedHead: head,
  });
  expect((await regent.activation.awaitOutcome(revision, 20_000)).state).toBe('rejected');
  return revision;
}

async function setup() {
  const regent = await startTestRegent({ config: ENVIRONMENTS });
  const admin = adminClient(regent, { sub: 'ada', role: 'admin', name: 'Ada Admin', email: 'ada@example.test' });
  const viewer = adminClient(regent, { sub: 'vic', role: 'viewer' });
  const storeGit = (args: readonly string[]) => git(args, { gitDir: join(regent.dataDir, 'store.git') });
  const environment = async (name: string) => (await (await viewer.get(`/api/environments/${name}`)).json()) as { revision: string | null; active: string | null; lastError: { revision: string; code: string } | null };
  const served = async (path: string) => (await fetch(`${regent.url}/bundles/${path}`)).headers.get('x-regent-revision');
  return { regent, admin, viewer, storeGit, environment, served };
}

describe('environments: bundle sets following a tag or a branch', () => {
  test('an agent on bundles/prod/rbac follows tag prod, not main: promotion (API and git tag -f) and rollback reach it by long polling', async () => {
    const { regent, admin, storeGit, environment, served } = await setup();
    const first = (await regent.store.head())!;
    // No tag yet: the environment serves nothing, and says so.
    const before = await fetch(`${regent.url}/bundles/prod/rbac`);
    expect(before.status).toBe(503);
    expect(((await before.json()) as { code: string }).code).toBe('no_active_revision');

    const created = await admin.put('/api/environments/prod', { revision: first, message: 'First release' }, { 'If-None-Match': '*' });
    expect(created.status).toBe(200);
    expect(await created.json()).toMatchObject({ environment: 'prod', ref: 'refs/tags/prod', from: null, revision: first, activation: { state: 'active' } });
    // An annotated tag with the promoter as tagger: the promotion's own audit trail in git.
    expect(await storeGit(['cat-file', '-p', 'refs/tags/prod'])).toMatch(/^tagger Ada Admin <ada@example\.test> /m);

    const agent = await startOpaAgent({ ...agentOptionsFor(regent), bundles: ['rbac'], resourcePrefix: 'prod/', minDelaySeconds: 60, maxDelaySeconds: 120 });
    await agent.waitUntilReady();
    expect(await agent.activeRevision('rbac')).toBe(first);
    expect(await agent.query('rbac/allow', deleteOnApollo('heidi'))).toBe(false);

    // A commit on main is served at /bundles/rbac, but prod stays where its tag is.
    const second = await grantAdmin(regent, 'heidi');
    expect(await served('rbac')).toBe(second);
    expect(await served('prod/rbac')).toBe(first);
    expect(await agent.query('rbac/allow', deleteOnApollo('heidi'))).toBe(false);
    expect(await agent.activeRevision('rbac')).toBe(first);

    // Promotion through the API (If-Match = the revision prod is at).
    const promoted = await admin.put('/api/environments/prod', { revision: 'head' }, { 'If-Match': `"${first}"` });
    expect(promoted.status).toBe(200);
    expect(await promoted.json()).toMatchObject({ from: first, revision: second, activation: { state: 'active' } });
    await eventually(async () => (await agent.query('rbac/allow', deleteOnApollo('heidi'))) === true, 10_000, () => agent.logs().slice(-3000));
    expect(await agent.activeRevision('rbac')).toBe(second);

    // Rollback: a plain `git tag -f` into the store moves prod back; the agent follows.
    await storeGit(['tag', '-f', 'prod', first]);
    await eventually(async () => (await agent.query('rbac/allow', deleteOnApollo('heidi'))) === false, 10_000, () => agent.logs().slice(-3000));
    expect(await agent.activeRevision('rbac')).toBe(first);
    // The catalog (and so the agent) gets the bundles just before the pipeline records them as active.
    await eventually(async () => (await environment('prod')).active === first, 10_000);

    // And forward again the same way.
    await storeGit(['tag', '-f', 'prod', second]);
    await eventually(async () => (await agent.query('rbac/allow', deleteOnApollo('heidi'))) === true, 10_000, () => agent.logs().slice(-3000));

    const audit = await (await admin.get('/api/audit?action=environment.promoted')).json() as { records: Array<Record<string, unknown>> };
    expect(audit.records[0]).toMatchObject({ action: 'environment.promoted', outcome: 'success', subject: 'ada', environment: 'prod', baseRevision: first, revision: second });
    expect(audit.records[1]).toMatchObject({ subject: 'ada', environment: 'prod', revision: first });
    expect(audit.records[1]!.baseRevision).toBeUndefined();
    // The two `git tag -f` moves are on record too, as moves made outside Regent; the API's are not.
    await eventually(async () => ((await (await admin.get('/api/audit?action=environment.moved')).json()) as { records: unknown[] }).records.length === 2, 10_000);
    const moved = (await (await admin.get('/api/audit?action=environment.moved')).json()) as { records: Array<Record<string, unknown>> };
    expect(moved.records.map((record) => [record.subject, record.environment, record.revision])).toEqual([['outside', 'prod', second], ['outside', 'prod', first]]);
  });

  test('a revision that fails the gate is refused by the API, and not served when the tag is moved to it by hand', async () => {
    const { regent, admin, storeGit, environment, served } = await setup();
    const good = (await regent.store.head())!;
    expect((await admin.put('/api/environments/prod', { revision: good }, { 'If-None-Match': '*' })).status).toBe(200);
    const broken = await commitBrokenRego(regent);

    const refused = await admin.put('/api/environments/prod', { revision: broken }, { 'If-Match': `"${good}"` });
    expect(refused.status).toBe(422);
    const problem = (await refused.json()) as { problems: Array<{ file: string }> };
    expect(problem).toMatchObject({ code: 'validation_failed', field: 'revision' });
    expect(problem.problems[0]?.file).toBe('rbac/broken.rego');
    expect((await environment('prod')).revision).toBe(good);

    await storeGit(['tag', '-f', 'prod', broken]);
    await eventually(async () => (await environment('prod')).lastError?.revision === broken, 10_000);
    const status = await environment('prod');
    expect(status).toMatchObject({ revision: broken, active: good, lastError: { code: 'gate_failed' } });
    expect(await served('prod/rbac')).toBe(good);
    const all = (await (await fetch(`${regent.url}/status`)).json()) as { environments: Record<string, unknown> };
    expect(all.environments.prod).toMatchObject({ ref: 'refs/tags/prod', revision: broken, active: good, revisionDiffersFromActive: true });
    expect(all.environments.staging).toMatchObject({ ref: 'refs/heads/release', revision: null, active: null });
  });

  test('concurrent promotions with the same If-Match: exactly one wins, the other gets 409 environment_moved', async () => {
    const { regent, admin, environment } = await setup();
    const first = (await regent.store.head())!;
    expect((await admin.put('/api/environments/prod', { revision: first }, { 'If-None-Match': '*' })).status).toBe(200);
    const second = await grantAdmin(regent, 'heidi');
    const third = await grantAdmin(regent, 'ivan');
    const answers = await Promise.all([second, third].map((revision) => admin.put('/api/environments/prod', { revision }, { 'If-Match': `"${first}"` })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const loser = answers.find((answer) => answer.status === 409)!;
    const winner = (await answers.find((answer) => answer.status === 200)!.json()) as { revision: string };
    expect(await loser.json()).toMatchObject({ code: 'environment_moved', revision: winner.revision });
    expect((await environment('prod')).revision).toBe(winner.revision);
  });

  test('a branch environment (heads/release) follows its branch and can be moved back', async () => {
    const { regent, admin, served } = await setup();
    const first = (await regent.store.head())!;
    const second = await grantAdmin(regent, 'heidi');
    expect((await admin.put('/api/environments/staging', { revision: second }, { 'If-None-Match': '*' })).status).toBe(200);
    expect(await served('staging/rbac')).toBe(second);
    const back = await admin.put('/api/environments/staging', { revision: first, message: 'Roll staging back' }, { 'If-Match': `"${second}"` });
    expect(back.status).toBe(200);
    expect(await served('staging/rbac')).toBe(first);
    expect(await served('rbac')).toBe(second);
  });

  test.each([
    ['a viewer cannot promote', 'viewer', '/api/environments/prod', { revision: 'head' }, 'none', 403, 'missing_role', undefined],
    ['an unknown environment', 'admin', '/api/environments/qa', { revision: 'head' }, 'none', 404, 'environment_not_found', 'environment'],
    ['a revision that is not a revision', 'admin', '/api/environments/prod', { revision: '--output=/tmp/x' }, 'none', 400, 'invalid_revision', 'revision'],
    ['no revision', 'admin', '/api/environments/prod', {}, 'none', 400, 'invalid_revision', 'revision'],
    ['an unknown commit', 'admin', '/api/environments/prod', { revision: 'f'.repeat(40) }, 'none', 422, 'revision_not_in_history', 'revision'],
    ['a commit outside the tracked history', 'admin', '/api/environments/prod', { revision: 'SIDE' }, 'none', 422, 'revision_not_in_history', 'revision'],
    ['no If-Match', 'admin', '/api/environments/prod', { revision: 'head' }, undefined, 428, 'environment_revision_required', 'If-Match'],
    ['a malformed If-Match', 'admin', '/api/environments/prod', { revision: 'head' }, 'bad', 400, 'invalid_if_match', 'If-Match'],
    ['a stale If-Match', 'admin', '/api/environments/prod', { revision: 'head' }, 'stale', 409, 'environment_moved', 'If-Match'],
    ['a forged trailer in the message', 'admin', '/api/environments/prod', { revision: 'head', message: 'ok\n\nRegent-Actor: root' }, 'none', 400, 'invalid_message', 'message'],
  ] as const)('refuses %s', async (_name, role, path, body, precondition, status, code, field) => {
    const { regent, storeGit, environment } = await setup();
    const head = (await regent.store.head())!;
    const side = (await storeGit(['commit-tree', '-p', head, '-m', 'side', `${head}^{tree}`])).trim();
    const client = adminClient(regent, { sub: 'sam', role });
    const headers: Record<string, string> = precondition === 'none' ? { 'If-None-Match': '*' }
      : precondition === 'bad' ? { 'If-Match': head } : precondition === 'stale' ? { 'If-Match': `"${'a'.repeat(40)}"` } : {};
    const answer = await client.put(path, { ...body, ...('revision' in body && body.revision === 'SIDE' ? { revision: side } : {}) }, headers);
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await answer.json()) as { code: string; field?: string };
    expect(problem.code).toBe(code);
    if (field) expect(problem.field).toBe(field);
    expect((await environment('prod')).revision).toBeNull();
  });

  test('lists environments for viewers, and refuses a default-set bundle named after an environment', async () => {
    const { regent, admin, viewer } = await setup();
    const list = await viewer.get('/api/environments');
    expect(list.status).toBe(200);
    expect(await list.json()).toMatchObject({ environments: [{ name: 'prod', ref: 'refs/tags/prod', kind: 'tag', revision: null }, { name: 'staging', ref: 'refs/heads/release', kind: 'branch', revision: null }] });
    const head = (await regent.store.head())!;
    const regentYaml = 'bundles:\n  prod/rbac:\n    roots: [rbac]\n    paths: [rbac]\n  datasets:\n    roots: [datasets]\n';
    const refused = await admin.put('/api/policies/regent.yaml', { content: regentYaml, message: 'Shadow prod' }, { 'If-Match': `"${head}"` });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(await refused.json())).toContain('bundle_name_reserved');
    expect(await regent.store.head()).toBe(head);
  });
});

describe('environments in remote mode', () => {
  test('a promotion is pushed to the remote tag (leased), a developer\'s force-pushed tag promotes too, and a stale lease is refused', async () => {
    const remote = await gitRemote(readTree(EXAMPLE_POLICIES));
    const regent = await startTestRegent({ config: { ...ENVIRONMENTS, remote: { url: remote.dir, syncSchedule: '0 0 1 1 *', fetchTimeoutMs: 10_000 } } });
    const admin = adminClient(regent, { sub: 'ada', role: 'admin', name: 'Ada Admin', email: 'ada@example.test' });
    const remoteTag = async () => (await remote.git(['rev-parse', '--verify', '--quiet', 'refs/tags/prod^{commit}']).catch(() => '')).trim();
    const environment = async () => (await (await admin.get('/api/environments/prod')).json()) as { revision: string | null; active: string | null };
    const sync = async () => expect((await admin.post('/api/mirror/sync')).status).toBe(202);
    const first = await remote.tip();

    expect((await admin.put('/api/environments/prod', { revision: first }, { 'If-None-Match': '*' })).status).toBe(200);
    expect(await remoteTag()).toBe(first);

    // A developer merges on main, then promotes by force-pushing the tag; Regent's sync fetches it.
    const data = JSON.parse(readFileSync(join(remote.developer.dir, 'rbac', 'data.json'), 'utf8')) as RbacData;
    data.users.heidi = { active: true };
    data.assignments.heidi = [{ role: 'admin', project: 'apollo' }];
    const merged = await remote.merge({ 'rbac/data.json': `${JSON.stringify(data, null, 2)}\n` });
    await remote.developer.git(['fetch', '--quiet', 'origin', 'main']);
    await remote.developer.git(['tag', '-f', 'prod', merged]);
    await remote.developer.git(['push', '--quiet', '--force', 'origin', 'refs/tags/prod']);
    await sync();
    await eventually(async () => (await environment()).active === merged, 15_000);
    await eventually(async () => (await regent.store.head()) === merged, 15_000);

    // Rollback through the API: the remote tag moves back first.
    const back = await admin.put('/api/environments/prod', { revision: first }, { 'If-Match': `"${merged}"` });
    expect(back.status).toBe(200);
    expect(await remoteTag()).toBe(first);
    expect((await environment()).active).toBe(first);

    // The developer moves the tag again without Regent hearing of it: Regent's lease is stale, so the push is refused.
    await remote.developer.git(['tag', '-f', 'prod', merged]);
    await remote.developer.git(['push', '--quiet', '--force', 'origin', 'refs/tags/prod']);
    const stale = await admin.put('/api/environments/prod', { revision: first, message: 'Pin prod' }, { 'If-Match': `"${first}"` });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { code: string }).code).toBe('environment_moved');
    expect(await remoteTag()).toBe(merged);
    await eventually(async () => (await environment()).revision === merged, 15_000);

    // A branch environment only moves forward in remote mode (a push without force).
    expect((await admin.put('/api/environments/staging', { revision: merged }, { 'If-None-Match': '*' })).status).toBe(200);
    expect((await remote.git(['rev-parse', 'refs/heads/release'])).trim()).toBe(merged);
    const backwards = await admin.put('/api/environments/staging', { revision: first }, { 'If-Match': `"${merged}"` });
    expect(backwards.status).toBe(409);
    expect(((await backwards.json()) as { code: string }).code).toBe('environment_not_fast_forward');
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { adminClient, type AdminClient } from '../helpers/admin-client.js';
import { git } from '../helpers/git-repo.js';
import { eventually, agentOptionsFor, startOpaAgent } from '../helpers/opa-agent.js';
import { EXAMPLE_POLICIES, startTestRegent, type StartTestRegentOptions } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;

interface ChangeRequestBody {
  id: number;
  state: string;
  tip: string;
  baseRevision: string;
  contributors: string[];
  approvals: Array<{ subject: string; revision: string }>;
  validation: { ok: boolean; current: boolean; head: string; tip: string; conflicts: string[]; problems: Array<Record<string, unknown>> } | null;
}

const SEED_RBAC = JSON.parse(readFileSync(join(EXAMPLE_POLICIES, 'rbac', 'data.json'), 'utf8')) as { assignments: Record<string, unknown> };

/** rbac/data.json of the example repository with `frank` (active, no assignments) given one. */
function rbacDataWithFrank(role: string, project: string): string {
  const data = structuredClone(SEED_RBAC);
  data.assignments.frank = [{ role, project }];
  return `${JSON.stringify(data, null, 2)}\n`;
}

// The example tests require every shipped assignment to belong to a known user, so this change fails `opa test`.
const GHOST_ON_APOLLO = (() => {
  const data = structuredClone(SEED_RBAC);
  data.assignments.ghost = [{ role: 'viewer', project: 'apollo' }];
  return `${JSON.stringify(data, null, 2)}\n`;
})();
const FRANK_ON_HERMES = rbacDataWithFrank('editor', 'hermes');
const frankEditsOnHermes = { subject: 'frank', action: 'edit', resource: { type: 'workflow', project: 'hermes' } };

async function setup(options: StartTestRegentOptions = {}): Promise<{ regent: Regent; head: string; eddie: AdminClient; alice: AdminClient; bob: AdminClient }> {
  const regent = await startTestRegent(options);
  return {
    regent,
    head: (await regent.store.head())!,
    eddie: adminClient(regent, { sub: 'eddie', role: 'editor', name: 'Eddie Editor', email: 'eddie@example.test' }),
    alice: adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice Admin', email: 'alice@example.test' }),
    bob: adminClient(regent, { sub: 'bob', role: 'admin', name: 'Bob Admin', email: 'bob@example.test' }),
  };
}

async function propose(client: AdminClient, title: string, changes: Array<Record<string, string>>, extra: Record<string, unknown> = {}): Promise<ChangeRequestBody> {
  const response = await client.post('/api/change-requests', { title, changes, ...extra });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as ChangeRequestBody;
}

const putFile = (path: string, content: string): Record<string, string> => ({ op: 'put', path, content });

async function read(client: AdminClient, id: number): Promise<ChangeRequestBody & Record<string, unknown>> {
  const response = await client.get(`/api/change-requests/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as ChangeRequestBody & Record<string, unknown>;
}

async function problem(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  return (await response.json()) as Record<string, unknown>;
}

function storeGit(regent: Regent, args: string[]): Promise<string> {
  return git(args, { gitDir: join(regent.dataDir, 'store.git') });
}

describe('change requests: the four-eyes flow', () => {
  test('an editor proposes, another admin approves, an admin merges, and a real OPA agent enforces it', async () => {
    const { regent, head, eddie, alice, bob } = await setup();
    const agent = await startOpaAgent(agentOptionsFor(regent));
    await agent.waitUntilReady();
    expect(await agent.query('rbac/allow', frankEditsOnHermes)).toBe(false);

    const created = await propose(eddie, 'Frank edits on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)], { description: 'Frank joins the hermes team.' });
    expect(created).toMatchObject({ state: 'open', baseRevision: head, contributors: ['eddie'], validation: { ok: true, current: true, head } });
    expect(await regent.store.head()).toBe(head);
    const shown = await read(eddie, created.id);
    expect(shown).toMatchObject({ description: 'Frank joins the hermes team.', diff: { from: head, to: created.tip, files: [{ path: 'rbac/data.json', status: 'modified' }] } });
    expect((shown.diff as { patch: string }).patch).toContain('"hermes"');
    const proposal = await storeGit(regent, ['log', '-1', '--format=%an <%ae>%n%P%n%B', created.tip]);
    expect(proposal).toContain('Eddie Editor <eddie@example.test>');
    expect(proposal).toContain(`${head}\n`);
    expect(proposal).toContain(`Regent-Change-Request: ${created.id}`);
    expect(await storeGit(regent, ['for-each-ref', '--format=%(refname) %(objectname)', 'refs/regent/'])).toBe(`refs/regent/change-requests/${created.id} ${created.tip}\n`);

    const comment = await bob.post(`/api/change-requests/${created.id}/comments`, { body: 'Is hermes the right project?' });
    expect(comment.status).toBe(201);
    const early = await bob.post(`/api/change-requests/${created.id}/merge`);
    expect(early.status).toBe(409);
    expect(await problem(early)).toMatchObject({ code: 'not_approved' });

    const approved = await alice.post(`/api/change-requests/${created.id}/approve`, { comment: 'Yes.', tip: created.tip });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ state: 'approved', approvals: [{ subject: 'alice', revision: created.tip }] });
    const listed = (await (await eddie.get('/api/change-requests?state=approved')).json()) as { changeRequests: ChangeRequestBody[] };
    expect(listed.changeRequests.map((changeRequest) => changeRequest.id)).toEqual([created.id]);

    const merged = await bob.post(`/api/change-requests/${created.id}/merge`);
    expect(merged.status, await merged.clone().text()).toBe(200);
    const result = (await merged.json()) as { revision: string; strategy: string; activation: { state: string }; changeRequest: ChangeRequestBody };
    expect(result).toMatchObject({ strategy: 'merge-commit', activation: { state: 'active' }, changeRequest: { state: 'merged' } });
    expect(await regent.store.head()).toBe(result.revision);
    const mergeCommit = await storeGit(regent, ['log', '-1', '--format=%an%n%P%n%B', result.revision]);
    expect(mergeCommit).toContain('Bob Admin');
    expect(mergeCommit).toContain(`${head} ${created.tip}`);
    expect(mergeCommit).toContain(`Merge change request #${created.id}: Frank edits on hermes`);
    expect(mergeCommit).toContain('Regent-Approved-By: alice');

    await eventually(async () => (await agent.query('rbac/allow', frankEditsOnHermes)) === true, 10_000, () => agent.logs().slice(-2000));
    expect(await agent.activeRevision('rbac')).toBe(result.revision);

    const audit = (await (await alice.get('/api/audit?limit=20')).json()) as { records: Array<Record<string, unknown>> };
    const actions = audit.records.filter((record) => record.changeRequest === String(created.id)).map((record) => `${record.action}:${record.subject}`);
    expect(actions).toEqual(expect.arrayContaining(['change_request.created:eddie', 'change_request.commented:bob', 'change_request.refused:bob', 'change_request.approved:alice', 'change_request.merged:bob']));
    expect(audit.records.find((record) => record.action === 'change_request.merged')).toMatchObject({ revision: result.revision, baseRevision: head, paths: ['rbac/data.json'] });
  });

  test('self-approval is refused: not by the author, nor by an admin who added commits; another admin may', async () => {
    const { regent, alice, bob } = await setup();
    const carol = adminClient(regent, { sub: 'carol', role: 'admin' });
    const created = await propose(alice, 'Frank on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)]);
    const own = await alice.post(`/api/change-requests/${created.id}/approve`);
    expect(own.status).toBe(403);
    expect(await problem(own)).toMatchObject({ code: 'self_approval', field: 'id' });

    const pushed = await bob.post(`/api/change-requests/${created.id}/commits`, { message: 'Add a module', changes: [putFile('rbac/extra.rego', 'package rbac.extra\n\nenabled := true\n')] });
    expect(pushed.status).toBe(201);
    expect(await pushed.json()).toMatchObject({ contributors: ['alice', 'bob'] });
    const bobs = await bob.post(`/api/change-requests/${created.id}/approve`);
    expect(bobs.status).toBe(403);
    expect(await problem(bobs)).toMatchObject({ code: 'self_approval' });
    expect((await read(alice, created.id)).state).toBe('open');

    const carols = await carol.post(`/api/change-requests/${created.id}/approve`);
    expect(carols.status).toBe(200);
    expect(await carols.json()).toMatchObject({ state: 'approved' });
    const audit = (await (await carol.get('/api/audit?action=change_request.refused')).json()) as { records: Array<Record<string, unknown>> };
    expect(audit.records.map((record) => `${record.subject}:${record.reason}`)).toEqual(['bob:self_approval', 'alice:self_approval']);
  });

  test('an editor cannot approve, merge, or add commits to another author\'s change request; a viewer cannot propose', async () => {
    const { regent, head, eddie, alice, bob } = await setup();
    const other = adminClient(regent, { sub: 'olga', role: 'editor' });
    const viewer = adminClient(regent, { sub: 'victor', role: 'viewer' });
    const created = await propose(eddie, 'Frank on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)]);
    expect((await bob.post(`/api/change-requests/${created.id}/approve`)).status).toBe(200);
    for (const [client, path, body, code] of [
      [other, 'approve', {}, 'missing_role'],
      [eddie, 'merge', {}, 'missing_role'],
      [other, 'commits', { message: 'mine now', changes: [putFile('rbac/x.rego', 'package rbac.x\n')] }, 'not_change_request_author'],
      [other, 'reject', {}, 'not_change_request_author'],
    ] as const) {
      const response = await client.post(`/api/change-requests/${created.id}/${path}`, body);
      expect(response.status, path).toBe(403);
      expect(await problem(response), path).toMatchObject({ code });
    }
    const proposal = await viewer.post('/api/change-requests', { title: 'x', changes: [putFile('rbac/x.rego', 'package rbac.x\n')] });
    expect(proposal.status).toBe(403);
    expect(await regent.store.head()).toBe(head);
    expect((await read(alice, created.id)).state).toBe('approved');
  });

  test('a merge of an invalid change is refused with OPA\'s findings, and nothing reaches the branch', async () => {
    const { regent, head, eddie, alice, bob } = await setup();
    const before = await storeGit(regent, ['rev-list', '--count', 'main']);
    const created = await propose(eddie, 'A ghost sees apollo', [putFile('rbac/data.json', GHOST_ON_APOLLO)]);
    expect(created.validation).toMatchObject({ ok: false, current: true, head });
    expect(created.validation!.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'rego_test_failed', file: 'rbac/policy_test.rego' })]));
    expect((await alice.post(`/api/change-requests/${created.id}/approve`)).status).toBe(200);

    const merge = await bob.post(`/api/change-requests/${created.id}/merge`);
    expect(merge.status).toBe(422);
    const body = await problem(merge);
    expect(body).toMatchObject({ code: 'validation_failed', head });
    expect(body.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'rego_test_failed' })]));
    expect(await regent.store.head()).toBe(head);
    expect(await storeGit(regent, ['rev-list', '--count', 'main'])).toBe(before);
    expect((await read(bob, created.id)).state).toBe('approved');
    const audit = (await (await bob.get('/api/audit?action=change_request.refused')).json()) as { records: Array<Record<string, unknown>> };
    expect(audit.records[0]).toMatchObject({ subject: 'bob', reason: 'validation_failed', changeRequest: String(created.id) });
  });

  test('new commits reset approvals, and an approval of a tip that moved is refused', async () => {
    const { eddie, alice } = await setup();
    const created = await propose(eddie, 'Frank on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)]);
    expect((await alice.post(`/api/change-requests/${created.id}/approve`)).status).toBe(200);
    const pushed = await eddie.post(`/api/change-requests/${created.id}/commits`, { message: 'And a module', changes: [putFile('rbac/extra.rego', 'package rbac.extra\n\nenabled := true\n')] }, { 'If-Match': `"${created.tip}"` });
    expect(pushed.status).toBe(201);
    const updated = (await pushed.json()) as ChangeRequestBody;
    expect(updated).toMatchObject({ state: 'open', approvals: [], validation: { ok: true, current: true } });
    expect(updated.tip).not.toBe(created.tip);
    const stale = await alice.post(`/api/change-requests/${created.id}/approve`, { tip: created.tip });
    expect(stale.status).toBe(409);
    expect(await problem(stale)).toMatchObject({ code: 'change_request_moved', tip: updated.tip });
    const stalePush = await eddie.post(`/api/change-requests/${created.id}/commits`, { message: 'again', tip: created.tip, changes: [putFile('rbac/more.rego', 'package rbac.more\n')] });
    expect(stalePush.status).toBe(409);
    expect((await alice.post(`/api/change-requests/${created.id}/approve`, { tip: updated.tip })).status).toBe(200);
  });

  test('when head moves, open change requests are revalidated on it; a file-level conflict shows as such and blocks the merge', async () => {
    const { regent, head, eddie, alice, bob } = await setup();
    const conflicting = await propose(eddie, 'Frank on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)]);
    const independent = await propose(eddie, 'A new module', [putFile('rbac/extra.rego', 'package rbac.extra\n\nenabled := true\n')]);
    for (const changeRequest of [conflicting, independent]) expect((await alice.post(`/api/change-requests/${changeRequest.id}/approve`)).status).toBe(200);

    const direct = await bob.put('/api/policies/rbac/data.json', { content: rbacDataWithFrank('viewer', 'zeus'), message: 'Frank views zeus', baseRevision: head });
    expect(direct.status).toBe(201);
    const moved = ((await direct.json()) as { revision: string }).revision;
    await eventually(async () => (await read(eddie, conflicting.id)).validation?.head === moved && (await read(eddie, independent.id)).validation?.head === moved, 20_000);
    expect((await read(eddie, conflicting.id)).validation).toMatchObject({ ok: false, current: true, conflicts: ['rbac/data.json'], problems: [{ code: 'merge_conflict', file: 'rbac/data.json' }] });
    expect((await read(eddie, independent.id)).validation).toMatchObject({ ok: true, current: true, conflicts: [] });

    const refused = await bob.post(`/api/change-requests/${conflicting.id}/merge`);
    expect(refused.status).toBe(409);
    expect(await problem(refused)).toMatchObject({ code: 'merge_conflict', files: ['rbac/data.json'] });
    const merged = await bob.post(`/api/change-requests/${independent.id}/merge`);
    expect(merged.status).toBe(200);
    const revision = ((await merged.json()) as { revision: string }).revision;
    expect(await storeGit(regent, ['log', '-1', '--format=%P', revision])).toBe(`${moved} ${independent.tip}\n`);
    expect(await storeGit(regent, ['show', `${revision}:rbac/data.json`])).toBe(rbacDataWithFrank('viewer', 'zeus'));
    expect(await storeGit(regent, ['show', `${revision}:rbac/extra.rego`])).toContain('package rbac.extra');
  });

  test('fast-forward strategy: the approved commit itself becomes head; a request behind head is refused', async () => {
    const { regent, head, eddie, alice, bob } = await setup({ config: { changeRequests: { mergeStrategy: 'fast-forward' } } });
    const first = await propose(eddie, 'Frank on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)]);
    const second = await propose(eddie, 'A new module', [putFile('rbac/extra.rego', 'package rbac.extra\n\nenabled := true\n')]);
    for (const changeRequest of [first, second]) expect((await alice.post(`/api/change-requests/${changeRequest.id}/approve`)).status).toBe(200);
    const merged = await bob.post(`/api/change-requests/${first.id}/merge`);
    expect(merged.status).toBe(200);
    expect(await merged.json()).toMatchObject({ revision: first.tip, strategy: 'fast-forward' });
    expect(await regent.store.head()).toBe(first.tip);
    expect(await storeGit(regent, ['log', '-1', '--format=%an%n%P', 'main'])).toBe(`Eddie Editor\n${head}\n`);
    const behind = await bob.post(`/api/change-requests/${second.id}/merge`);
    expect(behind.status).toBe(409);
    expect(await problem(behind)).toMatchObject({ code: 'not_fast_forward', head: first.tip });
    expect(await regent.store.head()).toBe(first.tip);
  });

  test('concurrent merges: of the same request, one wins; of two requests changing the same file, one wins', async () => {
    const { regent, head, eddie, alice, bob } = await setup();
    const carol = adminClient(regent, { sub: 'carol', role: 'admin' });
    const one = await propose(eddie, 'Frank on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)]);
    const two = await propose(eddie, 'Frank on zeus', [putFile('rbac/data.json', rbacDataWithFrank('viewer', 'zeus'))]);
    for (const changeRequest of [one, two]) expect((await alice.post(`/api/change-requests/${changeRequest.id}/approve`)).status).toBe(200);
    const responses = await Promise.all([
      bob.post(`/api/change-requests/${one.id}/merge`), carol.post(`/api/change-requests/${one.id}/merge`),
      bob.post(`/api/change-requests/${two.id}/merge`), carol.post(`/api/change-requests/${two.id}/merge`),
    ]);
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(3);
    const codes = await Promise.all(responses.filter((response) => response.status === 409).map(async (response) => (await problem(response)).code));
    for (const code of codes) expect(['change_request_closed', 'head_moved', 'merge_conflict']).toContain(code);
    expect(await storeGit(regent, ['rev-list', '--count', `${head}..main`])).toBe('2\n');
  });
});

describe('change requests: configuration, persistence and bad input', () => {
  test('with requireApproval, direct writes are refused (and audited) while approved change requests still merge', async () => {
    const { regent, head, eddie, alice, bob } = await setup({ config: { changeRequests: { requireApproval: true } } });
    const module = 'package rbac.extra\n\nenabled := true\n';
    const refusals = await Promise.all([
      alice.put('/api/policies/rbac/extra.rego', { content: module, message: 'direct', baseRevision: head }),
      alice.delete('/api/policies/rbac/data.json', { message: 'direct', baseRevision: head }),
      alice.post('/api/changes', { message: 'direct', baseRevision: head, changes: [putFile('rbac/extra.rego', module)] }),
      alice.post('/api/policies/generate', { service_name: 'billing', resource_type: 'invoice', actions: { viewer: ['view'] }, baseRevision: head }),
      alice.post(`/api/versions/${head}/activate`, { baseRevision: head }),
    ]);
    for (const response of refusals) {
      expect(response.status).toBe(403);
      expect(await problem(response)).toMatchObject({ code: 'approval_required' });
    }
    expect(await regent.store.head()).toBe(head);
    const audit = (await (await alice.get('/api/audit?action=write.refused')).json()) as { records: Array<Record<string, unknown>> };
    expect(audit.records.filter((record) => record.reason === 'approval_required')).toHaveLength(5);

    const created = await propose(eddie, 'A new module', [putFile('rbac/extra.rego', module)]);
    expect((await alice.post(`/api/change-requests/${created.id}/approve`)).status).toBe(200);
    const merged = await bob.post(`/api/change-requests/${created.id}/merge`);
    expect(merged.status).toBe(200);
    expect(await regent.store.head()).toBe(((await merged.json()) as { revision: string }).revision);
  });

  test('change requests survive a restart: state, approvals, comments, and the next id', async () => {
    const first = await setup({ keepRunning: true });
    let closed = false;
    try {
      const created = await propose(first.eddie, 'Frank on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)]);
      expect((await first.alice.post(`/api/change-requests/${created.id}/approve`)).status).toBe(200);
      expect((await first.bob.post(`/api/change-requests/${created.id}/comments`, { body: 'Looks right.' })).status).toBe(201);
      await first.regent.close();
      closed = true;

      const second = await setup({ dataDir: first.regent.dataDir });
      const shown = await read(second.eddie, created.id);
      expect(shown).toMatchObject({ state: 'approved', tip: created.tip, approvals: [{ subject: 'alice' }], comments: [{ subject: 'bob', body: 'Looks right.' }], validation: { ok: true, current: true } });
      const next = await propose(second.eddie, 'Another', [putFile('rbac/extra.rego', 'package rbac.extra\n\nenabled := true\n')]);
      expect(next.id).toBe(created.id + 1);
      const merged = await second.bob.post(`/api/change-requests/${created.id}/merge`);
      expect(merged.status).toBe(200);
    } finally {
      if (!closed) await first.regent.close();
    }
  });

  test('a commit whose record a crash lost is adopted at restart: its author joins the contributors, old approvals no longer count', async () => {
    const first = await setup({ keepRunning: true });
    let closed = false;
    try {
      const created = await propose(first.eddie, 'Frank on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)]);
      expect((await first.alice.post(`/api/change-requests/${created.id}/approve`)).status).toBe(200);
      await first.regent.close();
      closed = true;
      // What a crash between moving the ref and saving the record leaves behind: the ref one commit ahead.
      const tree = (await storeGit(first.regent, ['rev-parse', `${created.tip}^{tree}`])).trim();
      const lost = (await storeGit(first.regent, ['commit-tree', '-p', created.tip, '-m', 'Add more\n\nRegent-Request-Id: req-lost\nRegent-Actor: bob (admin)', tree])).trim();
      await storeGit(first.regent, ['update-ref', `refs/regent/change-requests/${created.id}`, lost, created.tip]);

      const second = await setup({ dataDir: first.regent.dataDir });
      const shown = await read(second.eddie, created.id);
      expect(shown).toMatchObject({ tip: lost, state: 'open', contributors: ['eddie', 'bob'] });
      // bob put a commit on it now: he may not approve it; alice may approve the new tip.
      expect((await second.bob.post(`/api/change-requests/${created.id}/approve`)).status).toBe(403);
      expect((await second.alice.post(`/api/change-requests/${created.id}/approve`)).status).toBe(200);
      const { records } = (await (await second.alice.get('/api/audit?action=change_request.updated')).json()) as { records: Array<Record<string, unknown>> };
      expect(records[0]).toMatchObject({ subject: 'bob', revision: lost, changeRequest: String(created.id) });
    } finally {
      if (!closed) await first.regent.close();
    }
  });

  test.each([
    ['no title', 'POST', '/api/change-requests', { changes: [putFile('rbac/x.rego', 'package rbac.x\n')] }, 400, 'invalid_field', 'title'],
    ['a two-line title', 'POST', '/api/change-requests', { title: 'a\nb', changes: [putFile('rbac/x.rego', 'package rbac.x\n')] }, 400, 'invalid_field', 'title'],
    ['no changes', 'POST', '/api/change-requests', { title: 'x', changes: [] }, 400, 'no_changes', 'changes'],
    ['a bad path', 'POST', '/api/change-requests', { title: 'x', changes: [putFile('../x.rego', 'package x\n')] }, 400, 'invalid_path', 'path'],
    ['a forged trailer', 'POST', '/api/change-requests', { title: 'x', message: 'x\n\nApproved-by: ceo', changes: [putFile('rbac/x.rego', 'package rbac.x\n')] }, 400, 'invalid_message', 'message'],
    ['a malformed base', 'POST', '/api/change-requests', { title: 'x', baseRevision: 'HEAD~1', changes: [putFile('rbac/x.rego', 'package rbac.x\n')] }, 400, 'invalid_revision', 'baseRevision'],
    ['a malformed id', 'GET', '/api/change-requests/1x', undefined, 400, 'invalid_change_request_id', 'id'],
    ['an unknown id', 'GET', '/api/change-requests/999', undefined, 404, 'change_request_not_found', 'id'],
    ['an unknown state', 'GET', '/api/change-requests?state=done', undefined, 400, 'invalid_query', 'state'],
    ['an empty comment', 'POST', '/api/change-requests/1/comments', { body: ' ' }, 400, 'invalid_field', 'body'],
    ['a malformed If-Match', 'POST', '/api/change-requests/1/approve', undefined, 400, 'invalid_if_match', 'If-Match'],
  ])('refuses %s with a problem naming the field', async (_name, method, path, body, status, code, field) => {
    const { regent, head, eddie, alice } = await setup();
    await propose(eddie, 'Frank on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)]);
    const headers = code === 'invalid_if_match' ? { 'If-Match': 'nope' } : undefined;
    const response = method === 'GET' ? await alice.get(path) : await alice.post(path, body, headers);
    expect(response.status).toBe(status);
    expect(await problem(response)).toMatchObject({ code, field });
    expect(await regent.store.head()).toBe(head);
  });

  test('a base revision outside the tracked branch\'s history is refused', async () => {
    const { eddie, alice } = await setup();
    const created = await propose(eddie, 'Frank on hermes', [putFile('rbac/data.json', FRANK_ON_HERMES)]);
    const response = await alice.post('/api/change-requests', { title: 'On top of a proposal', baseRevision: created.tip, changes: [putFile('rbac/x.rego', 'package rbac.x\n')] });
    expect(response.status).toBe(400);
    expect(await problem(response)).toMatchObject({ code: 'invalid_base_revision', field: 'baseRevision' });
  });
});

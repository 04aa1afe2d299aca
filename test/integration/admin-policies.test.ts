import { describe, expect, test } from 'vitest';
import { adminClient, type AdminClient } from '../helpers/admin-client.js';
import { git } from '../helpers/git-repo.js';
import { eventually, agentOptionsFor, startOpaAgent } from '../helpers/opa-agent.js';
import { startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;

async function setup(): Promise<{ regent: Regent; admin: AdminClient; head: string }> {
  const regent = await startTestRegent();
  const admin = adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice Admin', email: 'alice@example.test' });
  return { regent, admin, head: (await regent.store.head())! };
}

async function commitCount(regent: Regent): Promise<number> {
  return Number((await git(['rev-list', '--count', 'main'], { gitDir: `${regent.dataDir}/store.git` })).trim());
}

const GOOD_MODULE = 'package rbac.extra\n\n# METADATA\n# title: Extra rule\nenabled := true\n';

describe('admin API: reading policies', () => {
  test('lists files at head with kind, size, blob id, package and METADATA title', async () => {
    const { admin, head } = await setup();
    const response = await admin.get('/api/policies');
    expect(response.status).toBe(200);
    const listing = (await response.json()) as { revision: string; files: Array<Record<string, unknown>> };
    expect(listing.revision).toBe(head);
    const policy = listing.files.find((file) => file.path === 'rbac/policy.rego')!;
    expect(policy).toMatchObject({ kind: 'module', package: 'rbac', title: 'Role-based access control' });
    expect(policy.blobId).toMatch(/^[0-9a-f]{40}$/);
    expect(listing.files.find((file) => file.path === 'rbac/policy_test.rego')).toMatchObject({ kind: 'test' });
    expect(listing.files.find((file) => file.path === 'regent.yaml')).toMatchObject({ kind: 'bundle_definition' });
  });

  test('reads a file at head and at an older revision', async () => {
    const { admin, head } = await setup();
    const written = await admin.put('/api/policies/rbac/extra.rego', { content: GOOD_MODULE, message: 'Add extra', baseRevision: head });
    expect(written.status).toBe(201);
    const now = await admin.get('/api/policies/rbac/extra.rego');
    expect(now.status).toBe(200);
    expect(await now.text()).toBe(GOOD_MODULE);
    const before = await admin.get(`/api/policies/rbac/extra.rego?revision=${head}`);
    expect(before.status).toBe(404);
    expect(((await before.json()) as { code: string }).code).toBe('file_not_found');
  });
});

describe('admin API: writing policies', () => {
  test('a write becomes one commit authored by the token subject, with trailers, audited, and active', async () => {
    const { regent, admin, head } = await setup();
    const response = await admin.put('/api/policies/rbac/extra.rego', { content: GOOD_MODULE, message: 'Add an extra rule', baseRevision: head }, { 'X-Request-Id': 'req-42' });
    expect(response.status).toBe(201);
    const result = (await response.json()) as { revision: string; parent: string; activation: { state: string } };
    expect(result.parent).toBe(head);
    expect(result.activation.state).toBe('active');
    expect(response.headers.get('location')).toBe(`/api/versions/${result.revision}`);
    const log = await git(['log', '-1', '--format=%an <%ae>%n%B', result.revision], { gitDir: `${regent.dataDir}/store.git` });
    expect(log).toContain('Alice Admin <alice@example.test>');
    expect(log).toContain('Add an extra rule');
    expect(log).toContain('Regent-Request-Id: req-42');
    expect(log).toContain('Regent-Actor: alice (admin)');
    expect(regent.activation.status().active).toBe(result.revision);
    expect(response.headers.get('server-timing')).toMatch(/^validate;dur=[0-9.]+, commit;dur=[0-9.]+, activate;dur=[0-9.]+$/);
    const audit = (await (await admin.get('/api/audit?subject=alice')).json()) as { records: Array<Record<string, unknown>> };
    expect(audit.records[0]).toMatchObject({ action: 'policy.write', outcome: 'success', subject: 'alice', revision: result.revision, requestId: 'req-42', paths: ['rbac/extra.rego'] });
  });

  test('applies several file operations as one atomic commit', async () => {
    const { regent, admin, head } = await setup();
    const before = await commitCount(regent);
    const response = await admin.post('/api/changes', {
      message: 'Two files at once',
      baseRevision: head,
      changes: [
        { op: 'put', path: 'rbac/extra.rego', content: GOOD_MODULE },
        { op: 'put', path: 'rbac/more/data.json', content: '{"limit": 3}' },
      ],
    });
    expect(response.status).toBe(201);
    expect(await commitCount(regent)).toBe(before + 1);
    const deleted = await admin.delete('/api/policies/rbac/more/data.json', { message: 'Remove it', baseRevision: ((await response.json()) as { revision: string }).revision });
    expect(deleted.status).toBe(201);
    expect(await commitCount(regent)).toBe(before + 2);
  });

  test.each([
    ['invalid Rego', 'rbac/bad.rego', 'package rbac.bad\n\nallow if {\n  input.x ==\n}\n', 'validation_failed', { code: 'rego_parse_error', file: 'rbac/bad.rego', line: 5 }],
    ['a failing Rego test', 'rbac/extra_test.rego', 'package rbac\n\ntest_never if allow with input as {}\n', 'validation_failed', { code: 'rego_test_failed', file: 'rbac/extra_test.rego' }],
    ['a forbidden built-in', 'rbac/leak.rego', 'package rbac.leak\n\nx := http.send({"method": "GET", "url": "http://example.test"})\n', 'validation_failed', { file: 'rbac/leak.rego' }],
    ['a package outside its directory', 'rbac/squat.rego', 'package datasets\n\nallow := true\n', 'validation_failed', { code: 'package_outside_directory', file: 'rbac/squat.rego' }],
    ['invalid JSON data', 'rbac/more/data.json', '{"a": 1,\n "b": }', 'validation_failed', { code: 'invalid_json', file: 'rbac/more/data.json', line: 2 }],
  ])('refuses %s with 422 naming the file, and commits nothing', async (_name, path, content, code, problem) => {
    const { regent, admin, head } = await setup();
    const before = await commitCount(regent);
    const response = await admin.put(`/api/policies/${path}`, { content, message: 'try it', baseRevision: head });
    expect(response.status).toBe(422);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const body = (await response.json()) as { code: string; problems: Array<Record<string, unknown>> };
    expect(body.code).toBe(code);
    expect(body.problems[0]).toMatchObject(problem);
    expect(await commitCount(regent)).toBe(before);
    expect(await regent.store.head()).toBe(head);
  });

  test.each([
    ['a dot-dot segment', '/api/policies/rbac/..%2f..%2fetc/passwd.rego'],
    ['an encoded traversal', '/api/policies/%2e%2e/x.rego'],
    ['a .git path', '/api/policies/.git/config'],
    ['a manifest name', '/api/policies/rbac/.manifest'],
    ['an upper-case name', '/api/policies/rbac/Policy.rego'],
    ['an unknown extension', '/api/policies/rbac/notes.txt'],
    ['a NUL byte', '/api/policies/rbac/a%00.rego'],
    ['a leading dash', '/api/policies/-rf.rego'],
    ['a signatures file', '/api/policies/rbac/signatures.json'],
  ])('refuses a path with %s with 400 before touching git', async (_name, url) => {
    const { regent, admin, head } = await setup();
    const before = await commitCount(regent);
    const response = await admin.put(url, { content: 'package rbac\n', message: 'sneaky', baseRevision: head });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { code: string }).code).toBe('invalid_path');
    expect(await commitCount(regent)).toBe(before);
  });

  test.each([
    ['no base revision', { content: GOOD_MODULE, message: 'x' }, {}, 428, 'base_revision_required'],
    ['a forged trailer in the message', { content: GOOD_MODULE, message: 'Fix\n\nApproved-by: security-team', baseRevision: 'HEAD' }, {}, 400, 'invalid_message'],
    ['no message', { content: GOOD_MODULE, baseRevision: 'HEAD' }, {}, 400, 'invalid_field'],
    ['a non-JSON body', 'package rbac', { 'Content-Type': 'text/plain' }, 415, 'unsupported_media_type'],
    ['a gzip-encoded body', Buffer.from([0x1f, 0x8b, 0x08]), { 'Content-Encoding': 'gzip' }, 415, 'unsupported_encoding'],
  ])('refuses a write with %s', async (_name, body, headers, status, code) => {
    const { regent, admin, head } = await setup();
    const payload = typeof body === 'object' && !Buffer.isBuffer(body) && (body as { baseRevision?: string }).baseRevision === 'HEAD' ? { ...body, baseRevision: head } : body;
    const response = await admin.put('/api/policies/rbac/extra.rego', payload, headers as Record<string, string>);
    expect(response.status).toBe(status);
    expect(((await response.json()) as { code: string }).code).toBe(code);
    expect(await regent.store.head()).toBe(head);
  });

  test('every refused write is in the audit log once, whether a service or the HTTP layer refused it', async () => {
    const { admin, head } = await setup();
    const notJson = await admin.put('/api/policies/rbac/extra.rego', 'package rbac', { 'Content-Type': 'text/plain', 'X-Request-Id': 'req-415' });
    expect(notJson.status).toBe(415);
    const badChanges = await admin.post('/api/changes', { message: 'x', baseRevision: head, changes: 'all of them' }, { 'X-Request-Id': 'req-400' });
    expect(badChanges.status).toBe(400);
    const invalid = await admin.put('/api/policies/rbac/bad.rego', { content: 'package rbac.bad\n\nx := \n', message: 'bad', baseRevision: head }, { 'X-Request-Id': 'req-422' });
    expect(invalid.status).toBe(422);
    const { records } = (await (await admin.get('/api/audit?action=write.refused')).json()) as { records: Array<Record<string, unknown>> };
    const byRequest = (id: string) => records.filter((record) => record.requestId === id);
    expect(byRequest('req-415')).toEqual([expect.objectContaining({ subject: 'alice', reason: 'unsupported_media_type' })]);
    expect(byRequest('req-400')).toEqual([expect.objectContaining({ subject: 'alice', reason: 'invalid_field' })]);
    expect(byRequest('req-422')).toEqual([expect.objectContaining({ subject: 'alice', reason: 'validation_failed' })]);
  });

  test('refuses an oversized body with 413', async () => {
    const { regent, admin, head } = await setup();
    const response = await admin.put('/api/policies/rbac/data.json', { content: `"${'x'.repeat(3 * 1024 * 1024)}"`, message: 'big', baseRevision: head });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { code: string }).code).toBe('body_too_large');
    expect(await regent.store.head()).toBe(head);
  });

  test('many concurrent writers on the same base: exactly one succeeds, the others get 409 with the new head', async () => {
    const { regent, admin, head } = await setup();
    const before = await commitCount(regent);
    const responses = await Promise.all(Array.from({ length: 6 }, (_, index) =>
      admin.put(`/api/policies/rbac/w${index}.rego`, { content: `package rbac.w${index}\n\nx := ${index}\n`, message: `writer ${index}`, baseRevision: head })));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    const winner = (await responses.find((response) => response.status === 201)!.json()) as { revision: string };
    for (const response of responses.filter((candidate) => candidate.status === 409)) {
      expect(await response.json()).toMatchObject({ code: 'head_moved', head: winner.revision });
    }
    expect(await commitCount(regent)).toBe(before + 1);
  });

  test('a viewer cannot write: 403 naming the role, nothing committed, the refusal audited', async () => {
    const { regent, admin, head } = await setup();
    const viewer = adminClient(regent, { sub: 'victor', role: 'viewer' });
    const response = await viewer.put('/api/policies/rbac/extra.rego', { content: GOOD_MODULE, message: 'x', baseRevision: head });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'missing_role' });
    expect(await regent.store.head()).toBe(head);
    const audit = (await (await admin.get('/api/audit?subject=victor')).json()) as { records: Array<Record<string, unknown>> };
    expect(audit.records[0]).toMatchObject({ action: 'auth.refused', reason: 'missing_role' });
  });
});

describe('admin API: rollback', () => {
  test('only to a revision in the tracked history: a commit elsewhere in the store is refused with 422', async () => {
    const { regent, admin, head } = await setup();
    const gitDir = `${regent.dataDir}/store.git`;
    const side = (await git(['commit-tree', '-m', 'not on main', `${head}^{tree}`], { gitDir })).trim();
    const response = await admin.post(`/api/versions/${side}/activate`, { baseRevision: head });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ code: 'revision_not_in_history', field: 'revision' });
    expect(await regent.store.head()).toBe(head);
  });
});

describe('admin API: tools for editors', () => {
  test('validates a change without committing it', async () => {
    const { regent, head } = await setup();
    const editor = adminClient(regent, { sub: 'eddie', role: 'editor' });
    const good = await editor.post('/api/changes/validate', { changes: [{ op: 'put', path: 'rbac/extra.rego', content: GOOD_MODULE }] });
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ ok: true, baseRevision: head, bundles: ['rbac', 'datasets', 'discovery', 'stelar'] });
    const bad = await editor.post('/api/changes/validate', { changes: [{ op: 'put', path: 'rbac/extra.rego', content: 'package rbac.extra\n\nx := \n' }] });
    expect(bad.status).toBe(422);
    expect(await bad.json()).toMatchObject({ ok: false, problems: expect.arrayContaining([expect.objectContaining({ file: 'rbac/extra.rego', code: 'rego_parse_error', line: 4 })]) });
    expect(await regent.store.head()).toBe(head);
    const write = await editor.put('/api/policies/rbac/extra.rego', { content: GOOD_MODULE, message: 'x', baseRevision: head });
    expect(write.status).toBe(403);
  });

  test('evaluates a query with an input on head and on an older revision', async () => {
    const { regent } = await setup();
    const editor = adminClient(regent, { sub: 'eddie', role: 'editor' });
    const input = { subject: 'carol', action: 'edit', resource: { type: 'workflow', project: 'apollo' } };
    const response = await editor.post('/api/evaluate', { query: 'data.rbac.allow', input });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ result: true, defined: true });
    const injection = await editor.post('/api/evaluate', { query: 'data.rbac.allow; http.send({})', input });
    expect(injection.status).toBe(400);

    const before = (await regent.store.head())!;
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    expect((await admin.put('/api/policies/rbac/extra.rego', { content: GOOD_MODULE, message: 'Add extra', baseRevision: before })).status).toBe(201);
    expect(await (await editor.post('/api/evaluate', { query: 'data.rbac.extra.enabled' })).json()).toMatchObject({ result: true, defined: true });
    expect(await (await editor.post('/api/evaluate', { query: 'data.rbac.extra.enabled', revision: before })).json()).toMatchObject({ defined: false, revision: before });
  });
});

describe('admin API with a real OPA agent', () => {
  test('after a write the agent enforces the new policy; after a rollback, the old one again', async () => {
    const { regent, admin, head } = await setup();
    const agent = await startOpaAgent(agentOptionsFor(regent));
    await agent.waitUntilReady();
    const input = { subject: 'ursula', action: 'approve', resource: { type: 'invoice', project: 'apollo' } };
    expect(await agent.query('rbac/services/billing/allow', input)).toBeUndefined();

    const data = JSON.parse(await (await admin.get('/api/policies/rbac/data.json')).text()) as { users: Record<string, unknown>; assignments: Record<string, unknown> };
    data.users.ursula = { active: true };
    data.assignments.ursula = [{ role: 'approver', project: 'apollo' }];
    const withUser = await admin.put('/api/policies/rbac/data.json', { content: JSON.stringify(data, null, 2), message: 'Add ursula', baseRevision: head });
    expect(withUser.status).toBe(201);
    const generated = await admin.post('/api/policies/generate', {
      service_name: 'billing', resource_type: 'invoice', actions: { approver: ['approve', 'view'], viewer: ['view'] },
      baseRevision: ((await withUser.json()) as { revision: string }).revision,
    });
    expect(generated.status).toBe(201);
    const afterGenerate = (await generated.json()) as { revision: string };
    await eventually(async () => (await agent.query('rbac/services/billing/allow', input)) === true, 10_000, () => agent.logs().slice(-2000));

    const rollback = await admin.post(`/api/versions/${head}/activate`, { baseRevision: afterGenerate.revision });
    expect(rollback.status).toBe(201);
    const rolledBack = (await rollback.json()) as { revision: string };
    expect(await regent.store.treeOf(rolledBack.revision)).toBe(await regent.store.treeOf(head));
    await eventually(async () => (await agent.query('rbac/services/billing/allow', input)) === undefined, 10_000, () => agent.logs().slice(-2000));
    const log = await git(['log', '-1', '--format=%an%n%B', rolledBack.revision], { gitDir: `${regent.dataDir}/store.git` });
    expect(log).toContain('Alice Admin');
    expect(log).toContain(`Regent-Rollback-Of: ${head}`);
    expect(await git(['rev-list', '--count', 'main'], { gitDir: `${regent.dataDir}/store.git` })).toBe('4\n');
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readTarball } from '../../src/domain/bundles/tarball-reader.js';
import type { RunningRegent } from '../../src/main.js';
import { adminClient, type AdminClient } from '../helpers/admin-client.js';
import { git } from '../helpers/git-repo.js';
import { agentOptionsFor, startOpaAgent } from '../helpers/opa-agent.js';
import { startTestRegent } from '../helpers/start-regent.js';

interface Problem { code: string; file?: string; line?: number; column?: number; message: string }

const ask = (roles: string[], action: string, resource: string) => ({ subject: { roles }, action, resource });

/** The proof: who may do what under the STELAR example spec. */
const STELAR_DECISIONS: Array<[string, ReturnType<typeof ask>, boolean]> = [
  ['a Data-Analyst may read my-object-3.txt', ask(['Data-Analyst'], 'read', 'my-bucket/my-object-3.txt'), true],
  ['a Data-Analyst may s3:GetObject my-object-3.txt', ask(['Data-Analyst'], 's3:GetObject', 'my-bucket/my-object-3.txt'), true],
  ['a Data-Analyst may not read my-object-1.txt', ask(['Data-Analyst'], 'read', 'my-bucket/my-object-1.txt'), false],
  ['a Data-Analyst may not write my-object-3.txt', ask(['Data-Analyst'], 'write', 'my-bucket/my-object-3.txt'), false],
  ['a Data-Manager may read anything in my-bucket', ask(['Data-Manager'], 's3:GetObject', 'my-bucket/any/thing.csv'), true],
  ['a Data-Manager may not read another bucket', ask(['Data-Manager'], 'read', 'other/x'), false],
  ['a Data-Manager may write my-object-1.txt', ask(['Data-Manager'], 'write', 'my-bucket/my-object-1.txt'), true],
  ['a Data-Manager may not write my-object-2.txt', ask(['Data-Manager'], 's3:PutObject', 'my-bucket/my-object-2.txt'), false],
  ['a Data-Manager may delete my-object-2.txt', ask(['Data-Manager'], 'delete', 'my-bucket/my-object-2.txt'), true],
  ['a Data-Manager may not delete my-object-1.txt', ask(['Data-Manager'], 'delete', 'my-bucket/my-object-1.txt'), false],
];

describe('the example role spec (policies-repo/stelar/s3.policy.yaml)', () => {
  test('a real OPA agent enforces it from its own bundle, which ships the compiled module and not the spec; evaluate agrees', async () => {
    const regent = await startTestRegent();
    const bundle = await fetch(`${regent.url}/bundles/stelar`);
    expect(bundle.status).toBe(200);
    const files = await readTarball(Buffer.from(await bundle.arrayBuffer()));
    expect(files.map((file) => file.path).sort()).toEqual(['.manifest', '.signatures.json', 'stelar/s3.policy.rego']);
    expect(files.find((file) => file.path === 'stelar/s3.policy.rego')!.content.toString()).toContain('# METADATA\n# title: "Role spec stelar/s3.policy.yaml"');

    const agent = await startOpaAgent({ ...agentOptionsFor(regent), bundles: ['stelar'] });
    await agent.waitUntilReady();
    expect(await agent.activeRevision('stelar')).toBe(await regent.store.head());
    const editor = adminClient(regent, { sub: 'eddie', role: 'editor' });
    for (const [name, input, expected] of STELAR_DECISIONS) {
      expect({ name, agent: await agent.query('stelar/s3/allow', input) }).toEqual({ name, agent: expected });
      const evaluated = (await (await editor.post('/api/evaluate', { query: 'data.stelar.s3.allow', input })).json()) as { result: unknown };
      expect({ name, evaluate: evaluated.result }).toEqual({ name, evaluate: expected });
    }
    expect(await agent.query('stelar/s3/reasons', STELAR_DECISIONS[0]![1])).toEqual(['Data-Analyst may read my-bucket/my-object-3.txt']);
  });

  test('is listed as a spec with its package and title, and shown as the Rego it compiles to', async () => {
    const regent = await startTestRegent();
    const viewer = adminClient(regent, { sub: 'vera', role: 'viewer' });
    const listing = (await (await viewer.get('/api/policies')).json()) as { files: Array<Record<string, unknown>> };
    expect(listing.files.find((file) => file.path === 'stelar/s3.policy.yaml')).toMatchObject({ kind: 'spec', package: 'stelar.s3', title: 'Role spec stelar/s3.policy.yaml' });
    expect(listing.files.some((file) => file.path === 'stelar/s3.policy.rego')).toBe(false);
    const compiled = await viewer.get('/api/policies/stelar/s3.policy.yaml?compiled=rego');
    expect(compiled.status).toBe(200);
    expect(compiled.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const rego = await compiled.text();
    expect(rego).toContain('#   source: "stelar/s3.policy.yaml"\npackage stelar.s3\n');
    expect(rego).toContain('grants contains "Data-Analyst may read my-bucket/my-object-3.txt" if {');
    const asJson = (await (await viewer.get('/api/policies/stelar/s3.policy.yaml?compiled=rego&format=json')).json()) as Record<string, unknown>;
    expect(asJson).toMatchObject({ path: 'stelar/s3.policy.yaml', compiledPath: 'stelar/s3.policy.rego', content: rego });
    const notASpec = await viewer.get('/api/policies/rbac/policy.rego?compiled=rego');
    expect(notASpec.status).toBe(400);
    expect(await notASpec.json()).toMatchObject({ code: 'invalid_query', field: 'compiled' });
    expect((await viewer.get('/api/policies/stelar/s3.policy.yaml?compiled=wasm')).status).toBe(400);
  });
});

const SPEC_V1 = 'actions:\n  - read: ["s3:GetObject"]\nroles:\n  - name: Auditor\n    permissions:\n      - { action: read, resource: "logs/*" }\n';
const SPEC_V2 = `${SPEC_V1}deny:\n  - { action: read, resource: "logs/secret/*" }\n`;

describe('specs written through the admin API', () => {
  test('creating and updating a spec makes new active revisions; the earlier spec stays readable (and evaluable) at its revision', async () => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice', email: 'alice@example.test' });
    const before = (await regent.store.head())!;
    const created = await admin.put('/api/policies/stelar/logs.policy.yaml', { content: SPEC_V1, message: 'Auditors read logs', baseRevision: before });
    expect(created.status).toBe(201);
    const first = (await created.json()) as { revision: string; activation: { state: string } };
    expect(first.activation.state).toBe('active');
    const updated = await admin.put('/api/policies/stelar/logs.policy.yaml', { content: SPEC_V2, message: 'Except secret logs', baseRevision: first.revision });
    expect(updated.status).toBe(201);
    const second = (await updated.json()) as { revision: string; activation: { state: string } };
    expect(second.activation.state).toBe('active');

    expect(await (await admin.get('/api/policies/stelar/logs.policy.yaml?revision=active')).text()).toBe(SPEC_V2);
    expect(await (await admin.get(`/api/policies/stelar/logs.policy.yaml?revision=${first.revision}`)).text()).toBe(SPEC_V1);
    expect((await admin.get(`/api/policies/stelar/logs.policy.yaml?revision=${before}`)).status).toBe(404);
    expect(await (await admin.get(`/api/policies/stelar/logs.policy.yaml?revision=${first.revision}&compiled=rego`)).text()).not.toContain('denials contains');
    expect(await (await admin.get('/api/policies/stelar/logs.policy.yaml?revision=active&compiled=rego')).text()).toContain('denials contains "nobody may read logs/secret/*" if {');

    const input = ask(['Auditor'], 's3:GetObject', 'logs/secret/2026');
    const at = async (revision: string) => ((await (await admin.post('/api/evaluate', { query: 'data.stelar.logs.allow', input, revision })).json()) as { result: unknown }).result;
    expect(await at(first.revision)).toBe(true);
    expect(await at(second.revision)).toBe(false);
    const bundle = await readTarball(Buffer.from(await (await fetch(`${regent.url}/bundles/stelar`)).arrayBuffer()));
    expect(bundle.map((file) => file.path).sort()).toEqual(['.manifest', '.signatures.json', 'stelar/logs.policy.rego', 'stelar/s3.policy.rego']);
  });

  test('POST /api/policies/generate with format: spec writes a role spec and its tests, validated, committed and enforced', async () => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice', email: 'alice@example.test' });
    const response = await admin.post('/api/policies/generate', {
      format: 'spec', service_name: 'billing', resource_type: 'invoice',
      actions: { admin: ['create', 'edit', 'view', 'delete'], editor: ['create', 'edit', 'view'], viewer: ['view'] },
      projects: { editor: ['apollo'] },
      baseRevision: await regent.store.head(),
    });
    expect(response.status).toBe(201);
    const result = (await response.json()) as { revision: string; paths: string[]; activation: { state: string } };
    expect(result.paths).toEqual(['rbac/services/billing.policy.yaml', 'rbac/services/billing_test.rego']);
    expect(result.activation.state).toBe('active');
    const spec = await (await admin.get('/api/policies/rbac/services/billing.policy.yaml')).text();
    expect(spec).toContain('  - "delete": ["invoice:delete"]\n');
    expect(spec).toContain('      - { action: "edit", resource: "invoice/apollo/*" }\n');
    const allowed = async (roles: string[], action: string, resource: string) =>
      ((await (await admin.post('/api/evaluate', { query: 'data.rbac.services.billing.allow', input: ask(roles, action, resource) })).json()) as { result: unknown }).result;
    expect(await allowed(['admin'], 'invoice:delete', 'invoice/zeus/42')).toBe(true);
    expect(await allowed(['editor'], 'edit', 'invoice/apollo/42')).toBe(true);
    expect(await allowed(['editor'], 'edit', 'invoice/zeus/42')).toBe(false);
    expect(await allowed(['viewer'], 'edit', 'invoice/apollo/42')).toBe(false);
    const badFormat = await admin.post('/api/policies/generate', { format: 'xml', service_name: 'b', resource_type: 'x', actions: { a: ['v'] }, baseRevision: result.revision });
    expect(await badFormat.json()).toMatchObject({ code: 'invalid_field', field: 'format' });
  });
});

/**
 * Bad specs: refused through the API with 422 naming the file, line and column first, nothing committed;
 * pushed to the store, refused by the gate with the same problem.
 */
const BAD_SPECS: Array<{ name: string; path: string; content: string; code: string; line: number | undefined; column: number | undefined; step: string; api: boolean }> = [
  { name: 'an unknown action', path: 'stelar/bad.policy.yaml', content: 'actions:\n  - read: ["s3:GetObject"]\nroles:\n  - name: X\n    permissions:\n      - action: fly\n        resource: "b/*"\n', code: 'unknown_action', line: 6, column: 17, step: 'compile', api: true },
  { name: 'a duplicate role', path: 'stelar/bad.policy.yaml', content: 'actions: [{read: []}]\nroles:\n  - {name: X, permissions: []}\n  - {name: X, permissions: []}\n', code: 'duplicate_role', line: 4, column: 12, step: 'compile', api: true },
  { name: 'a bad resource pattern', path: 'stelar/bad.policy.yaml', content: 'actions: [{read: []}]\nroles:\n  - name: X\n    permissions:\n      - {action: read, resource: "/b/*"}\n', code: 'invalid_resource_pattern', line: 5, column: 34, step: 'compile', api: true },
  { name: 'a wrong type', path: 'stelar/bad.policy.yaml', content: 'actions: [{read: []}]\nroles:\n  - name: X\n    permissions: yes\n', code: 'invalid_policy_spec', line: 4, column: 18, step: 'compile', api: true },
  { name: 'an unknown key', path: 'stelar/bad.policy.yaml', content: 'actions: [{read: []}]\nroles: []\neffect: deny\n', code: 'invalid_policy_spec', line: 3, column: 1, step: 'compile', api: true },
  { name: 'a YAML syntax error', path: 'stelar/bad.policy.yaml', content: 'actions: [{read: []}\nroles: []\n', code: 'invalid_yaml', line: 2, column: 1, step: 'compile', api: true },
  // The API takes no `.policy.rego` names, a push can.
  { name: 'a module where a spec compiles to', path: 'stelar/s3.policy.rego', content: 'package stelar.s3\n\nx := 1\n', code: 'generated_path_taken', line: undefined, column: undefined, step: 'compile', api: false },
  { name: 'a spec outside every bundle', path: 'team/access.policy.yaml', content: 'actions: [{read: []}]\nroles: []\n', code: 'file_outside_bundles', line: undefined, column: undefined, step: 'build', api: true },
];

describe('invalid specs are refused with file, line and column, and commit nothing', () => {
  let regent: RunningRegent & { dataDir: string };
  let admin: AdminClient;
  let work: string;
  let good: string;
  const scratch = mkdtempSync(join(tmpdir(), 'regent-specs-'));

  const status = async () => (await (await fetch(`${regent.url}/status`)).json()) as { active: string | null; lastError: { revision: string; code: string; step: string; problems?: Problem[] } | null };

  beforeAll(async () => {
    regent = await startTestRegent({ dataDir: join(scratch, 'data'), keepRunning: true });
    admin = adminClient(regent, { sub: 'ada', role: 'admin', name: 'Ada', email: 'ada@example.test' });
    for (let attempt = 0; attempt < 300 && !(await status()).active; attempt++) await new Promise((done) => setTimeout(done, 100));
    good = (await status()).active!;
    work = join(scratch, 'clone');
    await git(['clone', '--quiet', '--', join(regent.dataDir, 'store.git'), work]);
    await git(['config', 'user.name', 'Pusher'], { cwd: work });
    await git(['config', 'user.email', 'pusher@example.test'], { cwd: work });
  });

  afterAll(async () => {
    await regent?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const expectedFile = (path: string) => (path === 'stelar/s3.policy.rego' ? 'stelar/s3.policy.yaml' : path);

  test.each(BAD_SPECS.filter((bad) => bad.api))('$name: an API write answers 422 with $code first', async ({ path, content, code, line, column }) => {
    const response = await admin.put(`/api/policies/${path}`, { content, message: 'A bad spec', baseRevision: good });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { code: string; problems: Problem[] };
    expect(body.code).toBe('validation_failed');
    expect(body.problems[0]).toMatchObject({ code, file: expectedFile(path) });
    expect([body.problems[0]!.line, body.problems[0]!.column]).toEqual([line, column]);
    expect(await regent.store.head()).toBe(good);
    const validated = await admin.post('/api/changes/validate', { changes: [{ op: 'put', path, content }] });
    expect(validated.status).toBe(422);
    expect(((await validated.json()) as { problems: Problem[] }).problems[0]).toEqual(body.problems[0]);
  });

  test.each(BAD_SPECS)('$name: a pushed revision is refused by the gate with the same problem', async ({ path, content, code, line, column, step }) => {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), content);
    await git(['add', '--all'], { cwd: work });
    await git(['commit', '--quiet', '-m', 'a bad spec'], { cwd: work });
    await git(['push', '--quiet', 'origin', 'HEAD:main'], { cwd: work });
    const revision = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    try {
      let error = (await status()).lastError;
      for (let attempt = 0; attempt < 300 && error?.revision !== revision; attempt++) {
        await new Promise((done) => setTimeout(done, 100));
        error = (await status()).lastError;
      }
      expect(error).toMatchObject({ revision, code, step });
      expect(error!.problems![0]).toMatchObject({ code, file: expectedFile(path) });
      expect([error!.problems![0]!.line, error!.problems![0]!.column]).toEqual([line, column]);
      expect((await status()).active).toBe(good);
      if (step === 'compile' && path.endsWith('.policy.yaml')) {
        // Reading the revision as Rego, or evaluating on it, meets the same problem.
        const compiled = await admin.get(`/api/policies/${path}?compiled=rego&revision=${revision}`);
        expect(compiled.status).toBe(422);
        expect(await compiled.json()).toMatchObject({ code, file: path, line, column });
        const evaluated = await admin.post('/api/evaluate', { query: 'data.stelar.s3.allow', input: {}, revision });
        expect(evaluated.status).toBe(422);
        expect(await evaluated.json()).toMatchObject({ code, file: path, problems: [expect.objectContaining({ code, line, column })] });
      }
    } finally {
      await git(['revert', '--no-edit', 'HEAD'], { cwd: work });
      await git(['push', '--quiet', 'origin', 'HEAD:main'], { cwd: work });
      const restored = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
      for (let attempt = 0; attempt < 300 && (await status()).active !== restored; attempt++) await new Promise((done) => setTimeout(done, 100));
      good = restored;
    }
  });

  test('a problem OPA finds in a compiled module is reported at its spec', async () => {
    // A data document that claims the path of the spec's rules: OPA refuses the compiled module.
    const response = await admin.post('/api/changes', {
      changes: [{ op: 'put', path: 'stelar/data.json', content: '{"s3": {"allow": true}}' }],
      message: 'A clash', baseRevision: good,
    });
    expect(response.status).toBe(422);
    const problems = ((await response.json()) as { problems: Problem[] }).problems;
    expect(problems[0]).toMatchObject({ code: 'rego_compile_error', file: 'stelar/s3.policy.yaml' });
    expect(problems[0]!.message).toMatch(/^stelar\/s3\.policy\.rego:\d+:\d+: conflicting rule for data path stelar\/s3\/allow found \(in the module compiled from stelar\/s3\.policy\.yaml\)$/);
    expect(await regent.store.head()).toBe(good);
  });
});

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningRegent } from '../../src/main.js';
import { adminClient, type AdminClient } from '../helpers/admin-client.js';
import { git } from '../helpers/git-repo.js';
import { startTestRegent } from '../helpers/start-regent.js';

/**
 * One bundle `app` over the whole repository, owning `app` and `shared`, with a Rego test, so most bad
 * changes upset both the bundle builder and OPA: the refusal must name the root cause first.
 */
const SEED: Record<string, string> = {
  'regent.yaml': 'bundles:\n  app:\n    paths: [""]\n    roots: [app, shared]\n',
  'app/policy.rego': 'package app\n\nallow if input.user in data.app.users\n',
  'app/policy_test.rego': 'package app\n\ntest_alice if allow with input as {"user": "alice"}\n',
  'app/data.json': '{"users": ["alice"]}\n',
  'shared/lib.rego': 'package shared\n\nx := 1\n',
};

type Change = { op: 'put'; path: string; content: string | Buffer } | { op: 'delete'; path: string } | { op: 'symlink'; path: string; target: string } | { op: 'submodule'; path: string };

interface Case {
  name: string;
  changes: Change[];
  code: string;
  file: string;
  line: number | undefined;
  column: number | undefined;
  /** False where the API cannot express the change (links, non-UTF-8 content is refused earlier with 400). */
  api: boolean;
}

const put = (path: string, content: string | Buffer): Change => ({ op: 'put', path, content });

const CASES: Case[] = [
  { name: 'a JSON syntax error', changes: [put('app/data.json', '{\n  "users": ["alice",]\n}\n')], code: 'invalid_json', file: 'app/data.json', line: 2, column: 21, api: true },
  { name: 'a YAML syntax error', changes: [put('app/extra/data.yaml', 'limits:\n  max: [1, 2\n')], code: 'invalid_yaml', file: 'app/extra/data.yaml', line: 3, column: 1, api: true },
  { name: 'a duplicate JSON key', changes: [put('app/extra/data.json', '{\n  "a": 1,\n  "a": 2\n}\n')], code: 'invalid_json', file: 'app/extra/data.json', line: 3, column: 3, api: true },
  { name: 'a duplicate YAML key', changes: [put('app/extra/data.yaml', 'a: 1\na: 2\n')], code: 'invalid_yaml', file: 'app/extra/data.yaml', line: 2, column: 1, api: true },
  { name: 'a top level that is not an object at the root', changes: [put('data.json', '\n  [1, 2]\n')], code: 'invalid_data', file: 'data.json', line: 2, column: 3, api: true },
  { name: 'data outside the roots', changes: [put('data.json', '{\n  "app": {"x": 1},\n  "other": 1\n}\n')], code: 'data_outside_roots', file: 'data.json', line: 3, column: 3, api: true },
  { name: 'data outside the roots in YAML', changes: [put('data.yaml', 'shared:\n  ok: true\nother:\n  deep: 1\n')], code: 'data_outside_roots', file: 'data.yaml', line: 3, column: 1, api: true },
  { name: 'a data file that is not UTF-8', changes: [put('app/extra/data.json', Buffer.concat([Buffer.from('{\n  "a": "'), Buffer.from([0xff]), Buffer.from('"\n}\n')]))], code: 'invalid_encoding', file: 'app/extra/data.json', line: 2, column: 9, api: false },
  { name: 'a module in the wrong directory (its rule also breaks a test elsewhere)', changes: [put('shared/evil.rego', '# takes over app\n\npackage app\n\nallow := false\n')], code: 'package_outside_directory', file: 'shared/evil.rego', line: 3, column: 1, api: true },
  { name: 'a package outside the roots', changes: [put('other/p.rego', '\n  package other\n\nx := 1\n')], code: 'package_outside_roots', file: 'other/p.rego', line: 2, column: 3, api: true },
  { name: 'a module without a package', changes: [put('app/broken.rego', '\nallow if true\n')], code: 'invalid_rego', file: 'app/broken.rego', line: 2, column: 1, api: true },
  { name: 'an invalid regent.yaml', changes: [put('regent.yaml', 'bundles:\n  app:\n    paths: [""]\n    roots: [app, shared]\n    rootz: [x]\n')], code: 'invalid_bundle_definition', file: 'regent.yaml', line: 5, column: 5, api: true },
  { name: 'a bundle whose paths match nothing', changes: [put('regent.yaml', 'bundles:\n  app:\n    paths: [app, shared]\n    roots: [app, shared]\n  extra:\n    roots: [extra]\n')], code: 'bundle_empty', file: 'regent.yaml', line: 5, column: 3, api: true },
  { name: 'a symlinked module', changes: [{ op: 'symlink', path: 'app/link.rego', target: 'policy.rego' }], code: 'unsupported_file_kind', file: 'app/link.rego', line: undefined, column: undefined, api: false },
  { name: 'a submodule', changes: [{ op: 'submodule', path: 'app/vendor' }], code: 'unsupported_file_kind', file: 'app/vendor', line: undefined, column: undefined, api: false },
];

interface Problem { code: string; file?: string; line?: number; column?: number }
interface LastError { revision: string; code: string; problems?: Problem[]; details?: Problem }

let regent: RunningRegent & { dataDir: string };
let admin: AdminClient;
let work: string;
let good: string;
/** Created in beforeAll (no per-test clean-up there), removed in afterAll. */
const scratch = mkdtempSync(join(tmpdir(), 'regent-diagnostics-'));

async function status(): Promise<{ active: string | null; head: string | null; lastError: LastError | null }> {
  return (await (await fetch(`${regent.url}/status`)).json()) as never;
}

/** Commits `changes` on top of the good head and pushes it to the store's main (as anyone with access can); returns the commit. */
async function push(changes: readonly Change[]): Promise<string> {
  const run = (args: string[]) => git(args, { cwd: work });
  for (const change of changes) {
    const path = join(work, change.path);
    if (change.op === 'delete') await run(['rm', '--quiet', '-r', '--', change.path]);
    else if (change.op === 'put') {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, change.content);
    } else if (change.op === 'symlink') symlinkSync(change.target, path);
  }
  await run(['add', '--all']);
  // A gitlink (what `git submodule add` records), straight into the index: no work tree for it.
  for (const change of changes) if (change.op === 'submodule') await run(['update-index', '--add', '--cacheinfo', `160000,${good},${change.path}`]);
  await run(['commit', '--quiet', '-m', 'a bad change']);
  const revision = (await run(['rev-parse', 'HEAD'])).trim();
  await run(['push', '--quiet', 'origin', 'HEAD:main']);
  return revision;
}

/** Waits until `revision` is the active revision. */
async function activated(revision: string): Promise<void> {
  for (let attempt = 0; attempt < 300 && (await status()).active !== revision; attempt++) await new Promise((done) => setTimeout(done, 100));
  expect((await status()).active).toBe(revision);
}

/** Waits until /status reports an error for `revision` (the gate and builder ran on it). */
async function rejection(revision: string): Promise<LastError> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const current = await status();
    if (current.lastError?.revision === revision) return current.lastError;
    if (current.active === revision) throw new Error(`revision ${revision} was activated`);
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`no verdict on ${revision}`);
}

/** Pushes a commit that reverts the last one (the store refuses force-pushes) and waits until it is active: the next good head. */
async function restore(): Promise<void> {
  await git(['revert', '--no-edit', 'HEAD'], { cwd: work });
  await git(['push', '--quiet', 'origin', 'HEAD:main'], { cwd: work });
  const revision = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
  await activated(revision);
  good = revision;
}

beforeAll(async () => {
  const seedDir = join(scratch, 'seed');
  for (const [path, content] of Object.entries(SEED)) {
    mkdirSync(dirname(join(seedDir, path)), { recursive: true });
    writeFileSync(join(seedDir, path), content);
  }
  regent = await startTestRegent({ seedDir, dataDir: join(scratch, 'data'), keepRunning: true });
  admin = adminClient(regent, { sub: 'ada', role: 'admin', name: 'Ada', email: 'ada@example.test' });
  for (let attempt = 0; attempt < 300 && !(await status()).active; attempt++) await new Promise((done) => setTimeout(done, 100));
  good = (await status()).active!;
  expect(good).toMatch(/^[0-9a-f]{40}$/);
  work = join(scratch, 'clone');
  await git(['clone', '--quiet', '--', join(regent.dataDir, 'store.git'), work]);
  await git(['config', 'user.name', 'Pusher'], { cwd: work });
  await git(['config', 'user.email', 'pusher@example.test'], { cwd: work });
});

afterAll(async () => {
  await regent?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('every refusal names the file, line and column that caused it', () => {
  test.each(CASES)('$name: a pushed revision is refused as $code with its position in /status', async ({ changes, code, file, line, column }) => {
    const revision = await push(changes);
    try {
      const error = await rejection(revision);
      expect(error.code).toBe(code);
      expect(error.problems?.[0]).toMatchObject({ code, file });
      expect(error.problems?.[0]?.line).toBe(line);
      expect(error.problems?.[0]?.column).toBe(column);
      expect(error.details).toMatchObject({ file });
      expect((await status()).active).toBe(good);
    } finally {
      await restore();
    }
  });

  test.each(CASES.filter((one) => one.api))('$name: an API write is refused with 422 naming $code, the file, line and column first', async ({ changes, code, file, line, column }) => {
    const response = await admin.post('/api/changes', {
      changes: changes.map((change) => (change.op === 'put' ? { op: 'put', path: change.path, content: String(change.content) } : change)),
      message: 'A bad change', baseRevision: good,
    });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { code: string; problems: Problem[] };
    expect(body.code).toBe('validation_failed');
    expect(body.problems[0]).toMatchObject({ code, file });
    expect(body.problems[0]!.line).toBe(line);
    expect(body.problems[0]!.column).toBe(column);
    expect((await status()).head).toBe(good);
  });
});

describe('a fleet never silently loses its policy', () => {
  test('a push that deletes every file is refused as bundle_empty: the last good revision stays served and /status says why', async () => {
    const before = await fetch(`${regent.url}/bundles/app`);
    expect(before.status).toBe(200);
    const revision = await push([{ op: 'delete', path: 'app' }, { op: 'delete', path: 'shared' }]);
    try {
      const error = await rejection(revision);
      expect(error.code).toBe('bundle_empty');
      expect(error.problems?.[0]).toMatchObject({ code: 'bundle_empty', file: 'regent.yaml', line: 2, column: 3 });
      const after = await fetch(`${regent.url}/bundles/app`);
      expect(after.status).toBe(200);
      expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
      expect(after.headers.get('x-regent-revision')).toBe(good);
    } finally {
      await restore();
    }
  });

  test('the API refuses a change that empties every bundle with 422 bundle_empty', async () => {
    const response = await admin.post('/api/changes', {
      changes: Object.keys(SEED).filter((path) => path !== 'regent.yaml').map((path) => ({ op: 'delete', path })),
      message: 'Delete everything', baseRevision: good,
    });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { problems: Problem[] }).problems[0]).toMatchObject({ code: 'bundle_empty', file: 'regent.yaml', line: 2 });
  });

  test('an empty bundle with allowEmpty: true is served', async () => {
    const revision = await push([put('regent.yaml', 'bundles:\n  app:\n    paths: [app, shared]\n    roots: [app, shared]\n  extra:\n    roots: [extra]\n    allowEmpty: true\n')]);
    await activated(revision);
    const extra = await fetch(`${regent.url}/bundles/extra`);
    expect(extra.status).toBe(200);
    expect(extra.headers.get('x-regent-revision')).toBe(revision);
  });
});

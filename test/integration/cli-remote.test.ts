import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publicKeyPem } from '../../src/domain/bundles/signing-key.js';
import type { RunningRegent } from '../../src/main.js';
import { adminClient } from '../helpers/admin-client.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { describeResult, runRegentCli, type CliResult } from '../helpers/regent-cli.js';
import { EXAMPLE_POLICIES, startTestRegent } from '../helpers/start-regent.js';

/**
 * Every `regent` command that talks to a running Regent, run as its own process against a real Regent
 * (real git, real OPA): human output by default, --json for scripts, problems on stderr with exit 1.
 */
let regent: RunningRegent & { dataDir: string };
let work: string;
let tokens: { alice: string; bob: string; eddie: string; vera: string; ada: string };
let seed: string;

beforeAll(async () => {
  regent = await startTestRegent({ dataDir: mkdtempSync(join(tmpdir(), 'regent-cli-remote-')), keepRunning: true });
  work = mkdtempSync(join(tmpdir(), 'regent-cli-work-'));
  tokens = {
    alice: adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice Admin', email: 'alice@example.com' }).token,
    bob: adminClient(regent, { sub: 'bob', role: 'admin', name: 'Bob Admin', email: 'bob@example.com' }).token,
    eddie: adminClient(regent, { sub: 'eddie', role: 'editor', name: 'Eddie Editor', email: 'eddie@example.com' }).token,
    vera: adminClient(regent, { sub: 'vera', role: 'viewer' }).token,
    ada: adminClient(regent, { sub: 'ada', role: 'auditor' }).token,
  };
  seed = (await regent.store.head())!;
});

afterAll(async () => {
  await regent.close();
  rmSync(regent.dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** `regent <args> --url <regent>` with REGENT_TOKEN set to `token`. */
function cli(args: string[], token?: string, stdin?: string): Promise<CliResult> {
  return runRegentCli(args, { env: { REGENT_URL: regent.url, ...(token ? { REGENT_TOKEN: token } : {}) }, stdin });
}

function ok(result: CliResult): CliResult {
  expect(result.code, describeResult(result)).toBe(0);
  return result;
}

const seedData = (): Record<string, Record<string, unknown>> => JSON.parse(readFileSync(join(EXAMPLE_POLICIES, 'rbac', 'data.json'), 'utf8')) as Record<string, Record<string, unknown>>;

function writeLocal(name: string, content: string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

describe('regent status', () => {
  test('shows head, active revision and the served bundles for people, and /status as it is with --json (--url wins over REGENT_URL)', async () => {
    const human = ok(await runRegentCli(['status', '--url', regent.url], { env: { REGENT_URL: 'http://127.0.0.1:1' } }));
    expect(human.stdout).toContain('branch   main');
    expect(human.stdout).toContain(`active   ${seed.slice(0, 12)}`);
    expect(human.stdout).toMatch(/^ {2}rbac\s+\S{12}\s+[\d.]+ KiB\s+\d+ files\s+roots rbac/m);
    expect(human.stdout).toContain('audit    chain ok');
    const json = ok(await cli(['status', '--json']));
    const status = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(status).toMatchObject({ head: seed, active: seed, branch: 'main' });
    expect(await (await fetch(`${regent.url}/status`)).json()).toMatchObject({ head: status.head, bundles: status.bundles });
  });

  test('an unreachable Regent is one line on stderr and exit 1; no output on stdout', async () => {
    const result = await runRegentCli(['status', '--url', 'http://127.0.0.1:1']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^regent: cannot reach Regent at http:\/\/127\.0\.0\.1:1 .*is it running\?/);
  });
});

describe('regent policies, validate, evaluate', () => {
  test('ls lists the files of a revision; get prints one file exactly, or writes it with -o', async () => {
    const listed = ok(await cli(['policies', 'ls'], tokens.vera));
    expect(listed.stdout).toContain(`revision ${seed}`);
    expect(listed.stdout).toMatch(/^rbac\/policy\.rego\s+module\s+[\d.]+ KiB\s+package rbac$/m);
    const files = (JSON.parse(ok(await cli(['policies', 'ls', '--json', '--revision', seed], tokens.vera)).stdout) as { files: Array<{ path: string }> }).files.map((file) => file.path);
    expect(files).toContain('datasets/data.json');
    const got = ok(await cli(['policies', 'get', 'rbac/data.json'], tokens.vera));
    expect(got.stdout).toBe(readFileSync(join(EXAMPLE_POLICIES, 'rbac', 'data.json'), 'utf8'));
    const target = join(work, 'got.rego');
    ok(await cli(['policies', 'get', 'rbac/policy.rego', '-o', target], tokens.vera));
    expect(readFileSync(target, 'utf8')).toBe(readFileSync(join(EXAMPLE_POLICIES, 'rbac', 'policy.rego'), 'utf8'));
  });

  test('validate says valid with the tests passed, or lists the findings (file:line code) and exits 1; nothing is committed', async () => {
    const data = seedData();
    (data.assignments!.dave as unknown[]).push({ role: 'editor', project: 'zeus' });
    const good = ok(await cli(['validate', `rbac/data.json=${writeLocal('good.json', JSON.stringify(data, null, 2))}`], tokens.eddie));
    expect(good.stdout).toMatch(/^valid on [0-9a-f]{12}: \d+ tests passed, 0 failed, 0 errored\nbundles: rbac, datasets, discovery, stelar\n$/);
    const bad = await cli(['validate', 'rbac/extra.rego=-'], tokens.eddie, 'package rbac.extra\n\nallow if {\n');
    expect(bad.code, describeResult(bad)).toBe(1);
    expect(bad.stdout).toMatch(/^INVALID/);
    expect(bad.stdout).toMatch(/rbac\/extra\.rego:\d+(:\d+)? rego_parse_error: /);
    expect(bad.stderr).toContain('regent: the changes do not validate');
    expect(await regent.store.head()).toBe(seed);
  });

  test('evaluate prints the result of a query on a revision, with input inline or from stdin', async () => {
    const input = { subject: 'carol', action: 'edit', resource: { type: 'workflow', project: 'apollo' } };
    expect(ok(await cli(['evaluate', 'data.rbac.allow', '--input-json', JSON.stringify(input)], tokens.eddie)).stdout).toBe('true\n');
    expect(ok(await cli(['evaluate', 'data.rbac.allow', '--input', '-', '--revision', seed], tokens.eddie, JSON.stringify({ ...input, subject: 'dave' }))).stdout).toBe('false\n');
    const json = JSON.parse(ok(await cli(['evaluate', 'data.rbac.nothing_here', '--json'], tokens.eddie)).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ revision: seed, defined: false });
  });
});

describe('regent policies put/rm, versions, diff, rollback', () => {
  test('put commits a file as the token\'s author, answered once active; versions and diff show it; rm deletes; rollback restores the seed', async () => {
    const data = seedData();
    (data.assignments!.dave as unknown[]) = [{ role: 'editor', project: 'apollo' }];
    const put = ok(await cli(['policies', 'put', 'rbac/data.json', writeLocal('dave.json', `${JSON.stringify(data, null, 2)}\n`), '-m', 'Make dave an editor'], tokens.alice));
    const revision = /^committed ([0-9a-f]{40}) \(active: agents are being served it\)\n$/.exec(put.stdout)?.[1];
    expect(revision, describeResult(put)).toBeDefined();
    expect(put.stderr).toMatch(/regent: writing rbac\/data\.json on [0-9a-f]{12} \(validated by OPA, then activated\): done in \d+ ms/);
    expect(regent.activation.status().active).toBe(revision);

    const versions = ok(await cli(['versions'], tokens.vera));
    expect(versions.stdout.split('\n')[1]).toMatch(new RegExp(`^${revision!.slice(0, 12)}\\s+\\S+ \\S+\\s+Alice Admin\\s+\\[head, active\\]\\s+Make dave an editor$`));
    const shown = ok(await cli(['versions', revision!], tokens.vera));
    expect(shown.stdout).toContain('author   Alice Admin <alice@example.com>');
    expect(shown.stdout).toMatch(/modified\s+rbac\/data\.json/);
    const diff = ok(await cli(['diff', seed, revision!], tokens.vera));
    expect(diff.stdout).toContain('--- a/rbac/data.json');
    expect(diff.stdout).toMatch(/^\+.*"project": "apollo"/m);
    expect(ok(await cli(['diff', seed, '--stat'], tokens.vera)).stdout).toMatch(/1 file\(s\) changed\n\s+modified\s+rbac\/data\.json/);

    const removed = ok(await cli(['policies', 'rm', 'datasets/policy_test.rego', '-m', 'Drop the dataset tests'], tokens.alice));
    expect(removed.stdout).toMatch(/^committed [0-9a-f]{40} /);

    const rolled = ok(await cli(['rollback', seed, '-m', 'Back to the seed'], tokens.alice));
    const rollbackRevision = /^committed ([0-9a-f]{40})/.exec(rolled.stdout)![1]!;
    const back = await adminClient(regent, { sub: 'vera', role: 'viewer' }).get(`/api/diff?from=${seed}&to=${rollbackRevision}`);
    expect(((await back.json()) as { files: unknown[] }).files).toEqual([]);
  });

  test('a refused write shows the problem readably on stderr (status, code, detail, fields) and exits 1', async () => {
    const stale = await cli(['policies', 'put', 'rbac/x.rego', writeLocal('x.rego', 'package rbac.x\n\ny := 1\n'), '-m', 'On an old base', '--base', seed], tokens.alice);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toBe('');
    expect(stale.stderr).toMatch(/\nregent: PUT \/api\/policies\/rbac\/x\.rego refused: 409 head_moved: .+\n {2}head: [0-9a-f]{40}\n {2}field: baseRevision\n$/);
    const viewer = await cli(['policies', 'rm', 'rbac/data.json', '-m', 'no'], tokens.vera);
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toContain('403 missing_role');
    const anonymous = await cli(['versions']);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain('401 token_missing');
    const unknown = await cli(['versions', 'no-such-branch'], tokens.vera);
    expect(unknown.stderr).toMatch(/404 revision_not_found: .*\n {2}field: revision/);
  });
});

describe('regent change-requests, audit, fleet', () => {
  test('an editor proposes, another admin approves, an admin merges; ls and show follow it', async () => {
    const data = seedData();
    (data.assignments!.dave as unknown[]).push({ role: 'editor', project: 'zeus' });
    const proposed = ok(await cli(['change-requests', 'propose', `rbac/data.json=${writeLocal('zeus.json', JSON.stringify(data, null, 2))}`, '--title', 'Dave edits zeus'], tokens.eddie));
    const id = /^#(\d+) open: Dave edits zeus$/m.exec(proposed.stdout)?.[1];
    expect(id, describeResult(proposed)).toBeDefined();
    expect(proposed.stdout).toMatch(/validation valid on head [0-9a-f]{12}, \d+ tests passed/);
    const approved = ok(await cli(['cr', 'approve', id!, '--comment', 'ok'], tokens.bob));
    expect(approved.stdout).toMatch(new RegExp(`^#${id} approved: `));
    expect(approved.stdout).toMatch(/approvals {2}bob at [0-9a-f]{12}/);
    const merged = ok(await cli(['change-requests', 'merge', id!], tokens.alice));
    expect(merged.stdout).toMatch(new RegExp(`^merged #${id} as ([0-9a-f]{40}) \\(activation active\\)\\n$`));
    expect(ok(await cli(['cr', 'ls', '--state', 'merged'], tokens.vera)).stdout).toMatch(new RegExp(`^#${id}\\s+merged\\s+eddie\\s+valid\\s+Dave edits zeus$`, 'm'));
    const shown = ok(await cli(['cr', 'show', id!], tokens.vera));
    expect(shown.stdout).toContain('+++ b/rbac/data.json');
    const json = JSON.parse(ok(await cli(['cr', 'show', id!, '--json'], tokens.vera)).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ id: Number(id), state: 'merged' });

    const second = ok(await cli(['cr', 'propose', '--delete', 'rbac/policy_test.rego', '--title', 'Drop the rbac tests'], tokens.eddie));
    const secondId = /^#(\d+) open: /m.exec(second.stdout)![1]!;
    const rejected = ok(await cli(['cr', 'reject', secondId, '--reason', 'we keep tests'], tokens.alice));
    expect(rejected.stdout).toMatch(new RegExp(`^#${secondId} rejected: Drop the rbac tests$`, 'm'));
    const again = await cli(['cr', 'merge', secondId], tokens.alice);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/409 change_request_closed: /);
  });

  test('audit lists what happened, newest first, with filters; audit verify asks the running Regent about the chain', async () => {
    const listed = ok(await cli(['audit', '--action', 'change_request.merged'], tokens.ada));
    expect(listed.stdout).toMatch(/^\d+\s+\S+ \S+\s+change_request\.merged\s+success\s+alice\s+[0-9a-f]{12}/m);
    expect(listed.stdout).toContain('audit chain: ok');
    const json = JSON.parse(ok(await cli(['audit', '--json', '--subject', 'alice', '--limit', '2'], tokens.ada)).stdout) as { records: Array<{ subject: string }> };
    expect(json.records).toHaveLength(2);
    expect(json.records.every((record) => record.subject === 'alice')).toBe(true);
    const verified = ok(await cli(['audit', 'verify', '--url', regent.url], tokens.ada));
    expect(verified.stdout).toBe(`chain ok (as checked by the Regent at ${regent.url})\n`);
  });

  test('fleet shows the agents that report and how much of the fleet enforces each served revision', async () => {
    const agent = await startOpaAgent({ ...agentOptionsFor(regent), verificationKey: publicKeyPem(regent.signingKey.key), reportStatus: true, longPollSeconds: 30 });
    await agent.waitUntilReady();
    const active = regent.activation.status().active!;
    let last: CliResult | undefined;
    await eventually(async () => {
      last = await cli(['fleet'], tokens.ada);
      return last.code === 0 && /1 of 1 live agents on it/.test(last.stdout) && /rbac/.test(last.stdout);
    }, 30_000, () => (last ? describeResult(last) : ''));
    expect(last!.stdout).toMatch(/^1 agent\(s\)\n/);
    expect(last!.stdout).toMatch(new RegExp(`^ {2}rbac\\s+serving ${active.slice(0, 12)}\\s+1 of 1 live agents on it\\s+0 with errors`, 'm'));
    expect(last!.stdout).toMatch(new RegExp(`live\\s+\\S+\\s+.*rbac@${active.slice(0, 12)}`));
    const json = JSON.parse(ok(await cli(['fleet', '--json'], tokens.ada)).stdout) as { total: number };
    expect(json.total).toBe(1);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readTarball } from '../../src/domain/bundles/tarball-reader.js';
import { adminClient } from '../helpers/admin-client.js';
import { git } from '../helpers/git-repo.js';
import { eventually } from '../helpers/opa-agent.js';
import { opaPath } from '../helpers/opa-path.js';
import { opaStandIn } from '../helpers/opa-stand-in.js';
import { startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

/** A seed with one bundle, `cfg`: a policy whose limit comes from data, and its test. */
function seed(): string {
  const dir = tempDirForTest('regent-seed-');
  writeFileSync(join(dir, 'regent.yaml'), 'bundles:\n  cfg:\n    paths: [cfg]\n    roots: [cfg]\n');
  mkdirSync(join(dir, 'cfg'));
  writeFileSync(join(dir, 'cfg', 'policy.rego'), 'package cfg\n\nallow if input.n <= data.cfg.limit\n');
  writeFileSync(join(dir, 'cfg', 'data.json'), '{"limit": 1}\n');
  writeFileSync(join(dir, 'cfg', 'policy_test.rego'), 'package cfg\n\ntest_one if allow with input as {"n": 1}\n');
  return dir;
}

interface Status {
  head: string;
  active: string | null;
  lastError: { revision: string; code: string; verdict: boolean; problems?: Array<{ code: string; file?: string; message: string }> } | null;
}

const statusOf = async (url: string): Promise<Status> => (await (await fetch(`${url}/status`)).json()) as Status;

describe('the gate judges what agents receive', () => {
  test('data.yaml is tested as the canonical JSON agents get: a test expecting OPA\'s own YAML reading (010 as octal 8) fails, and the served value is the tested one', async () => {
    const regent = await startTestRegent({ seedDir: seed() });
    const admin = adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice', email: 'alice@example.test' });
    const head = (await statusOf(regent.url)).head;
    const yaml = [{ op: 'delete', path: 'cfg/data.json' }, { op: 'put', path: 'cfg/data.yaml', content: 'limit: 010\nbatch: 1_000\n' }];
    const octal = await admin.post('/api/changes', {
      baseRevision: head, message: 'limit as yaml',
      changes: [...yaml, { op: 'put', path: 'cfg/policy_test.rego', content: 'package cfg\n\ntest_limit_is_8 if data.cfg.limit == 8\n' }],
    });
    expect(octal.status).toBe(422);
    const refusal = (await octal.json()) as { code: string; problems: Array<{ code: string; file?: string }> };
    expect(refusal.code).toBe('validation_failed');
    expect(refusal.problems[0]).toMatchObject({ code: 'rego_test_failed', file: 'cfg/policy_test.rego' });

    const decimal = await admin.post('/api/changes', {
      baseRevision: head, message: 'limit as yaml, tested as served',
      changes: [...yaml, { op: 'put', path: 'cfg/policy_test.rego', content: 'package cfg\n\ntest_limit_is_10 if data.cfg.limit == 10\n\ntest_ten_allowed if allow with input as {"n": 10}\n\ntest_batch_is_text if data.cfg.batch == "1_000"\n' }],
    });
    expect(decimal.status).toBe(201);
    const served = Buffer.from(await (await fetch(`${regent.url}/bundles/cfg`)).arrayBuffer());
    const files = await readTarball(served);
    const data = files.find((entry) => entry.name.replace(/^\//, '') === 'cfg/data.json');
    expect(data?.content.toString('utf8')).toBe('{"batch":"1_000","limit":10}');
    // The served bundle, read by real OPA, decides as the tests said.
    const dir = tempDirForTest();
    writeFileSync(join(dir, 'bundle.tar.gz'), served);
    const allow = (n: number) => execFileSync(opaPath(), ['eval', '-b', join(dir, 'bundle.tar.gz'), '--stdin-input', '-f', 'raw', 'data.cfg.allow'], { input: JSON.stringify({ n }) }).toString().trim();
    expect(allow(10)).toBe('true');
    expect(allow(11)).not.toBe('true');
  });

  test('a raw string whose line starts with test_ is text, not a test OPA must report: the write is judged (201), not 503', async () => {
    const regent = await startTestRegent({ seedDir: seed() });
    const admin = adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice', email: 'alice@example.test' });
    const head = (await statusOf(regent.url)).head;
    const phantom = 'package cfg\n\nhelp_text := `\ntest_phantom is not a rule, just text\n`\n\ntest_two if allow with input as {"n": 0}\n';
    const write = await admin.put('/api/policies/cfg/extra_test.rego', { content: phantom, message: 'help text', baseRevision: head });
    expect(write.status).toBe(201);
    expect(await write.json()).toMatchObject({ activation: { state: 'active' } });
  });
});

describe('start-up with OPA silent and a head that never gets a verdict', () => {
  test('the last good revision is retried on its own until it is served, whatever head does', async () => {
    const standIn = opaStandIn('real');
    const config = { opa: { path: standIn.path, timeoutMs: 2000 }, gate: { retryInitialMs: 100, retryMaxMs: 400 } };
    const first = await startTestRegent({ seedDir: seed(), config, keepRunning: true });
    const good = (await statusOf(first.url)).active!;
    // A head whose test never ends: every check runs out of time (no verdict), forever.
    const work = tempDirForTest('regent-clone-');
    await git(['clone', '--quiet', '--', `${first.dataDir}/store.git`, work]);
    writeFileSync(join(work, 'cfg', 'slow_test.rego'), 'package cfg\n\nr := numbers.range(1, 100000)\n\ntest_forever if count([1 | some x in r; some y in r; x == y]) > 0\n');
    await git(['add', '-A'], { cwd: work });
    await git(['commit', '--quiet', '-m', 'a test that never ends'], { cwd: work });
    await git(['push', '--quiet', 'origin', 'HEAD:main'], { cwd: work });
    await eventually(async () => (await statusOf(first.url)).lastError?.code === 'gate_unavailable', 20_000);
    expect((await statusOf(first.url)).active).toBe(good);
    await first.close();

    // Restart while OPA answers nothing at all; it recovers a moment later.
    standIn.setMode('silent');
    const second = await startTestRegent({ dataDir: first.dataDir, config });
    expect((await statusOf(second.url)).active).toBeNull();
    standIn.setMode('real');
    await eventually(async () => (await statusOf(second.url)).active === good, 30_000);
    expect((await fetch(`${second.url}/bundles/cfg`)).status).toBe(200);
  });
});

describe('a test cancelled at OPA\'s own time limit', () => {
  test('is no verdict on the revision: the head is retried and activates once the machine is quiet again', async () => {
    const standIn = opaStandIn('real');
    const regent = await startTestRegent({ seedDir: seed(), config: { opa: { path: standIn.path }, gate: { retryInitialMs: 100, retryMaxMs: 400 } } });
    const work = tempDirForTest('regent-clone-');
    await git(['clone', '--quiet', '--', `${regent.dataDir}/store.git`, work]);
    // About 0.2 s of work: fine for OPA's default 5 s per test, over the stand-in's 50 ms.
    writeFileSync(join(work, 'cfg', 'busy_test.rego'), 'package cfg\n\nr := numbers.range(1, 900)\n\ntest_busy if count([1 | some x in r; some y in r; x == y]) == 900\n');
    await git(['add', '-A'], { cwd: work });
    await git(['commit', '--quiet', '-m', 'a test that takes a moment'], { cwd: work });
    standIn.setMode('slow-machine');
    await git(['push', '--quiet', 'origin', 'HEAD:main'], { cwd: work });
    const pushed = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    await eventually(async () => (await statusOf(regent.url)).lastError?.revision === pushed, 20_000);
    expect((await statusOf(regent.url)).lastError).toMatchObject({ code: 'gate_unavailable', verdict: false });
    standIn.setMode('real');
    await eventually(async () => (await statusOf(regent.url)).active === pushed, 30_000);
  });
});

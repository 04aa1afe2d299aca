import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { adminClient } from '../helpers/admin-client.js';
import { git } from '../helpers/git-repo.js';
import { eventually } from '../helpers/opa-agent.js';
import { opaStandIn, type OpaStandIn } from '../helpers/opa-stand-in.js';
import { startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

interface Status {
  head: string | null;
  active: string | null;
  lastError: { revision: string; code: string; verdict: boolean; details?: Record<string, unknown>; retry?: { attempt: number; at: string } } | null;
}

async function regentBehind(standIn: OpaStandIn, config: Record<string, unknown> = {}) {
  const regent = await startTestRegent({ config: { opa: { path: standIn.path, timeoutMs: 5000 }, gate: { retryInitialMs: 100, retryMaxMs: 400 }, ...config } });
  const status = async (): Promise<Status> => (await (await fetch(`${regent.url}/status`)).json()) as Status;
  const work = tempDirForTest('regent-clone-');
  await git(['clone', '--quiet', '--', `${regent.dataDir}/store.git`, work]);
  const push = async (message: string, change: () => Promise<void> | void): Promise<string> => {
    await change();
    await git(['add', '-A'], { cwd: work });
    await git(['commit', '--quiet', '-m', message], { cwd: work });
    await git(['push', '--quiet', 'origin', 'HEAD:main'], { cwd: work });
    return (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
  };
  const servedRevision = async (bundle: string) => (await fetch(`${regent.url}/bundles/${bundle}`)).headers.get('x-regent-revision');
  return { regent, status, work, push, servedRevision };
}

describe('the activation gate fails closed and recovers by itself', () => {
  test('a head OPA cannot judge is never served; once OPA answers again the waiting head activates with no new push', async () => {
    const standIn = opaStandIn('real');
    const { status, work, push, servedRevision } = await regentBehind(standIn);
    const good = (await status()).active!;
    expect(good).toMatch(/^[0-9a-f]{40}$/);

    // 1. opa exits 0 saying nothing: a broken module must not be served.
    standIn.setMode('silent');
    const broken = await push('broken module', () => writeFileSync(join(work, 'rbac', 'broken.rego'), 'package rbac.broken\n\nallow if {\n'));
    await eventually(async () => (await status()).lastError?.revision === broken, 10_000);
    let now = await status();
    expect(now).toMatchObject({ head: broken, active: good, lastError: { code: 'gate_unavailable', verdict: false } });
    expect(now.lastError!.retry!.attempt).toBeGreaterThanOrEqual(1);
    expect(await servedRevision('rbac')).toBe(good);

    // 2. opa prints garbage and fails while a good fix is pushed: still nothing new is served.
    standIn.setMode('garbage');
    const fix = await push('fix', () => git(['rm', '--quiet', 'rbac/broken.rego'], { cwd: work }).then(() => undefined));
    await eventually(async () => (await status()).lastError?.revision === fix, 10_000);
    now = await status();
    expect(now).toMatchObject({ head: fix, active: good, lastError: { code: 'gate_unavailable', verdict: false } });
    expect(await servedRevision('rbac')).toBe(good);

    // 3. OPA is back: the retry (not a new push) activates the fix.
    standIn.setMode('real');
    await eventually(async () => (await status()).active === fix, 15_000);
    expect(await status()).toMatchObject({ head: fix, active: fix, lastError: null });
    expect(await servedRevision('rbac')).toBe(fix);
  });

  test('a broken head pushed while OPA is down is refused with OPA\'s findings once OPA answers, and stays refused', async () => {
    const standIn = opaStandIn('crash');
    const { status, work, push } = await regentBehind(standIn);
    const good = (await status()).active!;
    const broken = await push('broken module', () => writeFileSync(join(work, 'rbac', 'broken.rego'), 'package rbac.broken\n\nallow if {\n'));
    await eventually(async () => (await status()).lastError?.revision === broken, 10_000);
    expect((await status()).lastError).toMatchObject({ code: 'gate_unavailable', details: { cause: 'opa_unavailable' } });
    standIn.setMode('real');
    await eventually(async () => (await status()).lastError?.code === 'gate_failed', 15_000);
    expect(await status()).toMatchObject({ head: broken, active: good, lastError: { revision: broken, code: 'gate_failed', verdict: true } });
  });

  test('validate-only and writes answer 503 gate_unavailable while OPA gives no verdict, never a remembered failure, and commit nothing', async () => {
    const standIn = opaStandIn('real');
    const { regent, status } = await regentBehind(standIn);
    const admin = adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice', email: 'alice@example.com' });
    const head = (await status()).head!;
    const change = { changes: [{ op: 'put', path: 'rbac/extra.rego', content: 'package rbac.extra\n\nenabled := true\n' }], baseRevision: head };

    standIn.setMode('garbage-exit-0');
    const refused = await admin.post('/api/changes/validate', change);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ code: 'gate_unavailable' });
    const write = await admin.post('/api/changes', { ...change, message: 'Add extra' });
    expect(write.status).toBe(503);
    expect((await status()).head).toBe(head);

    standIn.setMode('real');
    const validated = await admin.post('/api/changes/validate', change);
    expect(validated.status).toBe(200);
    expect(await validated.json()).toMatchObject({ ok: true });
    const committed = await admin.post('/api/changes', { ...change, message: 'Add extra' });
    expect(committed.status).toBe(201);
    expect(await committed.json()).toMatchObject({ activation: { state: 'active' } });
  });
});

describe('activation state that cannot be written', () => {
  test('a revision whose last-good record cannot be written is not served, says so consistently, and activates once the directory is back', async () => {
    const standIn = opaStandIn('real');
    const { regent, status, servedRevision } = await regentBehind(standIn);
    const admin = adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice', email: 'alice@example.com' });
    const good = (await status()).active!;
    const stateDir = join(regent.dataDir, 'state');
    rmSync(stateDir, { recursive: true, force: true });
    writeFileSync(stateDir, 'not a directory\n');

    const write = await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nenabled := true\n', message: 'Add extra', baseRevision: good });
    expect(write.status).toBe(201);
    const written = (await write.json()) as { revision: string; activation: { state: string; failure?: { code: string } } };
    expect(written.activation).toMatchObject({ state: 'retrying', failure: { code: 'state_unwritable' } });
    expect(await status()).toMatchObject({ head: written.revision, active: good, lastError: { code: 'state_unwritable', verdict: false } });
    expect(await servedRevision('rbac')).toBe(good);

    rmSync(stateDir, { force: true });
    mkdirSync(stateDir);
    await eventually(async () => (await status()).active === written.revision, 15_000);
    expect(await servedRevision('rbac')).toBe(written.revision);
    expect(await status()).toMatchObject({ lastError: null });
  });
});

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, onTestFinished, test } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { startRegent } from '../../src/main.js';
import { freePort } from '../helpers/opa-agent.js';
import { opaPath } from '../helpers/opa-path.js';
import { tempDirForTest } from '../helpers/temp-dir.js';
import { adminClient } from '../helpers/admin-client.js';
import { git } from '../helpers/git-repo.js';
import { gitRemote, giteaSignature, githubSignature, readTree, type GitRemote } from '../helpers/git-remote.js';
import { eventually, agentOptionsFor, startOpaAgent } from '../helpers/opa-agent.js';
import { EXAMPLE_POLICIES, startTestRegent } from '../helpers/start-regent.js';

const SECRET = 'webhook-secret-for-the-remote-mode-tests';
/** Once a year: in tests using it, only webhooks, admins and start-up explain a sync. */
const NEVER = '0 0 1 1 *';

interface MirrorStatusBody {
  state: string;
  staleSince: string | null;
  lastSuccessAt: string | null;
  lastError: { code: string } | null;
  remoteTip: string | null;
  diverged: { remoteTip: string; head: string } | null;
  syncs: { started: number; inFlight: boolean; queued: boolean; requests: Record<string, number> };
  webhooks: { accepted: number; duplicate: number; refused: number };
}

async function remoteRegent(options: { schedule?: string } = {}) {
  const remote = await gitRemote(readTree(EXAMPLE_POLICIES));
  const regent = await startTestRegent({
    config: { remote: { url: remote.dir, webhookSecret: SECRET, syncSchedule: options.schedule ?? NEVER, backoffInitialMs: 50, backoffMaxMs: 300, fetchTimeoutMs: 10_000 } },
  });
  const status = async (): Promise<{ head: string; active: string; mirror: MirrorStatusBody }> => (await fetch(`${regent.url}/status`)).json() as never;
  return { remote, regent, status, admin: adminClient(regent, { sub: 'ada', role: 'admin', name: 'Ada Admin', email: 'ada@example.test' }) };
}

/** rbac/data.json as the developer's clone has it, with `user` made an admin of apollo. */
function rbacDataWith(remote: GitRemote, user: string): string {
  const data = JSON.parse(readFileSync(join(remote.developer.dir, 'rbac', 'data.json'), 'utf8')) as { users: Record<string, unknown>; assignments: Record<string, unknown> };
  data.users[user] = { active: true };
  data.assignments[user] = [{ role: 'admin', project: 'apollo' }];
  return `${JSON.stringify(data, null, 2)}\n`;
}

function postWebhook(url: string, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${url}/hooks/git`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
}

async function agentFor(regent: Awaited<ReturnType<typeof startTestRegent>>) {
  const agent = await startOpaAgent({
    ...agentOptionsFor(regent),
    minDelaySeconds: 60,
    maxDelaySeconds: 120,
  });
  await agent.waitUntilReady();
  return agent;
}

const deleteOnApollo = (subject: string) => ({ subject, action: 'delete', resource: { type: 'workflow', project: 'apollo' } });

describe('remote mode with a real bare remote, a developer clone and real OPA', () => {
  test('starts from a clone of the remote, and a merge reaches a real OPA after a signed webhook', async () => {
    const { remote, regent, status } = await remoteRegent();
    expect(await regent.store.head()).toBe(await remote.tip());
    const agent = await agentFor(regent);
    expect(await agent.query('rbac/allow', deleteOnApollo('heidi'))).toBe(false);

    const merged = await remote.merge({ 'rbac/data.json': rbacDataWith(remote, 'heidi') }, 'Merge pull request #7: heidi administers apollo');
    const body = JSON.stringify({ ref: 'refs/heads/main', after: merged, repository: { full_name: 'acme/policies' } });
    const response = await postWebhook(regent.url, body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': githubSignature(body, SECRET) });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: 'sync_requested', provider: 'github' });

    await eventually(async () => (await agent.query('rbac/allow', deleteOnApollo('heidi'))) === true, 20_000, () => agent.logs().slice(-2000));
    expect(await agent.activeRevision('rbac')).toBe(merged);
    const { mirror } = await status();
    expect(mirror).toMatchObject({ state: 'fresh', remoteTip: merged, syncs: { requests: { webhook: 1, cron: 0 } } });
  });

  test('without a webhook, the cron tick brings a merge to a real OPA', async () => {
    const { remote, regent, status } = await remoteRegent({ schedule: '* * * * * *' });
    const agent = await agentFor(regent);
    expect(await agent.query('rbac/allow', deleteOnApollo('ivan'))).toBe(false);
    const merged = await remote.merge({ 'rbac/data.json': rbacDataWith(remote, 'ivan') }, 'Merge pull request #8');
    await eventually(async () => (await agent.query('rbac/allow', deleteOnApollo('ivan'))) === true, 20_000, () => agent.logs().slice(-2000));
    expect(await agent.activeRevision('rbac')).toBe(merged);
    const { mirror } = await status();
    expect(mirror.syncs.requests.webhook).toBe(0);
    expect(mirror.syncs.requests.cron).toBeGreaterThan(0);
  });

  test('forged, replayed and unsigned webhooks are refused (401) and trigger no fetch; one valid delivery does', async () => {
    const { remote, regent, status } = await remoteRegent();
    const before = (await status()).mirror;
    const initialHead = await regent.store.head();
    const merged = await remote.merge({ 'rbac/extra.rego': 'package rbac.extra\n\nenabled := true\n' }, 'Merge pull request #9');
    const body = JSON.stringify({ ref: 'refs/heads/main', after: merged });

    const refused: Array<[string, Record<string, string>, string]> = [
      ['unsigned', {}, 'webhook_signature_missing'],
      ['GitHub SHA-1 only', { 'X-Hub-Signature': 'sha1=0123456789012345678901234567890123456789' }, 'webhook_signature_missing'],
      ['forged GitHub', { 'X-Hub-Signature-256': githubSignature(body, 'not-the-secret-at-all') }, 'webhook_signature_invalid'],
      ['signature over another body', { 'X-Hub-Signature-256': githubSignature(`${body} `, SECRET) }, 'webhook_signature_invalid'],
      ['truncated signature', { 'X-Hub-Signature-256': githubSignature(body, SECRET).slice(0, 30) }, 'webhook_signature_invalid'],
      ['forged Gitea', { 'X-Gitea-Signature': giteaSignature(body, 'not-the-secret-at-all') }, 'webhook_signature_invalid'],
      ['wrong GitLab token', { 'X-Gitlab-Token': 'guess' }, 'webhook_signature_invalid'],
    ];
    for (const [name, headers, code] of refused) {
      const response = await postWebhook(regent.url, body, headers);
      expect(response.status, name).toBe(401);
      expect(response.headers.get('content-type'), name).toContain('application/problem+json');
      expect(response.headers.get('www-authenticate'), name).toBeNull();
      expect(((await response.json()) as { code: string }).code, name).toBe(code);
    }
    let now = (await status()).mirror;
    expect(now.syncs.started).toBe(before.syncs.started);
    expect(now.syncs.requests.webhook).toBe(0);
    expect(now.webhooks).toMatchObject({ accepted: 0, duplicate: 0, refused: refused.length });
    expect(await regent.store.head()).toBe(initialHead);

    const delivery = randomUUID();
    const signed = { 'X-Gitea-Delivery': delivery, 'X-Gitea-Signature': giteaSignature(body, SECRET) };
    expect((await postWebhook(regent.url, body, signed)).status).toBe(202);
    // Replays: the same delivery, and the same signed body under a fresh delivery id.
    for (const headers of [signed, { ...signed, 'X-Gitea-Delivery': randomUUID() }]) {
      const replay = await postWebhook(regent.url, body, headers);
      expect(replay.status).toBe(200);
      expect(await replay.json()).toMatchObject({ status: 'duplicate' });
    }
    await eventually(async () => (await regent.store.head()) === merged, 10_000);
    now = (await status()).mirror;
    expect(now.syncs.requests.webhook).toBe(1);
    expect(now.syncs.started).toBe(before.syncs.started + 1);
    expect(now.webhooks).toMatchObject({ accepted: 1, duplicate: 2, refused: refused.length, busy: 0, tooLarge: 0, reading: 0, peakReading: 1 });
  });

  test('a force-push is refused: serving stays on the last good revision, the audit log shows it, and an admin accepts it explicitly', async () => {
    const { remote, regent, status, admin } = await remoteRegent();
    const good = await remote.merge({ 'rbac/extra.rego': 'package rbac.extra\n\nenabled := true\n' }, 'Merge pull request #10');
    expect((await admin.post('/api/mirror/sync')).status).toBe(202);
    await eventually(async () => (await status()).active === good, 20_000);
    const etag = (await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag');

    const rewritten = await remote.forcePush({ 'rbac/extra.rego': 'package rbac.extra\n\nenabled := false\n' }, 'Rewritten history');
    await admin.post('/api/mirror/sync');
    await eventually(async () => (await status()).mirror.state === 'diverged', 10_000);
    const diverged = await status();
    expect(diverged).toMatchObject({ head: good, active: good, mirror: { diverged: { remoteTip: rewritten, head: good } } });
    expect((await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag')).toBe(etag);
    // Syncing again does not record the same divergence twice.
    await admin.post('/api/mirror/sync');
    await eventually(async () => {
      const { syncs } = (await status()).mirror;
      return syncs.started >= diverged.mirror.syncs.started + 1 && !syncs.inFlight && !syncs.queued;
    }, 10_000);
    const audit = (await (await admin.get('/api/audit?action=mirror.diverged')).json()) as { records: Array<Record<string, unknown>> };
    expect(audit.records).toHaveLength(1);
    expect(audit.records[0]).toMatchObject({ action: 'mirror.diverged', subject: 'system', revision: rewritten, baseRevision: good, reason: 'remote_diverged' });

    // Admin writes are refused while diverged: the remote would not take them, so nothing is committed.
    const write = await admin.put('/api/policies/rbac/more.rego', { content: 'package rbac.more\n\nx := 1\n', message: 'more', baseRevision: good });
    expect(write.status).toBe(409);
    expect(((await write.json()) as { code: string }).code).toBe('remote_diverged');
    expect(await regent.store.head()).toBe(good);
    expect(await remote.tip()).toBe(rewritten);

    const wrong = await admin.post('/api/mirror/accept', { remoteTip: good });
    expect(wrong.status).toBe(412);
    expect(await wrong.json()).toMatchObject({ code: 'remote_tip_changed', remoteTip: rewritten });
    const missing = await admin.post('/api/mirror/accept', {});
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ code: 'remote_tip_required', field: 'remoteTip' });

    const accepted = await admin.post('/api/mirror/accept', undefined, { 'If-Match': `"${rewritten}"` });
    expect(accepted.status).toBe(200);
    const result = (await accepted.json()) as { head: string; previousHead: string; archiveRef: string };
    expect(result).toMatchObject({ head: rewritten, previousHead: good });
    expect((await git(['rev-parse', result.archiveRef], { gitDir: join(regent.dataDir, 'store.git') })).trim()).toBe(good);
    await eventually(async () => (await status()).active === rewritten, 20_000);
    expect((await status()).mirror.state).toBe('fresh');
    const acceptedAudit = (await (await admin.get('/api/audit?action=mirror.accepted')).json()) as { records: Array<Record<string, unknown>> };
    expect(acceptedAudit.records[0]).toMatchObject({ subject: 'ada', revision: rewritten, baseRevision: good });
  });

  test('the remote disappears and comes back: serving never stops, /status shows stale since when, then fresh', async () => {
    const { remote, regent, status, admin } = await remoteRegent({ schedule: '* * * * * *' });
    const head = (await regent.store.head())!;
    const etag = (await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag');
    const away = `${remote.dir}.moved`;
    await rename(remote.dir, away);
    let polls = 0;
    await eventually(async () => {
      const bundle = await fetch(`${regent.url}/bundles/rbac`);
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get('etag')).toBe(etag);
      polls += 1;
      return (await status()).mirror.state === 'stale';
    }, 20_000);
    expect(polls).toBeGreaterThan(0);
    const stale = (await status()).mirror;
    expect(stale.staleSince).not.toBeNull();
    expect(stale.lastError).toMatchObject({ code: 'remote_unavailable' });
    expect((await fetch(`${regent.url}/health/ready`)).status).toBe(200);

    const write = await admin.put('/api/policies/rbac/more.rego', { content: 'package rbac.more\n\nx := 1\n', message: 'more', baseRevision: head });
    expect(write.status).toBe(503);
    expect(((await write.json()) as { code: string }).code).toBe('remote_unavailable');
    expect(await regent.store.head()).toBe(head);

    await rename(away, remote.dir);
    await eventually(async () => (await status()).mirror.state === 'fresh', 20_000);
    const fresh = (await status()).mirror;
    expect(fresh.staleSince).toBeNull();
    expect(Date.parse(fresh.lastSuccessAt!)).toBeGreaterThan(Date.parse(stale.staleSince!));
    const merged = await remote.merge({ 'rbac/extra.rego': 'package rbac.extra\n\nenabled := true\n' });
    await eventually(async () => (await status()).active === merged, 20_000);
  });

  test('a remote that stalls: fetches time out and never overlap however many webhooks arrive, serving and reads go on', async () => {
    // First a normal start, so the data directory has a store to serve; then the same data on a black hole.
    const { regent: first } = await remoteRegent();
    const dataDir = tempDirForTest('regent-data-');
    await first.close();
    await rename(join(first.dataDir, 'store.git'), join(dataDir, 'store.git'));
    const open = new Set<Socket>();
    let maxOpen = 0;
    let connections = 0;
    const blackHole = createServer((socket) => {
      connections += 1;
      open.add(socket);
      maxOpen = Math.max(maxOpen, open.size);
      // Read (and drop) what ssh sends, so the end of the connection is seen; never answer.
      socket.resume();
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', () => resolve()));
    onTestFinished(() => {
      for (const socket of open) socket.destroy();
      blackHole.close();
    });
    const { port } = blackHole.address() as { port: number };
    const regent = await startTestRegent({
      dataDir,
      config: { remote: { url: `ssh://git@127.0.0.1:${port}/policies.git`, webhookSecret: SECRET, syncSchedule: '* * * * * *', fetchTimeoutMs: 1500, backoffInitialMs: 50, backoffMaxMs: 200 } },
    });
    const admin = adminClient(regent, { sub: 'ada', role: 'admin' });
    await eventually(async () => (await fetch(`${regent.url}/health/ready`)).status === 200, 20_000);
    const webhooks = await Promise.all(Array.from({ length: 30 }, (_, i) => {
      const body = JSON.stringify({ n: i });
      return postWebhook(regent.url, body, { 'X-Hub-Signature-256': githubSignature(body, SECRET), 'X-GitHub-Delivery': randomUUID() });
    }));
    expect(webhooks.map((response) => response.status)).toEqual(Array(30).fill(202));
    await eventually(async () => {
      expect((await fetch(`${regent.url}/bundles/rbac`)).status).toBe(200);
      expect((await admin.get('/api/policies')).status).toBe(200);
      const { mirror } = (await (await fetch(`${regent.url}/status`)).json()) as { mirror: MirrorStatusBody };
      return mirror.state === 'stale' && connections >= 3;
    }, 30_000);
    const { mirror } = (await (await fetch(`${regent.url}/status`)).json()) as { mirror: MirrorStatusBody };
    expect(mirror.syncs.requests.webhook).toBe(30);
    expect(mirror.syncs.started).toBeLessThan(30);
    expect(mirror.lastError?.code).toBe('remote_unavailable');
    expect(maxOpen).toBeLessThanOrEqual(1);
  });

  test('an admin write while the remote moved on other files is re-created on the new tip; on the same file it is 409 with the new head', async () => {
    const { remote, regent, admin } = await remoteRegent();
    const base = (await regent.store.head())!;
    const developer = await remote.merge({ 'datasets/extra.rego': 'package datasets.extra\n\nenabled := true\n' });
    const response = await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nenabled := true\n', message: 'Add rbac.extra', baseRevision: base });
    expect(response.status).toBe(201);
    const result = (await response.json()) as { revision: string; parent: string };
    expect(result.parent).toBe(developer);
    expect(await remote.tip()).toBe(result.revision);
    expect(await regent.store.head()).toBe(result.revision);

    const conflicting = await remote.merge({ 'rbac/extra.rego': 'package rbac.extra\n\nenabled := false\n' });
    const refused = await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nenabled := 1\n', message: 'Change rbac.extra', baseRevision: result.revision });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ code: 'head_moved', head: conflicting });
    expect(await remote.tip()).toBe(conflicting);
    expect(await regent.store.head()).toBe(conflicting);
  });

  test('a rollback while the remote moved on other files is re-created on the new tip as file changes', async () => {
    const { remote, regent, admin } = await remoteRegent();
    const original = (await regent.store.head())!;
    const added = await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nenabled := true\n', message: 'Add rbac.extra', baseRevision: original });
    const afterAdd = ((await added.json()) as { revision: string }).revision;
    const developer = await remote.merge({ 'datasets/extra.rego': 'package datasets.extra\n\nenabled := true\n' });
    const rollback = await admin.post(`/api/versions/${original}/activate`, { baseRevision: afterAdd });
    expect(rollback.status).toBe(201);
    const result = (await rollback.json()) as { revision: string; parent: string };
    expect(result.parent).toBe(developer);
    expect(await remote.tip()).toBe(result.revision);
    const files = (await remote.git(['ls-tree', '-r', '--name-only', result.revision])).split('\n');
    expect(files).toContain('datasets/extra.rego');
    expect(files).not.toContain('rbac/extra.rego');
  });

  test('a change that breaks the tests on the new remote tip is not re-created there (validated again, 422)', async () => {
    const { remote, regent, admin } = await remoteRegent();
    const base = (await regent.store.head())!;
    // The developer adds a test that the admin's (otherwise valid) change will break.
    await remote.merge({ 'rbac/extra_test.rego': 'package rbac.extra_test\n\nimport data.rbac.extra\n\ntest_enabled if extra.enabled\n', 'rbac/extra.rego': 'package rbac.extra\n\nenabled := true\n' });
    const response = await admin.put('/api/policies/rbac/other.rego', { content: 'package rbac.extra\n\nenabled := false\n', message: 'Conflicting rule', baseRevision: base });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { code: string }).code).toBe('validation_failed');
    expect(await regent.store.head()).toBe(await remote.tip());
  });

  test('a remote token is never logged nor shown in /status, even when the remote fails', async () => {
    const token = 'ghp_NeverLogThisToken0123456789';
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    const port = await freePort();
    const dataDir = tempDirForTest('regent-data-');
    const config = loadConfig({
      env: { REGENT_REMOTE_TOKEN: token },
      overrides: { dev: true, host: '127.0.0.1', port: 0, dataDir, opa: { path: opaPath() }, remote: { url: `https://127.0.0.1:${port}/acme/policies.git`, fetchTimeoutMs: 3000 } },
    });
    const regent = await startRegent(config, pino({ level: 'trace' }, sink));
    try {
      const status = (await (await fetch(`${regent.url}/status`)).json()) as { mirror: MirrorStatusBody & { url: string } };
      expect(status.mirror.state).toBe('stale');
      expect(status.mirror.lastError).not.toBeNull();
      const shown = JSON.stringify(status) + lines.join('');
      expect(lines.some((line) => line.includes('remote sync failed'))).toBe(true);
      for (const secret of [token, Buffer.from(`x-access-token:${token}`).toString('base64')]) expect(shown).not.toContain(secret);
    } finally {
      await regent.close();
    }
  });

  test('concurrent admin writes while the remote also moves: no lost update, every accepted change is on the remote', async () => {
    const { remote, regent, admin, status } = await remoteRegent();
    const accepted: Array<{ path: string; revision: string }> = [];
    const writer = async (id: number): Promise<void> => {
      for (let n = 0; n < 2; n++) {
        const path = `rbac/w${id}_${n}.rego`;
        for (let attempt = 0; attempt < 30; attempt++) {
          const head = (await status()).head;
          const response = await admin.put(`/api/policies/${path}`, { content: `package rbac.w${id}_${n}\n\nx := ${id}\n`, message: `writer ${id} file ${n}`, baseRevision: head });
          if (response.status === 201) {
            accepted.push({ path, revision: ((await response.json()) as { revision: string }).revision });
            break;
          }
          expect(response.status, await response.clone().text()).toBe(409);
          await admin.post('/api/mirror/sync');
        }
      }
    };
    const developer = async (): Promise<string[]> => {
      const merged: string[] = [];
      for (let k = 0; k < 3; k++) merged.push(await remote.merge({ [`datasets/d${k}.rego`]: `package datasets.d${k}\n\ny := ${k}\n` }, `Merge pull request #${20 + k}`));
      return merged;
    };
    const [, , , developerMerges] = await Promise.all([writer(1), writer(2), writer(3), developer()]);
    expect(accepted).toHaveLength(6);

    const tip = await remote.tip();
    for (const { revision } of [...accepted, ...developerMerges.map((revision) => ({ revision }))]) {
      await expect(remote.git(['merge-base', '--is-ancestor', revision, tip])).resolves.toBeDefined();
    }
    const files = (await remote.git(['ls-tree', '-r', '--name-only', tip])).split('\n');
    for (const { path } of accepted) expect(files).toContain(path);
    for (let k = 0; k < 3; k++) expect(files).toContain(`datasets/d${k}.rego`);
    await admin.post('/api/mirror/sync');
    await eventually(async () => (await regent.store.head()) === tip, 10_000);
  });
});

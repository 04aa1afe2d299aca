import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { Logger } from '../../src/domain/logger.js';
import { startRegent } from '../../src/main.js';
import { adminClient } from '../helpers/admin-client.js';
import { startGitea, type Gitea } from '../helpers/gitea.js';
import { giteaPoliciesRepository, rbacDataWithViewer, type GiteaRepository } from '../helpers/gitea-repository.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { opaPath } from '../helpers/opa-path.js';
import { git } from '../helpers/git-repo.js';
import { capturingLogger, startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

/** Once a year: in these tests only Gitea's webhooks, admins and start-up explain a sync. */
const NEVER = '0 0 1 1 *';

interface MirrorStatusBody {
  state: string;
  insecureHttp: boolean;
  remoteTip: string | null;
  lastError: { code: string; message: string } | null;
  diverged: { remoteTip: string; head: string } | null;
  syncs: { started: number; inFlight: boolean; queued: boolean; requests: Record<string, number> };
  webhooks: { accepted: number; duplicate: number; refused: number } | null;
}

type Status = { head: string; active: string; mirror: MirrorStatusBody };

let gitea: Gitea;
beforeAll(async () => {
  gitea = await startGitea();
}, 180_000);
afterAll(async () => {
  await gitea?.stop();
});

let repositories = 0;
async function repository(): Promise<GiteaRepository> {
  repositories += 1;
  return giteaPoliciesRepository(gitea, `policies-${repositories}`);
}

/** A Regent mirroring `repo` over https, trusting Gitea's certificate through remote.caFile only, with Gitea's webhook pointing at it. */
async function regentFor(repo: GiteaRepository, options: { webhook?: boolean; logger?: Logger } = {}) {
  const secret = randomBytes(24).toString('hex');
  const regent = await startTestRegent({
    logger: options.logger,
    config: { remote: { url: repo.cloneUrl, token: gitea.token, tokenUsername: gitea.user, caFile: gitea.caFile, webhookSecret: secret, syncSchedule: NEVER, backoffInitialMs: 100, backoffMaxMs: 1000, fetchTimeoutMs: 20_000, pushTimeoutMs: 20_000 } },
  });
  if (options.webhook !== false) await repo.addWebhook(`${regent.url}/hooks/git`, secret);
  const status = async (): Promise<Status> => (await fetch(`${regent.url}/status`)).json() as Promise<Status>;
  const admin = adminClient(regent, { sub: 'ada', role: 'admin', name: 'Ada Admin', email: 'ada@example.test' });
  return { regent, status, admin };
}

const viewApollo = (subject: string) => ({ subject, action: 'view', resource: { type: 'workflow', project: 'apollo' } });

describe('a self-hosted Gitea over https with a private certificate', () => {
  test('Regent clones over https trusting remote.caFile, and a pull request merged in Gitea reaches a real OPA through Gitea\'s own signed webhook', async () => {
    const repo = await repository();
    const log = capturingLogger();
    const { regent, status } = await regentFor(repo, { logger: log.logger });
    expect(await regent.store.head()).toBe(await repo.tip());
    const agent = await startOpaAgent({ ...agentOptionsFor(regent), minDelaySeconds: 60, maxDelaySeconds: 120 });
    await agent.waitUntilReady();
    expect(await agent.query('rbac/allow', viewApollo('zed'))).toBe(false);

    await repo.pushBranch('add-zed', { 'rbac/data.json': rbacDataWithViewer(repo, 'zed') }, 'Zed views apollo');
    const merged = await repo.mergePullRequest('add-zed', 'Zed views apollo');
    expect(await repo.tip()).toBe(merged);

    await eventually(async () => (await agent.query('rbac/allow', viewApollo('zed'))) === true, 30_000, () => `${agent.logs().slice(-1500)}\n${gitea.logs().slice(-1500)}`);
    expect(await agent.activeRevision('rbac')).toBe(merged);
    const { mirror } = await status();
    expect(mirror).toMatchObject({ state: 'fresh', insecureHttp: false, remoteTip: merged, syncs: { requests: { cron: 0 } } });
    expect(mirror.syncs.requests.webhook).toBeGreaterThanOrEqual(1);
    expect(mirror.webhooks).toMatchObject({ refused: 0 });
    expect(mirror.webhooks!.accepted).toBeGreaterThanOrEqual(1);

    // Gitea's own deliveries, as Regent logged them: Gitea's signature header checked out, with Gitea's delivery ids.
    const accepted = log.records().filter((record) => record.msg === 'webhook accepted; sync requested');
    expect(accepted.length).toBe(mirror.webhooks!.accepted);
    for (const record of accepted) expect(record).toMatchObject({ provider: 'gitea', deliveryId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  test('without remote.caFile the fetch fails on Gitea\'s certificate: its CA is trusted through remote.caFile only, not through GIT_SSL_CAINFO in Regent\'s environment', async () => {
    const repo = await repository();
    const ambient = process.env.GIT_SSL_CAINFO;
    process.env.GIT_SSL_CAINFO = gitea.caFile;
    onTestFinished(() => {
      if (ambient === undefined) delete process.env.GIT_SSL_CAINFO;
      else process.env.GIT_SSL_CAINFO = ambient;
    });
    // The same certificate works for a git that does read the ambient environment (the developer's).
    expect(await repo.git(['ls-remote', 'origin', 'main'])).toContain(await repo.tip());

    const regent = await startTestRegent({ config: { remote: { url: repo.cloneUrl, token: gitea.token, tokenUsername: gitea.user, syncSchedule: NEVER, fetchTimeoutMs: 10_000, backoffInitialMs: 60_000, backoffMaxMs: 60_000 } } });
    const { mirror } = (await (await fetch(`${regent.url}/status`)).json()) as Status;
    expect(mirror.state).toBe('stale');
    expect(mirror.lastError?.code).toBe('remote_unavailable');
    expect(mirror.lastError?.message).toMatch(/certificate/i);
    expect(await regent.store.head()).toBeUndefined();
  });

  test('a CA file that is not Gitea\'s is not enough either: only the configured bundle is trusted', async () => {
    const repo = await repository();
    const otherCa = join(import.meta.dirname, '..', '..', 'src', 'domain', 'bundles', 'testdata', 'cert.pem');
    const regent = await startTestRegent({ config: { remote: { url: repo.cloneUrl, token: gitea.token, tokenUsername: gitea.user, caFile: otherCa, syncSchedule: NEVER, fetchTimeoutMs: 10_000, backoffInitialMs: 60_000, backoffMaxMs: 60_000 } } });
    const { mirror } = (await (await fetch(`${regent.url}/status`)).json()) as Status;
    expect(mirror).toMatchObject({ state: 'stale', lastError: { code: 'remote_unavailable' } });
    expect(mirror.lastError?.message).toMatch(/certificate/i);
  });

  test('an admin API write is pushed through to Gitea with the token before Regent answers', async () => {
    const repo = await repository();
    const { regent, admin } = await regentFor(repo, { webhook: false });
    const base = (await regent.store.head())!;
    const response = await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nenabled := true\n', message: 'Add extra through Regent', baseRevision: base });
    expect(response.status).toBe(201);
    const { revision, parent } = (await response.json()) as { revision: string; parent: string };
    expect(parent).toBe(base);
    expect(await repo.tip()).toBe(revision);
    const commit = await gitea.api('GET', `${repo.apiPath}/git/commits/${revision}`);
    expect(commit.body.commit).toMatchObject({ message: expect.stringContaining('Add extra through Regent'), author: { name: 'Ada Admin', email: 'ada@example.test' } });
    const file = await gitea.api('GET', `${repo.apiPath}/raw/rbac/extra.rego?ref=main`);
    expect(file.text).toBe('package rbac.extra\n\nenabled := true\n');
  });

  test('a protected branch on Gitea refuses Regent\'s push: 403 remote_refused with Gitea\'s reason, nothing committed', async () => {
    const repo = await repository();
    const { regent, admin } = await regentFor(repo, { webhook: false });
    const protection = await gitea.api('POST', `${repo.apiPath}/branch_protections`, { rule_name: 'main', enable_push: false });
    expect(protection.status, protection.text).toBe(201);
    const base = (await regent.store.head())!;
    const response = await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nenabled := true\n', message: 'Refused by Gitea', baseRevision: base });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await response.json()) as { code: string; reason: string; detail: string };
    expect(problem.code).toBe('remote_refused');
    expect(problem.reason).toMatch(/protected branch/i);
    expect(await regent.store.head()).toBe(base);
    expect(await repo.tip()).toBe(base);
  });

  test('a force-push on Gitea is not followed: /status says diverged, serving stays on the last good revision', async () => {
    const repo = await repository();
    const { regent, status } = await regentFor(repo);
    const good = (await regent.store.head())!;
    const etag = (await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag');
    await repo.git(['fetch', '--quiet', 'origin', 'main']);
    await repo.git(['reset', '--quiet', '--hard', 'origin/main']);
    await repo.git(['commit', '--quiet', '--amend', '-m', 'Rewritten history']);
    await repo.git(['push', '--quiet', '--force', 'origin', 'HEAD:main']);
    const rewritten = (await repo.tip())!;
    expect(rewritten).not.toBe(good);

    await eventually(async () => (await status()).mirror.state === 'diverged', 30_000, () => gitea.logs().slice(-1500));
    const now = await status();
    expect(now).toMatchObject({ head: good, active: good, mirror: { diverged: { remoteTip: rewritten, head: good } } });
    expect(now.mirror.syncs.requests.webhook).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag')).toBe(etag);
  });

  test('the repository deleted and re-created on Gitea: Regent keeps serving, reports it, never pushes its history into the new repository, and follows again once it is pushed back', async () => {
    const repo = await repository();
    const { regent, status, admin } = await regentFor(repo, { webhook: false });
    const head = (await regent.store.head())!;
    expect((await gitea.api('DELETE', repo.apiPath)).status).toBe(204);
    await gitea.createRepository(repo.name);

    // An empty repository: the branch is missing. Serving goes on from the local store.
    expect((await admin.post('/api/mirror/sync')).status).toBe(202);
    await eventually(async () => (await status()).mirror.state === 'missing_ref', 20_000);
    expect(await status()).toMatchObject({ head, active: head });
    expect((await fetch(`${regent.url}/bundles/rbac`)).status).toBe(200);

    // A write is leased on head: the push finds no such branch and is refused; nothing reaches Gitea.
    const write = await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nenabled := true\n', message: 'Into the void', baseRevision: head });
    expect(write.status).toBe(409);
    expect(((await write.json()) as { code: string }).code).toBe('remote_diverged');
    expect(await repo.tip()).toBeUndefined();
    expect((await gitea.api('GET', `${repo.apiPath}/branches`)).body ?? []).toEqual([]);
    expect(await regent.store.head()).toBe(head);

    // The README's way back: push the store's history there yourself; Regent then follows and writes again.
    await git(['push', '--quiet', gitea.developerUrl(repo.name), 'refs/heads/main:refs/heads/main'], { gitDir: join(regent.dataDir, 'store.git'), env: gitea.developerEnv });
    expect(await repo.tip()).toBe(head);
    expect((await admin.post('/api/mirror/sync')).status).toBe(202);
    await eventually(async () => (await status()).mirror.state === 'fresh', 20_000);
    const restored = await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nenabled := true\n', message: 'After the restore', baseRevision: head });
    expect(restored.status).toBe(201);
    const afterRestore = ((await restored.json()) as { revision: string }).revision;
    expect(await repo.tip()).toBe(afterRestore);

    // Deleted and re-created again, and someone pushes a different history there: diverged, never followed nor overwritten.
    expect((await gitea.api('DELETE', repo.apiPath)).status).toBe(204);
    await gitea.createRepository(repo.name);
    const fresh = await giteaHistoryFrom(repo, 'A new beginning');
    expect((await admin.post('/api/mirror/sync')).status).toBe(202);
    await eventually(async () => (await status()).mirror.state === 'diverged', 20_000);
    expect(await status()).toMatchObject({ head: afterRestore, mirror: { diverged: { remoteTip: fresh, head: afterRestore } } });
    const again = await admin.put('/api/policies/rbac/more.rego', { content: 'package rbac.more\n\nx := 1\n', message: 'Over the new history', baseRevision: afterRestore });
    expect(again.status).toBe(409);
    expect(await repo.tip()).toBe(fresh);
  });

  test('the README\'s worked example, run as written: its token scopes, its gitea webhook and its REGENT_REMOTE_* variables; neither the token nor the secret is logged', async () => {
    const example = readmeGiteaExample();
    const repo = await repository();
    const dir = tempDirForTest('regent-gitea-readme-');
    // 1. The token, with the README's request body.
    const made = await gitea.api('POST', `/users/${gitea.user}/tokens`, { ...example.tokenRequest, name: `${String(example.tokenRequest.name)}-${repo.name}` });
    expect(made.status, made.text).toBe(201);
    expect(example.tokenRequest.scopes).toEqual(['write:repository']);
    const token = made.body.sha1 as string;
    const tokenFile = join(dir, 'gitea-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    // 2. The webhook secret file, and Regent from the README's variables.
    const secret = randomBytes(24).toString('hex');
    const secretFile = join(dir, 'webhook-secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    const values: Record<string, string> = {
      REGENT_REMOTE_URL: repo.cloneUrl, REGENT_REMOTE_TOKEN_FILE: tokenFile, REGENT_REMOTE_TOKEN_USERNAME: gitea.user,
      REGENT_REMOTE_CA_FILE: gitea.caFile, REGENT_WEBHOOK_SECRET_FILE: secretFile,
    };
    const env = Object.fromEntries(example.variables.map((name) => {
      if (values[name] === undefined) throw new Error(`the README's Gitea example sets ${name}, which this test does not know`);
      return [name, values[name]];
    }));
    expect(Object.keys(env).sort()).toEqual(Object.keys(values).sort());
    const log = capturingLogger('trace');
    const config = loadConfig({ env: { ...env, REGENT_REMOTE_SYNC_SCHEDULE: NEVER }, overrides: { dev: true, host: '127.0.0.1', port: 0, dataDir: tempDirForTest('regent-data-'), opa: { path: opaPath() } } });
    const regent = await startRegent(config, log.logger);
    onTestFinished(() => regent.close());
    expect(await regent.store.head()).toBe(await repo.tip());
    // The webhook, with the README's request body (its URL pointed at this Regent).
    const hook = example.webhookRequest(secret);
    expect(hook).toMatchObject({ type: 'gitea', config: { content_type: 'json', secret, url: expect.stringMatching(/\/hooks\/git$/) } });
    const created = await gitea.api('POST', `${repo.apiPath}/hooks`, { ...hook, config: { ...hook.config, url: `${regent.url}/hooks/git` } });
    expect(created.status, created.text).toBe(201);

    await repo.pushBranch('more', { 'rbac/more.rego': 'package rbac.more\n\nx := 1\n' }, 'More');
    const merged = await repo.mergePullRequest('more', 'More');
    await eventually(async () => (await regent.store.head()) === merged, 30_000);
    const admin = adminClient(regent, { sub: 'ada', role: 'admin', name: 'Ada Admin', email: 'ada@example.test' });
    const write = await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nenabled := true\n', message: 'Through Regent', baseRevision: merged });
    expect(write.status).toBe(201);
    expect(await repo.tip()).toBe(((await write.json()) as { revision: string }).revision);

    const logged = log.lines.join('');
    expect(logged).toContain('webhook accepted');
    for (const hidden of [token, Buffer.from(`${gitea.user}:${token}`).toString('base64'), secret]) expect(logged).not.toContain(hidden);
  });
});

interface ReadmeGiteaExample {
  tokenRequest: { name: unknown; scopes: unknown };
  webhookRequest(secret: string): { type: string; config: Record<string, unknown> };
  /** The variables its `export` line sets. */
  variables: string[];
}

/** The README's "A self-hosted Gitea" example: the request bodies and variables it uses, taken from its text. */
function readmeGiteaExample(): ReadmeGiteaExample {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const start = readme.indexOf('### A self-hosted Gitea');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))?.[1];
  if (start < 0 || block === undefined) throw new Error('the README has no "A self-hosted Gitea" section with a sh example');
  const tokenBody = /\/tokens" \\\n\s*-d '([^']+)'/.exec(block)?.[1];
  const hookBody = /\/hooks" \\\n\s*-d '([^']+)'"\$SECRET"'([^']+)'/.exec(block);
  const exported = /^export ((?:[^\n]*\\\n)*[^\n]*)$/m.exec(block)?.[1];
  if (!tokenBody || !hookBody || !exported) throw new Error('the README\'s Gitea example lost its token request, webhook request or export line');
  return {
    tokenRequest: JSON.parse(tokenBody) as ReadmeGiteaExample['tokenRequest'],
    webhookRequest: (secret) => JSON.parse(`${hookBody[1]}${secret}${hookBody[2]}`) as ReturnType<ReadmeGiteaExample['webhookRequest']>,
    variables: [...exported.matchAll(/(REGENT_[A-Z_]+)=/g)].map((match) => match[1]!),
  };
}

/** Replaces the (empty) repository's content with a new root commit on main, pushed by the developer. */
async function giteaHistoryFrom(repo: GiteaRepository, message: string): Promise<string> {
  await repo.git(['checkout', '--quiet', '--orphan', 'fresh']);
  await repo.developer.commit({ 'README.md': 'a new history\n' }, message);
  await repo.git(['push', '--quiet', 'origin', 'HEAD:main']);
  return (await repo.git(['rev-parse', 'HEAD'])).trim();
}

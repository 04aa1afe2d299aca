import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { startRegent } from '../../src/main.js';
import { adminClient } from '../helpers/admin-client.js';
import { startGitea, type Gitea } from '../helpers/gitea.js';
import { giteaPoliciesRepository } from '../helpers/gitea-repository.js';
import { eventually } from '../helpers/opa-agent.js';
import { opaPath } from '../helpers/opa-path.js';
import { capturingLogger, startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

const NEVER = '0 0 1 1 *';

let gitea: Gitea;
beforeAll(async () => {
  gitea = await startGitea({ protocol: 'http' });
}, 180_000);
afterAll(async () => {
  await gitea?.stop();
});

/** Starts a Regent on `remote` and returns how start-up ended: the error it refused with, or undefined. */
async function startUpError(remote: Record<string, unknown>): Promise<unknown> {
  const dataDir = tempDirForTest('regent-data-');
  try {
    const config = loadConfig({ env: {}, overrides: { dev: true, host: '127.0.0.1', port: 0, dataDir, opa: { path: opaPath() }, remote: { syncSchedule: NEVER, ...remote } } });
    const regent = await startRegent(config, pino({ level: 'silent' }));
    await regent.close();
    return undefined;
  } catch (error) {
    // Refused before anything was set up: no store was cloned.
    expect(existsSync(join(dataDir, 'store.git'))).toBe(false);
    return error;
  }
}

describe('a Gitea over plain http', () => {
  test('remote.allowInsecureHttp lets Regent mirror and push to it on loopback with its token: a warning at start-up, mirror.insecureHttp in /status', async () => {
    const repo = await giteaPoliciesRepository(gitea, 'policies-http');
    expect(repo.cloneUrl.startsWith('http://127.0.0.1:')).toBe(true);
    const secret = randomBytes(24).toString('hex');
    const log = capturingLogger();
    const regent = await startTestRegent({
      logger: log.logger,
      config: { remote: { url: repo.cloneUrl, allowInsecureHttp: true, token: gitea.token, tokenUsername: gitea.user, webhookSecret: secret, syncSchedule: NEVER, fetchTimeoutMs: 20_000 } },
    });
    expect(await regent.store.head()).toBe(await repo.tip());
    const warning = log.records().find((record) => record.level === 40 && String(record.msg).includes('remote.allowInsecureHttp'));
    expect(warning).toMatchObject({ remote: repo.cloneUrl, token: true });
    const status = async () => ((await (await fetch(`${regent.url}/status`)).json()) as { mirror: { state: string; insecureHttp: boolean; url: string } }).mirror;
    expect(await status()).toMatchObject({ state: 'fresh', insecureHttp: true, url: repo.cloneUrl });

    await repo.addWebhook(`${regent.url}/hooks/git`, secret);
    await repo.pushBranch('more', { 'rbac/more.rego': 'package rbac.more\n\nx := 1\n' }, 'More over http');
    const merged = await repo.mergePullRequest('more', 'More over http');
    await eventually(async () => (await regent.store.head()) === merged, 30_000, () => gitea.logs().slice(-1500));

    const admin = adminClient(regent, { sub: 'ada', role: 'admin', name: 'Ada Admin', email: 'ada@example.test' });
    const write = await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nenabled := true\n', message: 'Pushed over http', baseRevision: merged });
    expect(write.status).toBe(201);
    expect(await repo.tip()).toBe(((await write.json()) as { revision: string }).revision);
  });

  test('without remote.allowInsecureHttp an http remote is refused at start-up', async () => {
    const repo = await giteaPoliciesRepository(gitea, 'policies-refused');
    const error = await startUpError({ url: repo.cloneUrl });
    expect(error).toMatchObject({ code: 'invalid_remote_url', details: { field: 'remote.url' }, message: expect.stringContaining('remote.allowInsecureHttp') });
  });

  test('a token for an http host that is not loopback is refused at start-up, naming the keys', async () => {
    const url = 'http://gitea.example.test/alice/policies.git';
    const error = await startUpError({ url, allowInsecureHttp: true, token: gitea.token, tokenUsername: gitea.user });
    expect(error).toMatchObject({ code: 'insecure_remote_token', details: { field: 'remote.allowTokenOverInsecureHttp' } });
    expect((error as Error).message).toMatch(/remote\.token.*remote\.allowInsecureHttp.*remote\.allowTokenOverInsecureHttp/);
    expect((error as Error).message).not.toContain(gitea.token);
  });
});

/**
 * Remote-mode latency: a merge lands on the Git host (a real bare repository; a developer clone pushes)
 * -> the decision changes in a real OPA agent long-polling Regent. Two paths, each with its own Regent
 * (in-process, remote mode, example policies):
 *
 * - webhook: cron once a year; after each push a GitHub-signed `POST /hooks/git` asks for the fetch;
 * - cron: no webhook; `remote.syncSchedule` every second (`* * * * * *`), so the expected wait for the
 *   tick alone is ~0.5 s on top of the sync.
 *
 * t0 = the developer's `git push` has returned (the merge is on the remote). A worker thread queries the
 * agent's `/v1/data/rbac/allow` every 2 ms until it answers the new value. Run by hand:
 *
 *   node --import tsx bench/remote-sync-bench.ts [--merges 20] [--paths webhook,cron]
 */
import { createHmac, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load-config.js';
import { publicKeyPem } from '../src/domain/bundles/signing-key.js';
import { startRegent } from '../src/main.js';
import {
  arg, EXAMPLE_POLICIES, fmtMs, freePort, median, nowAbs, onCleanup, opaBinary, percentile, printTable, runBenchmark, SetupError, sleep, spawnChild, waitFor, workDir,
} from './lib/harness.js';

const MERGES = Number(arg('merges', '20'));
const PATHS = arg('paths', 'webhook,cron').split(',');
const SECRET = 'bench-webhook-secret-0123456789';
const SUBJECT = 'bench-remote';
const INPUT = { subject: SUBJECT, action: 'view', resource: { type: 'workflow', project: 'apollo' } };
const ROUND_TIMEOUT_MS = 30_000;
const execFileAsync = promisify(execFile);

const POLLER = `
const { parentPort } = require('node:worker_threads');
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
parentPort.on('message', async ({ round, expected, url, input, timeoutMs }) => {
  const body = JSON.stringify({ input });
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    const response = await fetch(url + '/v1/data/rbac/allow', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }).catch(() => undefined);
    const value = response && response.ok ? (await response.json()).result : undefined;
    if (value === expected) return parentPort.postMessage({ round, at: now() });
    await sleep(2);
  }
  parentPort.postMessage({ round, at: NaN });
});
`;

async function gitIn(cwd: string, args: string[]): Promise<string> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'dev@example.com' };
  return (await execFileAsync('git', args, { cwd, env })).stdout;
}

async function measurePath(path: string, work: string, opaPath: string): Promise<number[]> {
  // The Git host and the developer's clone.
  const remote = join(work, `${path}-remote.git`);
  const developer = join(work, `${path}-developer`);
  await gitIn(work, ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  cpSync(EXAMPLE_POLICIES, developer, { recursive: true });
  await gitIn(developer, ['init', '--quiet', '--initial-branch=main']);
  await gitIn(developer, ['add', '--all']);
  await gitIn(developer, ['commit', '--quiet', '-m', 'Initial policies']);
  await gitIn(developer, ['push', '--quiet', remote, 'HEAD:main']);

  const config = loadConfig({
    env: {},
    overrides: {
      dev: true, host: '127.0.0.1', port: 0, dataDir: join(work, `${path}-data`), store: { watchIntervalMs: 200 }, opa: { path: opaPath },
      remote: { url: remote, webhookSecret: SECRET, syncSchedule: path === 'cron' ? '* * * * * *' : '0 0 1 1 *' },
    },
  });
  const regent = await startRegent(config, pino({ level: 'warn' }));
  onCleanup(() => regent.close());

  const port = await freePort();
  const agentConfig = {
    services: { regent: { url: regent.url } },
    bundles: { rbac: { service: 'regent', resource: 'bundles/rbac', signing: { keyid: regent.signingKey.key.keyId }, polling: { min_delay_seconds: 60, max_delay_seconds: 120, long_polling_timeout_seconds: 30 } } },
    keys: { [regent.signingKey.key.keyId]: { algorithm: regent.signingKey.key.algorithm, key: publicKeyPem(regent.signingKey.key) } },
  };
  const configPath = join(work, `${path}-agent.yaml`);
  writeFileSync(configPath, stringify(agentConfig));
  const agent = spawnChild(opaPath, ['run', '-s', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', '-c', configPath], { cwd: work, keepOutputBytes: 100_000 });
  onCleanup(() => {
    agent.process.kill('SIGKILL');
  });
  const agentUrl = `http://127.0.0.1:${port}`;
  await waitFor('agent activating rbac', async () => {
    if (agent.process.exitCode !== null) throw new SetupError(`OPA exited:\n${agent.output().slice(-2000)}`);
    return (await fetch(`${agentUrl}/health?bundles`).catch(() => undefined))?.status === 200;
  }, 30_000);
  await waitFor('agent holding a long poll', async () => ((await (await fetch(`${regent.url}/status`)).json()) as { longPollWaiters: number }).longPollWaiters >= 1, 10_000);

  const poller = new Worker(POLLER, { eval: true });
  onCleanup(() => poller.terminate().then(() => undefined));
  const seed = JSON.parse(readFileSync(join(EXAMPLE_POLICIES, 'rbac', 'data.json'), 'utf8')) as { users: Record<string, unknown>; assignments: Record<string, unknown> };
  const samples: number[] = [];
  for (let round = 1; round <= MERGES; round++) {
    const allowed = round % 2 === 1;
    const data = structuredClone(seed);
    data.users[SUBJECT] = { active: true };
    if (allowed) data.assignments[SUBJECT] = [{ role: 'viewer', project: 'apollo' }];
    writeFileSync(join(developer, 'rbac', 'data.json'), `${JSON.stringify(data, null, 2)}\n`);
    await gitIn(developer, ['commit', '--quiet', '-am', `Merge pull request #${round}`]);
    const flipped = new Promise<number>((resolve) => poller.once('message', (message: { at: number }) => resolve(message.at)));
    await gitIn(developer, ['push', '--quiet', remote, 'HEAD:main']);
    const t0 = nowAbs();
    poller.postMessage({ round, expected: allowed, url: agentUrl, input: INPUT, timeoutMs: ROUND_TIMEOUT_MS });
    if (path === 'webhook') {
      const body = JSON.stringify({ ref: 'refs/heads/main', after: (await gitIn(developer, ['rev-parse', 'HEAD'])).trim() });
      const response = await fetch(`${regent.url}/hooks/git`, {
        method: 'POST', body,
        headers: { 'Content-Type': 'application/json', 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` },
      });
      if (response.status !== 202) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
    }
    const at = await flipped;
    if (!Number.isFinite(at)) throw new Error(`${path} round ${round}: the agent did not flip within ${ROUND_TIMEOUT_MS} ms; status ${JSON.stringify(await (await fetch(`${regent.url}/status`)).json())}`);
    samples.push(at - t0);
    process.stdout.write(`${path} merge ${String(round).padStart(2)}: ${fmtMs(at - t0)}\n`);
    await regent.activation.idle();
    await sleep(path === 'cron' ? 150 + Math.random() * 700 : 250);
  }
  await poller.terminate();
  agent.process.kill('SIGKILL');
  await regent.close();
  return samples;
}

runBenchmark('remote-sync-bench: merge on the Git host -> decision changed in a long-polling OPA agent', async () => {
  const opaPath = opaBinary();
  const work = workDir('remote-sync');
  const rows: string[][] = [];
  for (const path of PATHS) {
    if (path !== 'webhook' && path !== 'cron') throw new SetupError(`unknown path '${path}' (webhook, cron)`);
    const samples = await measurePath(path, work, opaPath);
    rows.push([`${path}: push returned -> agent answers new decision`, String(samples.length), fmtMs(median(samples)), fmtMs(percentile(samples, 99)), fmtMs(Math.max(...samples))]);
  }
  console.log(`\n${MERGES} merges per path, 1 agent (long_polling_timeout_seconds 30, min/max delay 60/120 s); bare remote on local disk; Regent in-process\n`);
  printTable(['measure', 'n', 'p50', 'p99', 'max'], rows);
});

/**
 * A pull request merged in a real Gitea (1.27.3, https with its own certificate, sqlite, channel queue, on
 * this machine) -> the decision changes in a real OPA agent long-polling Regent. Webhook path only: Regent's
 * cron is off, Gitea's own `gitea` webhook (signed with the secret) is what asks for the fetch, which runs
 * over https trusting Gitea's certificate through `remote.caFile`.
 *
 * Per merge: a developer pushes a branch flipping one user's role, opens a pull request through Gitea's API
 * and waits until Gitea has checked it (mergeable) and Regent has handled the branch push's own webhook.
 * t0 = just before `POST /repos/{owner}/{repo}/pulls/{n}/merge`. Split with:
 * - merge answered: Gitea's merge call returned (the merge commit is on main);
 * - webhook arrived: Regent logged the accepted delivery (Gitea's delivery: its queue plus the HTTP request);
 * - head moved: Regent's fetch fast-forwarded the branch;
 * - agent flipped: a worker thread queries the agent's `/v1/data/rbac/allow` every 2 ms.
 *
 * Run by hand (it builds Gitea into the tools cache first if needed):
 *
 *   npm run bench:gitea -- [--merges 20]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load-config.js';
import { publicKeyPem } from '../src/domain/bundles/signing-key.js';
import { startRegent } from '../src/main.js';
import { startGitea, type Gitea } from '../test/helpers/gitea.js';
import {
  arg, EXAMPLE_POLICIES, fmtMs, freePort, median, nowAbs, onCleanup, opaBinary, percentile, printTable, runBenchmark, SetupError, sleep, spawnChild, trackRegentMoments, waitFor, workDir,
} from './lib/harness.js';

const MERGES = Number(arg('merges', '20'));
const SUBJECT = 'bench-gitea';
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

function developerGit(gitea: Gitea, cwd: string) {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'dev@example.com', ...gitea.developerEnv,
  };
  return async (args: string[]): Promise<string> => (await execFileAsync('git', args, { cwd, env })).stdout;
}

runBenchmark('gitea-bench: pull request merged in Gitea -> decision changed in a long-polling OPA agent (webhook path)', async () => {
  const opaPath = opaBinary();
  const work = workDir('gitea');
  let gitea: Gitea;
  try {
    gitea = await startGitea();
  } catch (error) {
    throw new SetupError((error as Error).message);
  }
  onCleanup(() => gitea.stop());
  const cloneUrl = await gitea.createRepository('policies');
  const apiPath = `/repos/${gitea.user}/policies`;
  const developer = join(work, 'developer');
  cpSync(EXAMPLE_POLICIES, developer, { recursive: true });
  const git = developerGit(gitea, developer);
  await git(['init', '--quiet', '--initial-branch=main']);
  await git(['add', '--all']);
  await git(['commit', '--quiet', '-m', 'Initial policies']);
  await git(['remote', 'add', 'origin', gitea.developerUrl('policies')]);
  await git(['push', '--quiet', 'origin', 'HEAD:main']);

  // Regent in-process; every accepted webhook is timestamped as its log line is written.
  const webhookArrivals: number[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      if (String(chunk).includes('"webhook accepted; sync requested"')) webhookArrivals.push(nowAbs());
      done();
    },
  });
  const secret = randomBytes(24).toString('hex');
  const config = loadConfig({
    env: {},
    overrides: {
      dev: true, host: '127.0.0.1', port: 0, dataDir: join(work, 'data'), store: { watchIntervalMs: 200 }, opa: { path: opaPath },
      remote: { url: cloneUrl, token: gitea.token, tokenUsername: gitea.user, caFile: gitea.caFile, webhookSecret: secret, syncSchedule: '0 0 1 1 *' },
    },
  });
  const regent = await startRegent(config, pino({ level: 'info' }, sink));
  onCleanup(() => regent.close());
  const moments = trackRegentMoments(regent);
  const hook = await gitea.api('POST', `${apiPath}/hooks`, { type: 'gitea', active: true, events: ['push'], config: { url: `${regent.url}/hooks/git`, content_type: 'json', secret } });
  if (hook.status !== 201) throw new SetupError(`creating the webhook answered ${hook.status}: ${hook.text}`);

  const port = await freePort();
  const agentConfig = {
    services: { regent: { url: regent.url } },
    bundles: { rbac: { service: 'regent', resource: 'bundles/rbac', signing: { keyid: regent.signingKey.key.keyId }, polling: { min_delay_seconds: 60, max_delay_seconds: 120, long_polling_timeout_seconds: 30 } } },
    keys: { [regent.signingKey.key.keyId]: { algorithm: regent.signingKey.key.algorithm, key: publicKeyPem(regent.signingKey.key) } },
  };
  const configPath = join(work, 'agent.yaml');
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
  const rows: Array<{ total: number; mergeCall: number; delivery: number; fetch: number; rest: number }> = [];
  for (let round = 1; round <= MERGES; round++) {
    const allowed = round % 2 === 1;
    const branch = `pr-${round}`;
    await git(['fetch', '--quiet', 'origin', 'main']);
    await git(['checkout', '--quiet', '-B', branch, 'origin/main']);
    const data = structuredClone(seed);
    data.users[SUBJECT] = { active: true };
    if (allowed) data.assignments[SUBJECT] = [{ role: 'viewer', project: 'apollo' }];
    writeFileSync(join(developer, 'rbac', 'data.json'), `${JSON.stringify(data, null, 2)}\n`);
    await git(['commit', '--quiet', '-am', `Flip ${SUBJECT} (${round})`]);
    const arrivalsBefore = webhookArrivals.length;
    await git(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`]);
    const opened = await gitea.api('POST', `${apiPath}/pulls`, { head: branch, base: 'main', title: `Flip ${SUBJECT} (${round})` });
    if (opened.status !== 201) throw new Error(`opening pull request ${round} answered ${opened.status}: ${opened.text}`);
    const number = opened.body.number as number;
    // Quiet before t0: Gitea has checked the pull request, and the branch push's own webhook has been handled.
    await waitFor(`pull request ${number} mergeable`, async () => (await gitea.api('GET', `${apiPath}/pulls/${number}`)).body?.mergeable === true, 30_000, 100);
    await waitFor('the branch push\'s webhook', async () => webhookArrivals.length > arrivalsBefore, 30_000, 20);
    await waitFor('Regent idle', async () => {
      const { mirror } = (await (await fetch(`${regent.url}/status`)).json()) as { mirror: { syncs: { inFlight: boolean; queued: boolean } } };
      return !mirror.syncs.inFlight && !mirror.syncs.queued;
    }, 30_000, 20);
    await regent.activation.idle();
    await sleep(200);

    const arrivalsAtT0 = webhookArrivals.length;
    const flipped = new Promise<number>((resolve) => poller.once('message', (message: { at: number }) => resolve(message.at)));
    const t0 = nowAbs();
    poller.postMessage({ round, expected: allowed, url: agentUrl, input: INPUT, timeoutMs: ROUND_TIMEOUT_MS });
    const merged = await gitea.api('POST', `${apiPath}/pulls/${number}/merge`, { Do: 'merge' });
    const mergeAnswered = nowAbs();
    if (merged.status !== 200) throw new Error(`merging pull request ${number} answered ${merged.status}: ${merged.text}`);
    const at = await flipped;
    if (!Number.isFinite(at)) throw new Error(`round ${round}: the agent did not flip within ${ROUND_TIMEOUT_MS} ms; status ${JSON.stringify(await (await fetch(`${regent.url}/status`)).json())}`);
    const mergeSha = (await gitea.api('GET', `${apiPath}/pulls/${number}`)).body.merge_commit_sha as string;
    const arrived = webhookArrivals[arrivalsAtT0];
    const headMoved = moments.headMovedAt.get(mergeSha);
    if (arrived === undefined || headMoved === undefined) throw new Error(`round ${round}: no webhook arrival or head move recorded for ${mergeSha}`);
    rows.push({ total: at - t0, mergeCall: mergeAnswered - t0, delivery: arrived - t0, fetch: headMoved - arrived, rest: at - headMoved });
    process.stdout.write(`merge ${String(round).padStart(2)}: ${fmtMs(at - t0)} (webhook at ${fmtMs(arrived - t0)}, merge call ${fmtMs(mergeAnswered - t0)})\n`);
    await git(['checkout', '--quiet', '--detach', 'origin/main']);
  }
  await poller.terminate();

  const line = (name: string, values: number[]): string[] => [name, String(values.length), fmtMs(median(values)), fmtMs(percentile(values, 99)), fmtMs(Math.max(...values))];
  console.log(`\n${MERGES} pull requests merged through Gitea's API; 1 agent (long_polling_timeout_seconds 30, min/max delay 60/120 s); Gitea 1.27.3 https, sqlite, channel queue; Regent in-process, cron off\n`);
  printTable(['measure (from just before the merge call)', 'n', 'p50', 'p99', 'max'], [
    line('merge call -> agent answers the new decision', rows.map((row) => row.total)),
    line('merge call -> Gitea answered the merge', rows.map((row) => row.mergeCall)),
    line('merge call -> Gitea\'s webhook accepted by Regent', rows.map((row) => row.delivery)),
    line('Gitea answered the merge -> its webhook accepted by Regent (delivery)', rows.map((row) => row.delivery - row.mergeCall)),
    line('webhook accepted -> agent answers (Regent\'s share)', rows.map((row) => row.total - row.delivery)),
    line('webhook accepted -> head moved (fetch over https, CAS)', rows.map((row) => row.fetch)),
    line('head moved -> agent answers (gate, build, long poll, activation)', rows.map((row) => row.rest)),
  ]);
});

/**
 * Latency benchmark: commit -> decision flipped in real OPA agents that long-poll Regent. Regent runs
 * in-process (dev mode, the example policies); 3 `opa run -s` agents poll with
 * long_polling_timeout_seconds 30 and min/max delay 60/120 s, so only long polling explains a fast
 * update. Each commit toggles a new user's role in rbac/data.json; a worker thread queries every agent's
 * `/v1/data/rbac/allow` every 2 ms until it answers the new value. Run by hand:
 *
 *   node --import tsx bench/latency-bench.ts [--commits 20] [--agents 3]
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load-config.js';
import { publicKeyPem } from '../src/domain/bundles/signing-key.js';
import { startRegent } from '../src/main.js';
import {
  arg, type Child, EXAMPLE_POLICIES, fmtMs, freePort, median, nowAbs, onCleanup, opaBinary, percentile, printTable, runBenchmark, SetupError, sleep, spawnChild, trackRegentMoments, waitFor, workDir,
} from './lib/harness.js';

const COMMITS = Number(arg('commits', '20'));
const AGENTS = Number(arg('agents', '3'));
const ROUND_TIMEOUT_MS = 30_000;
const SUBJECT = 'bench-flip';
const INPUT = { subject: SUBJECT, action: 'view', resource: { type: 'workflow', project: 'apollo' } };

interface Activation {
  revision: string;
  at: number;
  snapshotMs: number;
  gateMs: number;
  buildMs: number;
  publishMs: number;
  totalMs: number;
}

/** Polls the agents off the main thread, so Regent's event loop only serves Regent. */
const POLLER = `
const { parentPort } = require('node:worker_threads');
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function query(url, body) {
  const response = await fetch(url + '/v1/data/rbac/allow', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  if (!response.ok) throw new Error('OPA answered ' + response.status);
  return (await response.json()).result;
}
parentPort.on('message', async ({ round, expected, agents, input, timeoutMs }) => {
  const body = JSON.stringify({ input });
  let started = 0;
  const deadline = now() + timeoutMs;
  const times = await Promise.all(agents.map(async (url) => {
    let first = true;
    while (now() < deadline) {
      const value = await query(url, body).catch(() => undefined);
      if (first) {
        first = false;
        if (++started === agents.length) parentPort.postMessage({ type: 'polling', round });
        if (value === expected) return -1;
      } else if (value === expected) {
        return now();
      }
      await sleep(2);
    }
    return NaN;
  }));
  parentPort.postMessage({ type: 'done', round, times });
});
`;

runBenchmark('latency-bench: commit -> decision flipped in long-polling OPA agents', async () => {
  const opaPath = opaBinary();
  const work = workDir('latency');

  // Regent in-process, logging to a stream we read for the activation timings.
  const activations = new Map<string, Activation>();
  const problems: string[] = [];
  const releases: Array<{ released: number; ms: number }> = [];
  const logger = pino({ level: 'info' }, {
    write(line: string): void {
      const at = nowAbs();
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === 'revision activated') {
        activations.set(entry.revision as string, { revision: entry.revision as string, at, snapshotMs: entry.snapshotMs as number, gateMs: entry.gateMs as number, buildMs: entry.buildMs as number, publishMs: entry.publishMs as number, totalMs: entry.totalMs as number });
      } else if (entry.msg === 'long-poll waiters released') {
        releases.push({ released: entry.released as number, ms: entry.ms as number });
      }
      if ((entry.level as number) >= 40 && !String(entry.msg).startsWith('development mode')) problems.push(line.trim());
    },
  });
  const config = loadConfig({
    env: {},
    overrides: { dev: true, host: '127.0.0.1', port: 0, dataDir: join(work, 'data'), store: { seedDir: EXAMPLE_POLICIES, watchIntervalMs: 200 }, opa: { path: opaPath } },
  });
  const regent = await startRegent(config, logger);
  onCleanup(() => regent.close());
  const { headMovedAt, publishedAt } = trackRegentMoments(regent);

  // Real agents, configured like test/helpers/opa-agent.ts.
  const agentUrls: string[] = [];
  const agents: Child[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const port = await freePort();
    const config = {
      services: { regent: { url: regent.url } },
      bundles: { rbac: { service: 'regent', resource: 'bundles/rbac', signing: { keyid: regent.signingKey.key.keyId }, polling: { min_delay_seconds: 60, max_delay_seconds: 120, long_polling_timeout_seconds: 30 } } },
      keys: { [regent.signingKey.key.keyId]: { algorithm: regent.signingKey.key.algorithm, key: publicKeyPem(regent.signingKey.key) } },
    };
    const configPath = join(work, `agent-${i}.yaml`);
    writeFileSync(configPath, stringify(config));
    const agent = spawnChild(opaPath, ['run', '-s', '--addr', `127.0.0.1:${port}`, '--log-level', 'info', '--log-format', 'json', '-c', configPath], { cwd: work, keepOutputBytes: 200_000 });
    agents.push(agent);
    agentUrls.push(`http://127.0.0.1:${port}`);
  }
  for (const [i, url] of agentUrls.entries()) {
    await waitFor(`agent ${i} activating the rbac bundle`, async () => {
      if (agents[i]!.process.exitCode !== null) throw new SetupError(`OPA agent ${i} exited:\n${agents[i]!.output().slice(-2000)}`);
      return (await fetch(`${url}/health?bundles`)).status === 200;
    }, 30_000);
  }
  // Give the agents a moment to send their first long poll.
  await waitFor('agents holding long polls', async () => {
    const status = (await (await fetch(`${regent.url}/status`)).json()) as { longPollWaiters: number };
    return status.longPollWaiters >= AGENTS;
  }, 10_000);

  const poller = new Worker(POLLER, { eval: true });
  onCleanup(() => poller.terminate().then(() => undefined));
  const messages: Array<{ type: string; round: number; times?: number[] }> = [];
  let wake: (() => void) | undefined;
  poller.on('message', (message: { type: string; round: number; times?: number[] }) => {
    messages.push(message);
    wake?.();
  });
  let pollerError: Error | undefined;
  poller.on('error', (error) => {
    pollerError = error;
    wake?.();
  });
  const next = async (type: string, round: number): Promise<{ times?: number[] }> => {
    for (;;) {
      if (pollerError) throw pollerError;
      const index = messages.findIndex((message) => message.type === type && message.round === round);
      if (index >= 0) return messages.splice(index, 1)[0]!;
      await new Promise<void>((resolveWake) => (wake = resolveWake));
    }
  };

  const seedData = JSON.parse(readFileSync(join(EXAMPLE_POLICIES, 'rbac', 'data.json'), 'utf8')) as { users: Record<string, unknown>; assignments: Record<string, unknown> };
  const author = { name: 'Bench', email: 'bench@example.com' };
  let head = (await regent.store.head())!;
  const rounds: Array<{ commitMs: number; activation?: Activation; headAt?: number; publishedAt?: number; t0: number; agentTimes: number[] }> = [];
  for (let round = 1; round <= COMMITS; round++) {
    const allowed = round % 2 === 1;
    const data = structuredClone(seedData);
    // A different tree every round (the user's display name carries the round), so no commit repeats an
    // earlier tree and the gate's verdict memory never answers for OPA.
    data.users[SUBJECT] = { active: true, name: `bench round ${round}` };
    if (allowed) data.assignments[SUBJECT] = [{ role: 'viewer', project: 'apollo' }];
    const content = Buffer.from(`${JSON.stringify(data, null, 2)}\n`);

    poller.postMessage({ round, expected: allowed, agents: agentUrls, input: INPUT, timeoutMs: ROUND_TIMEOUT_MS });
    await next('polling', round);
    const t0 = nowAbs();
    const committed = await regent.store.commit({ changes: [{ op: 'put', path: 'rbac/data.json', content }], message: `bench: ${SUBJECT} allowed=${allowed}`, author, expectedHead: head });
    const commitMs = nowAbs() - t0;
    head = committed.revision;
    const { times = [] } = await next('done', round);
    if (times.some((time) => time === -1)) throw new Error(`round ${round}: an agent already answered ${allowed} before the commit`);
    if (times.some((time) => !Number.isFinite(time))) {
      throw new Error(`round ${round}: not every agent flipped within ${ROUND_TIMEOUT_MS} ms; Regent status: ${JSON.stringify(regent.activation.status())}\nagent log tail:\n${agents[0]!.output().slice(-2000)}`);
    }
    await regent.activation.idle();
    rounds.push({ commitMs, activation: activations.get(head), headAt: headMovedAt.get(head), publishedAt: publishedAt.get(head), t0, agentTimes: times.map((time) => time - t0) });
    process.stdout.write(`commit ${String(round).padStart(2)}: ${times.map((time) => fmtMs(time - t0)).join(', ')}\n`);
    await sleep(250);
  }

  const samples = rounds.flatMap((r) => r.agentTimes);
  const complete = rounds.filter((r) => r.activation && r.headAt !== undefined && r.publishedAt !== undefined);
  const headMoved = complete.map((r) => r.headAt! - r.t0);
  const queued = complete.map((r) => r.activation!.at - r.activation!.totalMs - r.headAt!);
  const publishedToAgent = complete.flatMap((r) => r.agentTimes.map((ms) => ms - (r.publishedAt! - r.t0)));
  const field = (name: keyof Omit<Activation, 'revision' | 'at'>): number[] => complete.map((r) => r.activation![name]);
  const row = (label: string, values: number[]): string[] => [label, String(values.length), fmtMs(median(values)), fmtMs(percentile(values, 99)), fmtMs(Math.max(...values))];
  console.log(`\n${COMMITS} commits x ${AGENTS} agents (OPA ${opaPath.split('/').slice(-3).join('/')}, long_polling_timeout_seconds 30, min/max delay 60/120 s); example policies; Regent in-process\n`);
  printTable(['measure', 'n', 'p50', 'p99', 'max'], [
    row('commit call start -> agent answers new decision', samples),
    row('  store.commit call (whole)', rounds.map((r) => r.commitMs)),
    row('  1. commit call start -> head moved (git writes)', headMoved),
    row('  2. head moved -> activation starts (~0: synchronous)', queued),
    row('  3. activation totalMs (log)', field('totalMs')),
    row('       snapshotMs', field('snapshotMs')),
    row('       gateMs (OPA: compile with capabilities + tests)', field('gateMs')),
    row('       buildMs (until gate and build both done)', field('buildMs')),
    row('       publishMs (catalog swap + state save)', field('publishMs')),
    row('  4. catalog swapped (waiters released) -> agent answers', publishedToAgent),
  ]);
  if (complete.length < rounds.length) console.log(`(${rounds.length - complete.length} commits lack a head/publish/activation record: coalesced with a later head?)`);
  if (releases.length > 0) console.log(`long-poll releases logged: ${releases.length}, waiters per release ${median(releases.map((r) => r.released))} (median), release ms max ${Math.max(...releases.map((r) => r.ms))}`);
  console.log(problems.length > 0 ? `Regent logged ${problems.length} warnings/errors, first:\n${problems.slice(0, 3).join('\n')}` : 'Regent logged no warnings or errors besides the dev-key notice.');
});

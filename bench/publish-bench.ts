/**
 * Publishing to S3 and OCI sinks, against the real engines the tests use (the Versity S3 gateway, posix backend;
 * the CNCF distribution registry, filesystem storage; both on 127.0.0.1, installed by scripts/ensure-*.mjs).
 *
 * (1) Commit -> decision through each sink. Regent runs in-process with one S3 and one OCI sink; one real OPA
 *     agent pulls `bundle.tar.gz` from the gateway (`credentials.s3_signing`, environment credentials), another
 *     `<repository>/rbac:latest` from the registry (`type: oci`); both verify signatures and poll every second
 *     (`min_delay_seconds` = `max_delay_seconds` = 1, the shortest OPA allows; neither S3 nor OCI long-polls).
 *     Each commit flips a user's role in rbac/data.json; a worker thread queries both agents every 2 ms. Split
 *     with Regent's own moments: served (catalog swap), published to the sink (its log line), agent flipped.
 * (2) Publish time per sink for 1 MiB and 10 MiB bundles: the sink adapters alone (S3: PutObject of
 *     `<revision>.tar.gz` + server-side copy to `bundle.tar.gz`; OCI: blob upload + two manifest PUTs), fresh
 *     random (incompressible, like a gzip'd bundle) bytes and a new revision every run.
 *
 * Run by hand, on a quiet machine:
 *
 *   npm run bench:publish -- [--commits 20] [--runs 10]
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load-config.js';
import { publicKeyPem } from '../src/domain/bundles/signing-key.js';
import type { BundleSink } from '../src/domain/publishing/bundle-sink.js';
import { startRegent } from '../src/main.js';
import { OciBundleSink } from '../src/sinks/oci-bundle-sink.js';
import { S3BundleSink } from '../src/sinks/s3-bundle-sink.js';
import { startOciRegistry, startS3Gateway } from '../test/helpers/sink-engines.js';
import {
  arg, EXAMPLE_POLICIES, fmtMs, freePort, median, nowAbs, onCleanup, opaBinary, percentile, printTable, runBenchmark, SetupError, sleep, spawnChild, trackRegentMoments, waitFor, workDir,
} from './lib/harness.js';

const COMMITS = Number(arg('commits', '20'));
const RUNS = Number(arg('runs', '10'));
const SUBJECT = 'bench-publish';
const INPUT = { subject: SUBJECT, action: 'view', resource: { type: 'workflow', project: 'apollo' } };
const ROUND_TIMEOUT_MS = 30_000;
const BUCKET = 'bundles';

/** Queries every agent off the main thread until each answers `expected`; posts the absolute times. */
const POLLER = `
const { parentPort } = require('node:worker_threads');
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
parentPort.on('message', async ({ round, expected, agents, input, timeoutMs }) => {
  const body = JSON.stringify({ input });
  const deadline = now() + timeoutMs;
  const times = await Promise.all(agents.map(async (url) => {
    while (now() < deadline) {
      const response = await fetch(url + '/v1/data/rbac/allow', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }).catch(() => undefined);
      const value = response && response.ok ? (await response.json()).result : undefined;
      if (value === expected) return now();
      await sleep(2);
    }
    return NaN;
  }));
  parentPort.postMessage({ round, times });
});
`;

runBenchmark('publish-bench: commit -> decision through S3 and OCI sinks; publish time per sink', async () => {
  console.log(`load average at start (1/5/15 min): ${loadavg().map((value) => value.toFixed(2)).join(' / ')}\n`);
  const opaPath = opaBinary();
  const work = workDir('publish');
  const [gateway, registry] = await Promise.all([startS3Gateway(), startOciRegistry()]).catch((error: Error) => {
    throw new SetupError(error.message);
  });
  onCleanup(() => gateway.dispose());
  onCleanup(() => registry.dispose());
  await gateway.createBucket(BUCKET);
  const passwordFile = join(work, 'registry-password');
  writeFileSync(passwordFile, registry.password, { mode: 0o600 });
  const credentialsFile = join(work, 'aws-credentials');
  writeFileSync(credentialsFile, `[default]\naws_access_key_id = ${gateway.accessKeyId}\naws_secret_access_key = ${gateway.secretAccessKey}\n`, { mode: 0o600 });

  // Regent in-process; every "bundles published to sink" line is timestamped as it is written.
  const sinkPublishedAt = new Map<string, number>();
  const logger = pino({ level: 'info' }, {
    write(line: string): void {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === 'bundles published to sink' && entry.environment === undefined) sinkPublishedAt.set(`${entry.sink as string}@${entry.revision as string}`, nowAbs());
      if ((entry.level as number) >= 40 && !String(entry.msg).startsWith('development mode')) process.stderr.write(line);
    },
  });
  const config = loadConfig({
    env: {},
    overrides: {
      dev: true, host: '127.0.0.1', port: 0, dataDir: join(work, 'data'), store: { seedDir: EXAMPLE_POLICIES, watchIntervalMs: 200 }, opa: { path: opaPath },
      publish: {
        retryInitialMs: 200, retryMaxMs: 1000,
        s3: [{ name: 's3', endpoint: gateway.endpoint, region: gateway.region, bucket: BUCKET, prefix: 'regent', forcePathStyle: true, credentialsFile }],
        oci: [{ name: 'oci', registry: registry.registry, repository: 'regent', insecure: true, username: registry.username, passwordFile }],
      },
    },
  });
  const regent = await startRegent(config, logger);
  onCleanup(() => regent.close());
  const { publishedAt } = trackRegentMoments(regent);
  const first = (await regent.store.head())!;
  await waitFor('both sinks holding the first revision', async () => regent.publishing.status().every((sink) => sink.lastPublished?.revision === first), 30_000);

  const keyId = regent.signingKey.key.keyId;
  const key = { [keyId]: { algorithm: regent.signingKey.key.algorithm, key: publicKeyPem(regent.signingKey.key) } };
  const polling = { min_delay_seconds: 1, max_delay_seconds: 1 };
  const agents = [
    {
      name: 's3',
      config: {
        services: { s3: { url: `${gateway.endpoint}/${BUCKET}`, credentials: { s3_signing: { environment_credentials: {} } } } },
        bundles: { rbac: { service: 's3', resource: 'regent/rbac/bundle.tar.gz', signing: { keyid: keyId }, polling } },
        keys: key,
      },
      env: { AWS_ACCESS_KEY_ID: gateway.accessKeyId, AWS_SECRET_ACCESS_KEY: gateway.secretAccessKey, AWS_REGION: gateway.region },
    },
    {
      name: 'oci',
      config: {
        services: { oci: { url: `http://${registry.registry}`, type: 'oci', credentials: { bearer: { scheme: 'Basic', token: `${registry.username}:${registry.password}` } } } },
        bundles: { rbac: { service: 'oci', resource: `${registry.registry}/regent/rbac:latest`, signing: { keyid: keyId }, polling } },
        keys: key,
        persistence_directory: join(work, 'oci-agent'),
      },
      env: {},
    },
  ];
  const agentUrls: string[] = [];
  for (const agent of agents) {
    const port = await freePort();
    const configPath = join(work, `agent-${agent.name}.yaml`);
    writeFileSync(configPath, stringify(agent.config));
    const child = spawnChild(opaPath, ['run', '-s', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', '-c', configPath], { cwd: work, env: { ...process.env, ...agent.env }, keepOutputBytes: 100_000 });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`the ${agent.name} agent activating rbac`, async () => {
      if (child.process.exitCode !== null) throw new SetupError(`OPA (${agent.name}) exited:\n${child.output().slice(-2000)}`);
      return (await fetch(`${url}/health?bundles`).catch(() => undefined))?.status === 200;
    }, 30_000);
    agentUrls.push(url);
  }

  const poller = new Worker(POLLER, { eval: true });
  onCleanup(() => poller.terminate().then(() => undefined));
  const seed = JSON.parse(readFileSync(join(EXAMPLE_POLICIES, 'rbac', 'data.json'), 'utf8')) as { users: Record<string, unknown>; assignments: Record<string, unknown> };
  const rows = agents.map(() => [] as Array<{ total: number; served: number; published: number; pulled: number }>);
  for (let round = 1; round <= COMMITS; round++) {
    const allowed = round % 2 === 1;
    const data = structuredClone(seed);
    data.users[SUBJECT] = { active: true };
    if (allowed) data.assignments[SUBJECT] = [{ role: 'viewer', project: 'apollo' }];
    await regent.activation.idle();
    // A random pause, so commits do not fall in step with the agents' one-second polls.
    await sleep(200 + Math.random() * 1000);
    const done = new Promise<number[]>((resolve) => poller.once('message', (message: { times: number[] }) => resolve(message.times)));
    const t0 = nowAbs();
    poller.postMessage({ round, expected: allowed, agents: agentUrls, input: INPUT, timeoutMs: ROUND_TIMEOUT_MS });
    const head = (await regent.store.head())!;
    const { revision } = await regent.store.commit({
      changes: [{ op: 'put', path: 'rbac/data.json', content: Buffer.from(JSON.stringify(data, null, 2)) }],
      message: `Flip ${SUBJECT} (${round})`, author: { name: 'Bench', email: 'bench@example.test' }, expectedHead: head,
    });
    const times = await done;
    const served = publishedAt.get(revision);
    const line: string[] = [];
    agents.forEach((agent, index) => {
      const at = times[index]!;
      const published = sinkPublishedAt.get(`${agent.name}@${revision}`);
      if (!Number.isFinite(at) || served === undefined || published === undefined) {
        throw new Error(`round ${round}: ${agent.name} did not flip within ${ROUND_TIMEOUT_MS} ms (served ${served}, published ${published}); sinks ${JSON.stringify(regent.publishing.status())}`);
      }
      rows[index]!.push({ total: at - t0, served: served - t0, published: published - served, pulled: at - published });
      line.push(`${agent.name} ${fmtMs(at - t0)}`);
    });
    process.stdout.write(`commit ${String(round).padStart(2)}: ${line.join(', ')}\n`);
  }
  await poller.terminate();

  const stat = (name: string, values: number[]): string[] => [name, String(values.length), fmtMs(median(values)), fmtMs(percentile(values, 99)), fmtMs(Math.max(...values))];
  console.log(`\n${COMMITS} commits (store.commit, rbac/data.json); one agent per sink, polling every 1 s (min = max delay), signatures verified; Regent in-process\n`);
  printTable(['measure (from the start of the commit)', 'n', 'p50', 'p99', 'max'], agents.flatMap((agent, index) => {
    const data = rows[index]!;
    return [
      stat(`${agent.name}: commit -> agent answers the new decision`, data.map((row) => row.total)),
      stat(`${agent.name}:   commit -> served by Regent (catalog swap)`, data.map((row) => row.served)),
      stat(`${agent.name}:   served -> both bundles published to the sink`, data.map((row) => row.published)),
      stat(`${agent.name}:   published -> agent answers (its next poll, download, verify, activate)`, data.map((row) => row.pulled)),
    ];
  }));

  // (2) The sink adapters alone, 1 MiB and 10 MiB.
  const sinks: BundleSink[] = [
    S3BundleSink.create({ name: 's3', endpoint: gateway.endpoint, region: gateway.region, bucket: BUCKET, prefix: 'bench', forcePathStyle: true, credentials: { accessKeyId: gateway.accessKeyId, secretAccessKey: gateway.secretAccessKey }, timeoutMs: 120_000 }),
    OciBundleSink.create({ name: 'oci', registry: registry.registry, repository: 'bench', insecure: true, credentials: { username: registry.username, password: registry.password } }),
  ];
  const sizeRows: string[][] = [];
  for (const mib of [1, 10]) {
    for (const sink of sinks) {
      const times: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const bytes = randomBytes(mib * 1024 * 1024);
        const revision = createHash('sha1').update(bytes).digest('hex');
        const started = performance.now();
        await sink.publish({ path: `size-${mib}m`, revision, bytes, sha256: createHash('sha256').update(bytes).digest('hex') }, AbortSignal.timeout(120_000));
        times.push(performance.now() - started);
      }
      sizeRows.push([`${sink.kind} (${sink.target})`, `${mib} MiB`, String(RUNS), fmtMs(median(times)), fmtMs(percentile(times, 99)), `${((mib * 1024 * 1024) / (median(times) / 1000) / 1024 / 1024).toFixed(0)} MiB/s`]);
    }
  }
  for (const sink of sinks) if (sink instanceof S3BundleSink) sink.close();
  console.log(`\npublish time of one bundle per sink (upload under its revision, then "latest"), ${RUNS} runs each, fresh random bytes every run\n`);
  printTable(['sink', 'bundle', 'runs', 'p50', 'p99', 'throughput (p50)'], sizeRows);
  console.log(`load average at end (1/5/15 min): ${loadavg().map((value) => value.toFixed(2)).join(' / ')}`);
});

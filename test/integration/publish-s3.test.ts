import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readTarball } from '../../src/domain/bundles/tarball-reader.js';
import { writeTarball } from '../../src/domain/bundles/tarball-writer.js';
import { git } from '../helpers/git-repo.js';
import { agentOptionsFor, eventually, startOpaAgent, startOpaAgentFromFile } from '../helpers/opa-agent.js';
import { awaitPublished, deleteOnApollo, grantAdmin, manifestRevision, secretFile, servedRevision, sinksOf } from '../helpers/publishing.js';
import { startS3Gateway, type S3Gateway } from '../helpers/sink-engines.js';
import { startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

const BUCKET = 'bundles';
const PROJECT_ROOT = join(import.meta.dirname, '..', '..');
let gateway: S3Gateway;

beforeAll(async () => {
  gateway = await startS3Gateway();
  await gateway.createBucket(BUCKET);
});

afterAll(async () => {
  await gateway?.dispose();
});

/** A Regent publishing to the gateway under its own prefix, with credentials from a 0600 file. */
async function regentPublishingToS3(config: Record<string, unknown> = {}) {
  const prefix = `regent-${randomBytes(4).toString('hex')}`;
  const credentialsFile = secretFile('aws-credentials', `[default]\naws_access_key_id = ${gateway.accessKeyId}\naws_secret_access_key = ${gateway.secretAccessKey}\n`);
  const regent = await startTestRegent({
    config: {
      publish: {
        retryInitialMs: 100, retryMaxMs: 400, timeoutMs: 5000,
        s3: [{ name: 'bucket', endpoint: gateway.endpoint, region: gateway.region, bucket: BUCKET, prefix, forcePathStyle: true, credentialsFile }],
      },
      ...config,
    },
  });
  const object = async (key: string): Promise<Buffer | undefined> => {
    try {
      const answer = await gateway.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${key}` }));
      return Buffer.from(await answer.Body!.transformToByteArray());
    } catch {
      return undefined;
    }
  };
  return { regent, prefix, object };
}

/** A real OPA agent reading `<prefix>/<bundle>/bundle.tar.gz` from the gateway with `s3_signing` (environment credentials). */
async function s3Agent(regent: Awaited<ReturnType<typeof startTestRegent>>, prefix: string) {
  const agent = await startOpaAgent({
    ...agentOptionsFor(regent, `${gateway.endpoint}/${BUCKET}`),
    longPollSeconds: undefined,
    minDelaySeconds: 1,
    maxDelaySeconds: 1,
    service: { credentials: { s3_signing: { environment_credentials: {} } } },
    resourceFor: (bundle) => `${prefix}/${bundle}/bundle.tar.gz`,
    env: { AWS_ACCESS_KEY_ID: gateway.accessKeyId, AWS_SECRET_ACCESS_KEY: gateway.secretAccessKey, AWS_REGION: gateway.region },
  });
  await agent.waitUntilReady();
  return agent;
}

describe('publishing to S3-compatible storage (a real Versity S3 gateway)', () => {
  test('a commit reaches a real OPA agent pulling from the bucket with s3_signing, signature verified; unchanged objects answer 304 to its ETag', async () => {
    const { regent, prefix, object } = await regentPublishingToS3();
    const first = (await regent.store.head())!;
    await awaitPublished(regent, 'bucket', first);
    const agent = await s3Agent(regent, prefix);
    expect(await agent.activeRevision('rbac')).toBe(first);
    expect(await agent.query('rbac/allow', deleteOnApollo('heidi'))).toBe(false);

    // The object named for the revision and "latest" hold exactly the bytes Regent serves.
    const served = Buffer.from(await (await fetch(`${regent.url}/bundles/rbac`)).arrayBuffer());
    expect((await object(`rbac/${first}.tar.gz`))?.equals(served)).toBe(true);
    expect((await object('rbac/bundle.tar.gz'))?.equals(served)).toBe(true);
    const head = await gateway.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}/rbac/${first}.tar.gz` }));
    expect(head.Metadata).toMatchObject({ 'regent-revision': first });

    const second = await grantAdmin(regent, 'heidi');
    await eventually(async () => (await agent.activeRevision('rbac')) === second, 20_000, () => agent.logs().slice(-3000));
    expect(await agent.query('rbac/allow', deleteOnApollo('heidi'))).toBe(true);
    await eventually(async () => (await agent.activeRevision('datasets')) === second, 20_000, () => agent.logs().slice(-3000));
    // Polling once a second, the agent sends the gateway's ETag back and gets 304 while nothing changes.
    await eventually(async () => /"status":"304 Not Modified"/.test(agent.logs()), 10_000, () => agent.logs().slice(-3000));

    // The agent can read the objects before the sink has recorded the whole revision as published.
    const sink = await awaitPublished(regent, 'bucket', second);
    // Every bundle the example repository declares, of both revisions.
    const bundles = [...regent.catalog.published!.bundles.keys()].sort();
    expect(bundles).toEqual(expect.arrayContaining(['datasets', 'rbac']));
    expect(sink).toMatchObject({ name: 'bucket', kind: 's3', target: `s3://${BUCKET}/${prefix}`, pending: null, lastError: null, attempts: 0, lastPublished: { revision: second, bundles } });
    expect(regent.publishing.stats()[0]).toMatchObject({ name: 'bucket', kind: 's3', bundlesPublished: 2 * bundles.length, failures: 0, pendingSets: 0 });
  });

  test('a tampered object in the bucket is refused by the agent, which keeps the revision it had; the next commit repairs it', async () => {
    const { regent, prefix } = await regentPublishingToS3();
    const first = (await regent.store.head())!;
    await awaitPublished(regent, 'bucket', first);
    const agent = await s3Agent(regent, prefix);
    const outsider = { subject: 'nobody', action: 'delete', resource: { type: 'workflow', project: 'apollo' } };
    expect(await agent.query('rbac/allow', outsider)).toBe(false);

    // Someone with write access to the bucket makes `nobody` a superadmin in the served object; the
    // signatures file is left as it was.
    const files = await readTarball(Buffer.from(await (await fetch(`${regent.url}/bundles/rbac`)).arrayBuffer()));
    const tampered = await writeTarball(files.map((file) => ({
      path: file.path,
      content: file.path === 'rbac/data.json'
        ? Buffer.from(JSON.stringify({ ...JSON.parse(file.content.toString('utf8')), users: { nobody: { active: true, superadmin: true } } }))
        : file.content,
    })));
    await gateway.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/rbac/bundle.tar.gz`, Body: tampered }));

    // OPA checks the signed digests: the file it was given is not the file that was signed.
    await eventually(async () => /Bundle load failed: .*rbac\/data\.json: digest mismatch/.test(agent.logs()), 15_000, () => agent.logs().slice(-3000));
    expect(await agent.activeRevision('rbac')).toBe(first);
    expect(await agent.query('rbac/allow', outsider)).toBe(false);

    const second = await grantAdmin(regent, 'heidi');
    await eventually(async () => (await agent.activeRevision('rbac')) === second, 20_000, () => agent.logs().slice(-3000));
    expect(await agent.query('rbac/allow', outsider)).toBe(false);
    expect(await agent.query('rbac/allow', deleteOnApollo('heidi'))).toBe(true);
  });

  test('with the gateway down, commits are served at once and /status shows the sink behind; it catches up with the newest revision when the gateway is back', async () => {
    const { regent, prefix, object } = await regentPublishingToS3();
    const first = (await regent.store.head())!;
    await awaitPublished(regent, 'bucket', first);
    const agent = await s3Agent(regent, prefix);

    await gateway.stop();
    let second: string | undefined;
    try {
      second = await grantAdmin(regent, 'heidi');
      // Served at once, whatever the sink does.
      expect(await servedRevision(regent, 'rbac')).toBe(second);
      let sink = (await sinksOf(regent))[0]!;
      await eventually(async () => {
        sink = (await sinksOf(regent))[0]!;
        return sink.attempts >= 2;
      }, 10_000, () => JSON.stringify(sink));
      expect(sink).toMatchObject({ pending: second, lastPublished: { revision: first }, lastError: { code: 'sink_unavailable', revision: second } });
      expect(sink.nextAttemptAt).not.toBeNull();
      expect(sink.pendingSince).not.toBeNull();

      const third = await grantAdmin(regent, 'ivan');
      expect(await servedRevision(regent, 'rbac')).toBe(third);
      await eventually(async () => (await sinksOf(regent))[0]!.pending === third, 5000);
      const status = (await (await fetch(`${regent.url}/status`)).json()) as { active: string; headDiffersFromActive: boolean; lastError: unknown };
      // The sink's trouble is its own: the revision is active, with no activation error.
      expect(status).toMatchObject({ active: third, headDiffersFromActive: false, lastError: null });
      expect(regent.publishing.stats()[0]!.pendingSets).toBe(1);
      expect(regent.publishing.stats()[0]!.failures).toBeGreaterThanOrEqual(2);
    } finally {
      await gateway.start();
    }
    const third = (await regent.store.head())!;
    const caughtUp = await awaitPublished(regent, 'bucket', third);
    expect(caughtUp).toMatchObject({ attempts: 0, lastError: null, nextAttemptAt: null, pendingSince: null });
    await eventually(async () => (await agent.activeRevision('rbac')) === third, 20_000, () => agent.logs().slice(-3000));
    expect(await agent.query('rbac/allow', deleteOnApollo('ivan'))).toBe(true);
    expect(await manifestRevision((await object('rbac/bundle.tar.gz'))!)).toBe(third);
    // The revision in between was never published: the sink went straight to the newest one.
    expect(await object(`rbac/${second}.tar.gz`)).toBeUndefined();
    expect(await object(`rbac/${third}.tar.gz`)).toBeDefined();
  });

  test('an environment\'s bundle set is published under the environment\'s name', async () => {
    const { regent, object } = await regentPublishingToS3({ environments: [{ name: 'prod', ref: 'tags/prod' }] });
    const first = (await regent.store.head())!;
    await git(['tag', 'prod', first], { gitDir: join(regent.dataDir, 'store.git') });
    await awaitPublished(regent, 'bucket', first, { set: 'prod' });
    expect(await manifestRevision((await object('prod/rbac/bundle.tar.gz'))!)).toBe(first);
    expect(await object(`prod/rbac/${first}.tar.gz`)).toBeDefined();
  });

  test('the README\'s agent config (opa-config/config.s3.yaml) pulls and verifies the published bundles', async () => {
    const { regent, prefix } = await regentPublishingToS3();
    const head = (await regent.store.head())!;
    await awaitPublished(regent, 'bucket', head);
    const agent = await startOpaAgentFromFile(join(PROJECT_ROOT, 'opa-config', 'config.s3.yaml'), {
      set: {
        'services.s3.url': `${gateway.endpoint}/${BUCKET}`,
        'bundles.rbac.resource': `${prefix}/rbac/bundle.tar.gz`,
        'bundles.datasets.resource': `${prefix}/datasets/bundle.tar.gz`,
      },
      setFile: { 'keys.regent.key': regent.signingKey.publicKeyFile! },
      env: { AWS_ACCESS_KEY_ID: gateway.accessKeyId, AWS_SECRET_ACCESS_KEY: gateway.secretAccessKey, AWS_REGION: gateway.region },
    });
    await agent.waitUntilReady();
    expect(await agent.activeRevision('rbac')).toBe(head);
    expect(await agent.activeRevision('datasets')).toBe(head);
    expect(await agent.query('rbac/allow', { subject: 'alice', action: 'delete', resource: { type: 'workflow', project: 'zeus' } })).toBe(true);
  });

  test('a missing gateway binary fails the test with the command that installs it', async () => {
    const saved = process.env.REGENT_VERSITYGW_PATH;
    process.env.REGENT_VERSITYGW_PATH = join(tempDirForTest(), 'versitygw');
    try {
      await expect(startS3Gateway()).rejects.toThrow(/versitygw is required by the publishing tests .* Run 'node scripts\/ensure-versitygw\.mjs'/);
    } finally {
      if (saved === undefined) delete process.env.REGENT_VERSITYGW_PATH;
      else process.env.REGENT_VERSITYGW_PATH = saved;
    }
  });
});

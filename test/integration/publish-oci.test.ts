import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readTarball } from '../../src/domain/bundles/tarball-reader.js';
import { writeTarball } from '../../src/domain/bundles/tarball-writer.js';
import { bundleArtifact, OCI_IMAGE_CONFIG, OCI_IMAGE_MANIFEST, OCI_LAYER_TAR_GZIP } from '../../src/sinks/oci-artifact.js';
import { OciRegistryClient } from '../../src/sinks/oci-registry-client.js';
import { git } from '../helpers/git-repo.js';
import { agentOptionsFor, eventually, startOpaAgent, startOpaAgentFromFile } from '../helpers/opa-agent.js';
import { awaitPublished, deleteOnApollo, grantAdmin, manifestRevision, secretFile, servedRevision, sinksOf } from '../helpers/publishing.js';
import { startOciRegistry, type OciRegistry } from '../helpers/sink-engines.js';
import { startTestRegent } from '../helpers/start-regent.js';

let registry: OciRegistry;
const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

beforeAll(async () => {
  registry = await startOciRegistry();
});

afterAll(async () => {
  await registry?.dispose();
});

/** A Regent pushing to the registry under its own repository prefix, with the registry's user and a 0600 password file. */
async function regentPublishingToOci(options: { password?: string; config?: Record<string, unknown> } = {}) {
  const repository = `regent-${randomBytes(4).toString('hex')}`;
  const passwordFile = secretFile('registry-password', options.password ?? registry.password);
  const regent = await startTestRegent({
    config: {
      publish: {
        retryInitialMs: 100, retryMaxMs: 400, timeoutMs: 5000,
        oci: [{ name: 'registry', registry: registry.registry, repository, insecure: true, username: registry.username, passwordFile }],
      },
      ...options.config,
    },
  });
  const basic = `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString('base64')}`;
  /** A GET on the registry's API, authenticated as the test user. */
  const get = (path: string, accept?: string): Promise<Response> => fetch(`http://${registry.registry}/v2/${path}`, { headers: { Authorization: basic, ...(accept ? { Accept: accept } : {}) } });
  return { regent, repository, get };
}

/** A real OPA agent with a `type: oci` service pulling `<registry>/<repository>/<bundle>:latest`. */
async function ociAgent(regent: Awaited<ReturnType<typeof startTestRegent>>, repository: string, bundles: string[] = ['rbac', 'datasets']) {
  const agent = await startOpaAgent({
    ...agentOptionsFor(regent, `http://${registry.registry}`),
    bundles,
    longPollSeconds: undefined,
    minDelaySeconds: 1,
    maxDelaySeconds: 1,
    // OPA sends `<scheme> <base64 of token>` to OCI registries: Basic user:password.
    service: { type: 'oci', credentials: { bearer: { scheme: 'Basic', token: `${registry.username}:${registry.password}` } } },
    resourceFor: (bundle) => `${registry.registry}/${repository}/${bundle}:latest`,
  });
  await agent.waitUntilReady(30_000);
  return agent;
}

describe('publishing to an OCI registry (a real CNCF distribution registry)', () => {
  test('a commit reaches a real OPA agent pulling the OCI artifact, signature verified; tags <revision> and latest name one manifest OPA reads', async () => {
    const { regent, repository, get } = await regentPublishingToOci();
    const first = (await regent.store.head())!;
    await awaitPublished(regent, 'registry', first);
    const agent = await ociAgent(regent, repository);
    expect(await agent.activeRevision('rbac')).toBe(first);
    expect(await agent.activeRevision('datasets')).toBe(first);
    expect(await agent.query('rbac/allow', deleteOnApollo('heidi'))).toBe(false);

    const second = await grantAdmin(regent, 'heidi');
    await eventually(async () => (await agent.activeRevision('rbac')) === second, 30_000, () => agent.logs().slice(-3000));
    expect(await agent.query('rbac/allow', deleteOnApollo('heidi'))).toBe(true);

    // The artifact: an OCI image manifest, an image config, one tar+gzip layer holding the served bundle.
    const latest = await get(`${repository}/rbac/manifests/latest`, OCI_IMAGE_MANIFEST);
    expect(latest.status).toBe(200);
    const digest = latest.headers.get('docker-content-digest');
    const manifest = (await latest.json()) as { mediaType: string; config: { mediaType: string }; layers: Array<{ mediaType: string; digest: string; annotations: Record<string, string> }>; annotations: Record<string, string> };
    expect(manifest).toMatchObject({ mediaType: OCI_IMAGE_MANIFEST, config: { mediaType: OCI_IMAGE_CONFIG }, annotations: { 'org.opencontainers.image.revision': second } });
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0]).toMatchObject({ mediaType: OCI_LAYER_TAR_GZIP, annotations: { 'org.opencontainers.image.title': 'bundle.tar.gz' } });
    const served = await fetch(`${regent.url}/bundles/rbac`);
    // The layer's digest is Regent's ETag: the agent's "ETag" for this bundle is the same SHA-256.
    expect(manifest.layers[0]!.digest).toBe(`sha256:${served.headers.get('etag')!.replaceAll('"', '')}`);
    const layer = Buffer.from(await (await get(`${repository}/rbac/blobs/${manifest.layers[0]!.digest}`)).arrayBuffer());
    expect(layer.equals(Buffer.from(await served.arrayBuffer()))).toBe(true);
    const byRevision = await get(`${repository}/rbac/manifests/${second}`, OCI_IMAGE_MANIFEST);
    expect(byRevision.headers.get('docker-content-digest')).toBe(digest);
    expect((await get(`${repository}/rbac/manifests/${first}`, OCI_IMAGE_MANIFEST)).status).toBe(200);

    // The agent can read `latest` before the sink has recorded the whole revision (every bundle) as published.
    const sink = await awaitPublished(regent, 'registry', second);
    expect(sink).toMatchObject({ name: 'registry', kind: 'oci', target: `${registry.registry}/${repository}`, pending: null, lastError: null, attempts: 0, lastPublished: { revision: second } });
  });

  test('a tampered artifact tagged latest is refused by the agent, which keeps the revision it had', async () => {
    const { regent, repository } = await regentPublishingToOci();
    const first = (await regent.store.head())!;
    await awaitPublished(regent, 'registry', first);
    const agent = await ociAgent(regent, repository, ['rbac']);
    const outsider = { subject: 'nobody', action: 'delete', resource: { type: 'workflow', project: 'apollo' } };
    expect(await agent.query('rbac/allow', outsider)).toBe(false);

    // Someone with push rights retags latest to an artifact whose bundle makes `nobody` a superadmin,
    // with the original signatures file.
    const files = await readTarball(Buffer.from(await (await fetch(`${regent.url}/bundles/rbac`)).arrayBuffer()));
    const tampered = await writeTarball(files.map((file) => ({
      path: file.path,
      content: file.path === 'rbac/data.json'
        ? Buffer.from(JSON.stringify({ ...JSON.parse(file.content.toString('utf8')), users: { nobody: { active: true, superadmin: true } } }))
        : file.content,
    })));
    const artifact = bundleArtifact({ path: 'rbac', revision: first, bytes: tampered, sha256: createHash('sha256').update(tampered).digest('hex') });
    const client = new OciRegistryClient({ registry: registry.registry, insecure: true, credentials: { username: registry.username, password: registry.password }, sink: 'attacker' });
    const signal = AbortSignal.timeout(10_000);
    for (const blob of [artifact.config, artifact.layer]) await client.uploadBlob(`${repository}/rbac`, blob, signal);
    await client.putManifest(`${repository}/rbac`, 'latest', artifact.manifest, signal);

    // OPA checks the signed digests: the file it was given is not the file that was signed.
    await eventually(async () => /Bundle load failed: .*rbac\/data\.json: digest mismatch/.test(agent.logs()), 15_000, () => agent.logs().slice(-3000));
    expect(await agent.activeRevision('rbac')).toBe(first);
    expect(await agent.query('rbac/allow', outsider)).toBe(false);
  });

  test('the README\'s agent config (opa-config/config.oci.yaml) pulls and verifies the pushed bundles', async () => {
    const { regent, repository } = await regentPublishingToOci();
    const head = (await regent.store.head())!;
    await awaitPublished(regent, 'registry', head);
    const agent = await startOpaAgentFromFile(join(PROJECT_ROOT, 'opa-config', 'config.oci.yaml'), {
      set: {
        'services.registry.url': `http://${registry.registry}`,
        'bundles.rbac.resource': `${registry.registry}/${repository}/rbac:latest`,
        'bundles.datasets.resource': `${registry.registry}/${repository}/datasets:latest`,
      },
      setFile: { 'keys.regent.key': regent.signingKey.publicKeyFile! },
      // The file reads the credentials from the environment (${REGISTRY_USER}:${REGISTRY_PASSWORD}).
      env: { REGISTRY_USER: registry.username, REGISTRY_PASSWORD: registry.password },
    });
    await agent.waitUntilReady(30_000);
    expect(await agent.activeRevision('rbac')).toBe(head);
    expect(await agent.activeRevision('datasets')).toBe(head);
    expect(await agent.query('rbac/allow', { subject: 'alice', action: 'delete', resource: { type: 'workflow', project: 'zeus' } })).toBe(true);
  });

  test('with the registry down, commits are served at once and /status shows the sink behind; it catches up when the registry is back', async () => {
    const { regent, repository, get } = await regentPublishingToOci();
    const first = (await regent.store.head())!;
    await awaitPublished(regent, 'registry', first);
    const agent = await ociAgent(regent, repository, ['rbac']);

    await registry.stop();
    let second: string | undefined;
    try {
      second = await grantAdmin(regent, 'heidi');
      expect(await servedRevision(regent, 'rbac')).toBe(second);
      let sink = (await sinksOf(regent))[0]!;
      await eventually(async () => {
        sink = (await sinksOf(regent))[0]!;
        return sink.attempts >= 2;
      }, 10_000, () => JSON.stringify(sink));
      expect(sink).toMatchObject({ pending: second, lastPublished: { revision: first }, lastError: { code: 'sink_unavailable', bundle: 'datasets', revision: second } });
      const third = await grantAdmin(regent, 'ivan');
      expect(await servedRevision(regent, 'rbac')).toBe(third);
      await eventually(async () => (await sinksOf(regent))[0]!.pending === third, 5000);
    } finally {
      await registry.start();
    }
    const third = (await regent.store.head())!;
    expect(await awaitPublished(regent, 'registry', third)).toMatchObject({ attempts: 0, lastError: null });
    await eventually(async () => (await agent.activeRevision('rbac')) === third, 30_000, () => agent.logs().slice(-3000));
    expect(await agent.query('rbac/allow', deleteOnApollo('ivan'))).toBe(true);
    // Skipped, never tagged: the revision activated while the registry was down and superseded before it came back.
    expect((await get(`${repository}/rbac/manifests/${second}`, OCI_IMAGE_MANIFEST)).status).toBe(404);
  });

  test('credentials the registry refuses show as sink_refused in /status; bundles are served all the same', async () => {
    const { regent } = await regentPublishingToOci({ password: 'not-the-password' });
    const head = (await regent.store.head())!;
    let sink = (await sinksOf(regent))[0]!;
    await eventually(async () => {
      sink = (await sinksOf(regent))[0]!;
      return sink.attempts >= 1;
    }, 10_000, () => JSON.stringify(sink));
    expect(sink).toMatchObject({ pending: head, lastPublished: null, lastError: { code: 'sink_refused', revision: head } });
    expect(sink.lastError!.message).toMatch(/401/);
    expect(sink.lastError!.message).not.toContain('not-the-password');
    expect(await servedRevision(regent, 'rbac')).toBe(head);
  });

  test('an environment\'s bundle set is pushed to <repository>/<environment>/<bundle>', async () => {
    const { regent, repository, get } = await regentPublishingToOci({ config: { environments: [{ name: 'prod', ref: 'tags/prod' }] } });
    const first = (await regent.store.head())!;
    await git(['tag', 'prod', first], { gitDir: join(regent.dataDir, 'store.git') });
    await awaitPublished(regent, 'registry', first, { set: 'prod' });
    const manifest = (await (await get(`${repository}/prod/rbac/manifests/latest`, OCI_IMAGE_MANIFEST)).json()) as { layers: Array<{ digest: string }> };
    const layer = Buffer.from(await (await get(`${repository}/prod/rbac/blobs/${manifest.layers[0]!.digest}`)).arrayBuffer());
    expect(await manifestRevision(layer)).toBe(first);
  });
});

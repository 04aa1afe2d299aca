import { createHash, randomUUID } from 'node:crypto';
import { cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { generateSigningKey, type SigningAlgorithm } from '../../src/domain/bundles/signing-key.js';
import { adminClient, type AdminClient } from '../helpers/admin-client.js';
import { startBundleProxy } from '../helpers/bundle-proxy.js';
import { gitRemote, githubSignature, readTree, type GitRemote } from '../helpers/git-remote.js';
import { eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { capturingLogger, EXAMPLE_POLICIES, startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

const SECRET = 'webhook-secret-shared-by-every-replica';
/** Once a year: only webhooks and admins make these replicas fetch. */
const NEVER = '0 0 1 1 *';

type TestRegent = Awaited<ReturnType<typeof startTestRegent>>;

interface Replica {
  regent: TestRegent;
  admin: AdminClient;
  /** What this replica logged (its bundle-server request log included, at debug). */
  records: () => Array<Record<string, unknown>>;
}

/** One signing key for every replica, as production gives them the same key file. */
function sharedSigningKey(algorithm: SigningAlgorithm): { config: Record<string, unknown>; publicKeyPem: string } {
  const generated = generateSigningKey('regent', algorithm);
  const file = join(tempDirForTest('regent-key-'), 'signing.pem');
  writeFileSync(file, generated.privateKeyPem, { mode: 0o600 });
  return { config: { keyId: 'regent', algorithm, privateKeyFile: file }, publicKeyPem: generated.publicKeyPem };
}

type SharedKey = ReturnType<typeof sharedSigningKey>;

/** One real Regent mirroring `remote`, signing with `key`, with its own data directory (`dataDir` to restart one). */
async function startReplica(remote: GitRemote, key: SharedKey, index: number, dataDir?: string, config: Record<string, unknown> = {}): Promise<Replica> {
  const { logger, records } = capturingLogger('debug');
  const regent = await startTestRegent({
    logger,
    ...(dataDir ? { dataDir } : {}),
    config: {
      signing: key.config,
      remote: { url: remote.dir, webhookSecret: SECRET, syncSchedule: NEVER, backoffInitialMs: 50, backoffMaxMs: 300, fetchTimeoutMs: 10_000 },
      ...config,
    },
  });
  return { regent, records, admin: adminClient(regent, { sub: `admin-${index}`, role: 'admin', name: `Admin ${index}`, email: `admin-${index}@example.test` }) };
}

/** `count` real Regents, each with its own data directory, mirroring one real bare remote. */
async function startReplicas(count: number, algorithm: SigningAlgorithm = 'RS256', configOf: (index: number) => Record<string, unknown> = () => ({})): Promise<{ remote: GitRemote; replicas: Replica[]; publicKeyPem: string; key: SharedKey }> {
  const remote = await gitRemote(readTree(EXAMPLE_POLICIES));
  const key = sharedSigningKey(algorithm);
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i += 1) replicas.push(await startReplica(remote, key, i, undefined, configOf(i)));
  const tip = await remote.tip();
  for (const { regent } of replicas) await waitUntilActive(regent, tip);
  return { remote, replicas, publicKeyPem: key.publicKeyPem, key };
}

interface StatusBody {
  head: string;
  active: string;
  lastError: { revision: string; problems: Array<Record<string, unknown>> } | null;
  gate: { source: string; oldestAgentVersion: string | null };
  bundles: Record<string, { etag: string; revision: string }>;
}

const statusOf = async (regent: TestRegent): Promise<StatusBody> => (await fetch(`${regent.url}/status`)).json() as Promise<StatusBody>;

async function waitUntilActive(regent: TestRegent, revision: string): Promise<void> {
  await eventually(async () => (await statusOf(regent)).active === revision, 30_000, () => `(${regent.url} never activated ${revision})`);
}

interface Download {
  status: number;
  etag: string | null;
  type: string | null;
  sha256: string;
}

async function download(regent: TestRegent, path: string, headers: Record<string, string> = {}): Promise<Download> {
  const response = await fetch(`${regent.url}${path}`, { headers });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, etag: response.headers.get('etag'), type: response.headers.get('x-regent-bundle-type'), sha256: createHash('sha256').update(body).digest('hex') };
}

/** Every bundle every replica serves: the same names, and for each the same ETag and the same bytes. */
async function expectIdenticalBundles(replicas: ReadonlyArray<{ regent: TestRegent }>): Promise<Record<string, string>> {
  const names = Object.keys((await statusOf(replicas[0]!.regent)).bundles).sort();
  expect(names.length).toBeGreaterThan(0);
  const etags: Record<string, string> = {};
  for (const name of names) {
    const served = await Promise.all(replicas.map(({ regent }) => download(regent, `/bundles/${name}`)));
    expect(served.map((one) => one.status)).toEqual(replicas.map(() => 200));
    expect(new Set(served.map((one) => one.etag)).size).toBe(1);
    expect(new Set(served.map((one) => one.sha256)).size).toBe(1);
    etags[name] = served[0]!.etag!;
  }
  for (const { regent } of replicas) expect(Object.keys((await statusOf(regent)).bundles).sort()).toEqual(names);
  return etags;
}

function postWebhook(regent: TestRegent, after: string): Promise<Response> {
  const body = JSON.stringify({ ref: 'refs/heads/main', after, repository: { full_name: 'acme/policies' } });
  return fetch(`${regent.url}/hooks/git`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': githubSignature(body, SECRET) },
    body,
  });
}

async function headOf(admin: AdminClient): Promise<string> {
  return ((await (await admin.get('/api/versions/head')).json()) as { revision: string }).revision;
}

describe('replicas: several Regents, each with its own data directory, on one real bare remote', () => {
  test('three replicas serve every bundle with the same bytes and ETag, and each answers 304 to the others\' ETags', async () => {
    const { replicas } = await startReplicas(3);
    const etags = await expectIdenticalBundles(replicas);
    for (const { records } of replicas) expect(records().filter((record) => String(record.msg).includes('randomized signing algorithm'))).toEqual([]);
    for (const [name, etag] of Object.entries(etags)) {
      for (const { regent } of replicas) expect((await download(regent, `/bundles/${name}`, { 'If-None-Match': etag })).status).toBe(304);
    }
  });

  test('a write through one replica is on the remote at once, and the others serve it, byte for byte, after a webhook or a sync', async () => {
    const { remote, replicas } = await startReplicas(3);
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const before = await expectIdenticalBundles(replicas);
    const base = await headOf(a.admin);
    const write = await a.admin.put('/api/policies/rbac/replicated.rego', { content: 'package rbac.replicated\n\nenabled := true\n', message: 'Add rbac.replicated on replica a', baseRevision: base });
    expect(write.status).toBe(201);
    const { revision } = (await write.json()) as { revision: string };
    expect(await remote.tip()).toBe(revision);
    expect((await statusOf(b.regent)).active).toBe(base);
    // Until it fetched, a replica serves what it has: an agent that saw the new revision elsewhere gets the old one there.
    const newRbac = (await download(a.regent, '/bundles/rbac')).etag!;
    const lagging = await download(b.regent, '/bundles/rbac', { 'If-None-Match': newRbac });
    expect([lagging.status, lagging.etag]).toEqual([200, before.rbac]);

    expect((await postWebhook(b.regent, revision)).status).toBe(202);
    expect((await c.admin.post('/api/mirror/sync')).status).toBe(202);
    for (const { regent } of replicas) await waitUntilActive(regent, revision);
    const after = await expectIdenticalBundles(replicas);
    expect(after.rbac).toBe(newRbac);
    expect(after.rbac).not.toBe(before.rbac);
  });

  test('a data-only write gives the same delta bundle, bytes and ETag, from every replica that served the old revision', async () => {
    const { remote, replicas } = await startReplicas(2);
    const [a, b] = replicas as [Replica, Replica];
    const old = await expectIdenticalBundles(replicas);
    const data = JSON.parse(readTree(EXAMPLE_POLICIES)['rbac/data.json']!) as { users: Record<string, unknown> };
    data.users.replica_test_user = { active: true };
    const write = await b.admin.put('/api/policies/rbac/data.json', { content: `${JSON.stringify(data, null, 2)}\n`, message: 'A user, through replica b', baseRevision: await headOf(b.admin) });
    expect(write.status).toBe(201);
    const { revision } = (await write.json()) as { revision: string };
    expect((await a.admin.post('/api/mirror/sync')).status).toBe(202);
    await waitUntilActive(a.regent, revision);
    expect(await remote.tip()).toBe(revision);

    const asks = { 'If-None-Match': old.rbac!, Prefer: 'modes=snapshot,delta' };
    const deltas = await Promise.all(replicas.map(({ regent }) => download(regent, '/bundles/rbac?deltas=true', asks)));
    expect(deltas.map((one) => [one.status, one.type])).toEqual([[200, 'delta'], [200, 'delta']]);
    expect(deltas[0]!.etag).toBe(deltas[1]!.etag);
    expect(deltas[0]!.sha256).toBe(deltas[1]!.sha256);
    // Either replica knows the delta's ETag as the new revision's: 304, whichever one the agent comes back to.
    for (const { regent } of replicas) expect((await download(regent, '/bundles/rbac?deltas=true', { 'If-None-Match': deltas[0]!.etag! })).status).toBe(304);
  });

  test('concurrent writes through two replicas lose nothing: every acknowledged write is in the remote\'s history, a lost race is re-created on the new tip or 409, never a 5xx', async () => {
    const { remote, replicas } = await startReplicas(2);
    const writesPerReplica = 4;
    const acknowledged: Array<{ revision: string; path: string }> = [];
    const statuses: number[] = [];
    const writer = async (replica: Replica, name: string): Promise<void> => {
      for (let i = 0; i < writesPerReplica; i += 1) {
        const path = `rbac/concurrent/${name}_${i}.rego`;
        // A client that gets 409 re-reads head and tries again, as the API tells it to.
        for (let attempt = 0; attempt < 10; attempt += 1) {
          const response = await replica.admin.put(`/api/policies/${path}`, { content: `package rbac.concurrent.${name}_${i}\n\nwritten := true\n`, message: `${name} ${i}`, baseRevision: await headOf(replica.admin) });
          statuses.push(response.status);
          if (response.status === 201) {
            acknowledged.push({ revision: ((await response.json()) as { revision: string }).revision, path });
            break;
          }
          expect(response.status, await response.text()).toBe(409);
        }
      }
    };
    await Promise.all([writer(replicas[0]!, 'a'), writer(replicas[1]!, 'b')]);

    const refusedPushes = replicas.flatMap(({ records }) => records().filter((record) => record.msg === 'push refused by the remote; fetching'));
    // The race happened: pushes were refused because the other replica's landed first (both git's
    // "[rejected] (stale info)" and the host's "[remote rejected] (failed to update ref)" occur here).
    expect(refusedPushes.length).toBeGreaterThan(0);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    expect(acknowledged).toHaveLength(2 * writesPerReplica);
    const tip = await remote.tip();
    const history = new Set((await remote.git(['rev-list', tip])).trim().split('\n'));
    for (const { revision, path } of acknowledged) {
      expect(history.has(revision)).toBe(true);
      expect(await remote.git(['cat-file', '-e', `${tip}:${path}`])).toBe('');
    }
    expect(new Set(acknowledged.map(({ revision }) => revision)).size).toBe(acknowledged.length);
    // Both converge on the remote's tip after a sync, and serve the same bundles.
    for (const replica of replicas) {
      expect((await replica.admin.post('/api/mirror/sync')).status).toBe(202);
      await waitUntilActive(replica.regent, tip);
    }
    await expectIdenticalBundles(replicas);
  }, 180_000);

  test('a real OPA agent moved to another replica gets 304 there and downloads nothing again, then follows that replica', async () => {
    const { remote, replicas, publicKeyPem } = await startReplicas(2);
    const [a, b] = replicas as [Replica, Replica];
    const balancer = await startBundleProxy(a.regent.url);
    const agent = await startOpaAgent({ serviceUrl: balancer.url, bundles: ['rbac', 'datasets'], keyId: 'regent', verificationKey: publicKeyPem, longPollSeconds: 2, minDelaySeconds: 1, maxDelaySeconds: 2 });
    await agent.waitUntilReady();
    const first = await remote.tip();
    expect(await agent.activeRevision('rbac')).toBe(first);
    const fromA = balancer.responses.filter((one) => one.status === 200);
    expect(new Set(fromA.map((one) => one.upstream))).toEqual(new Set([a.regent.url]));

    balancer.setUpstream(b.regent.url);
    // Every bundle is asked of b with a's ETag (its long poll held, then 304) before anything changes.
    await eventually(async () => ['rbac', 'datasets'].every((name) => balancer.responses.some((one) => one.upstream === b.regent.url && one.url.startsWith(`/bundles/${name}`) && one.status === 304)), 20_000, () => JSON.stringify(balancer.responses.map(({ upstream, url, status }) => ({ upstream, url, status }))));
    const fromB = balancer.responses.filter((one) => one.upstream === b.regent.url);
    expect(fromB.filter((one) => one.status !== 304)).toEqual([]);
    for (const one of fromB) expect(one.ifNoneMatch).toBe(fromA.find((downloaded) => downloaded.url === one.url)?.headers.etag);
    // b's own request log says the same: its bundle answers were 304s.
    const bLog = b.records().filter((record) => record.msg === 'request completed' && record.route === '/bundles/:name');
    expect(bLog.length).toBeGreaterThan(0);
    expect(bLog.every((record) => record.status === 304)).toBe(true);

    // A commit through b reaches the agent from b.
    const write = await b.admin.put('/api/policies/rbac/replicated.rego', { content: 'package rbac.replicated\n\nenabled := true\n', message: 'Add rbac.replicated on replica b', baseRevision: first });
    expect(write.status).toBe(201);
    const { revision } = (await write.json()) as { revision: string };
    await eventually(async () => (await agent.activeRevision('rbac')) === revision, 20_000, () => agent.logs().slice(-2000));
    const downloadedFromB = balancer.responses.filter((one) => one.upstream === b.regent.url && one.status === 200);
    expect(downloadedFromB.length).toBeGreaterThan(0);
    expect(await agent.query('rbac/replicated/enabled')).toBe(true);
  }, 60_000);

  test('a second Regent started on a copy of the first one\'s data directory (lock files removed) serves the same ETags', async () => {
    const first = await startTestRegent();
    await eventually(async () => typeof (await statusOf(first)).active === 'string', 30_000);
    const { active } = await statusOf(first);
    const copy = tempDirForTest('regent-data-copy-');
    cpSync(first.dataDir, copy, { recursive: true });
    for (const name of readdirSync(copy, { recursive: true }) as string[]) {
      if (name.endsWith('.lock')) rmSync(join(copy, name), { force: true });
    }
    const second = await startTestRegent({ dataDir: copy });
    await waitUntilActive(second, active);
    const etags = await expectIdenticalBundles([{ regent: first }, { regent: second }]);
    expect(Object.keys(etags)).toEqual(expect.arrayContaining(['rbac', 'datasets']));
  });

  test('with an ES256 key (randomized signatures) replicas sign one revision differently, and each says so at start-up', async () => {
    const { replicas } = await startReplicas(2, 'ES256');
    const served = await Promise.all(replicas.map(({ regent }) => download(regent, '/bundles/rbac')));
    expect(served[0]!.etag).not.toBe(served[1]!.etag);
    for (const { records } of replicas) {
      expect(records().some((record) => record.level === 40 && record.algorithm === 'ES256' && String(record.msg).includes('use an RS* or HS* key for replicas'))).toBe(true);
    }
  });

  test('each replica\'s audit log records the writes made through it; a restarted replica does not take another\'s writes for its own', async () => {
    const { remote, replicas, key } = await startReplicas(2);
    const [a, b] = replicas as [Replica, Replica];
    const write = await a.admin.put('/api/policies/rbac/replicated.rego', { content: 'package rbac.replicated\n\nenabled := true\n', message: 'Add rbac.replicated on replica a', baseRevision: await headOf(a.admin) });
    expect(write.status).toBe(201);
    const { revision } = (await write.json()) as { revision: string };
    expect((await b.admin.post('/api/mirror/sync')).status).toBe(202);
    await waitUntilActive(b.regent, revision);
    await b.regent.close();

    const restarted = await startReplica(remote, key, 1, b.regent.dataDir);
    await waitUntilActive(restarted.regent, revision);
    const writesOn = async (replica: Replica): Promise<Array<Record<string, unknown>>> =>
      ((await (await replica.admin.get('/api/audit?action=policy.write')).json()) as { records: Array<Record<string, unknown>> }).records;
    expect((await writesOn(a)).map((record) => record.revision)).toEqual([revision]);
    expect(await writesOn(restarted)).toEqual([]);
    expect(restarted.records().filter((record) => record.msg === 'audit record added for a commit written just before a crash')).toEqual([]);
    // The remote's history names the author and the request of every write, whichever replica took it.
    expect(await remote.git(['log', '-1', '--format=%an%n%(trailers:key=Regent-Actor,valueonly)', revision])).toMatch(/^Admin 0\nadmin-0 \(admin\)/);
  });

  test('decision logs are kept by the replica they are sent to: its /api/decisions and impact analysis see them, the others do not', async () => {
    const { replicas } = await startReplicas(2);
    const [a, b] = replicas as [Replica, Replica];
    const batch = [{ labels: { id: 'agent-on-a', version: '1.22.2' }, decision_id: 'd-1', timestamp: new Date().toISOString(), path: 'rbac/allow', input: { user: 'alice' }, result: true }];
    const upload = await fetch(`${a.regent.url}/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(batch) });
    expect(upload.status).toBe(204);
    const decisionsOn = async (replica: Replica): Promise<string[]> =>
      ((await (await replica.admin.get('/api/decisions')).json()) as { decisions: Array<{ decisionId: string }> }).decisions.map((decision) => decision.decisionId);
    expect(await decisionsOn(a)).toEqual(['d-1']);
    expect(await decisionsOn(b)).toEqual([]);
    const impactOn = async (replica: Replica): Promise<number> =>
      ((await (await replica.admin.post('/api/impact', { from: 'head', to: 'head', decisions: { since: '2026-01-01T00:00:00Z', path: 'rbac/allow', limit: 10 } })).json()) as { evaluated: number }).evaluated;
    expect(await impactOn(a)).toBe(1);
    expect(await impactOn(b)).toBe(0);
  });

  test('with gate.fleetReports off, replicas judge a revision alike whichever of them the agents report to; on, a report to one makes it stricter alone', async () => {
    // strings.split_n came after OPA v1.0.0: a gate that counts a v1.0.0 agent refuses it.
    const splitN = 'package rbac.splitter\n\nparts := strings.split_n("a,b,c", ",", 2)\n';
    const { replicas } = await startReplicas(3, 'RS256', (index) => (index < 2 ? { gate: { fleetReports: false } } : {}));
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const report = { labels: { id: 'old-agent', version: '1.0.0' }, bundles: {} };
    for (const { regent } of [b, c]) {
      expect((await fetch(`${regent.url}/status`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(report) })).status).toBe(200);
    }
    await eventually(async () => (await statusOf(c.regent)).gate.oldestAgentVersion === 'v1.0.0', 15_000);
    expect((await statusOf(b.regent)).gate).toMatchObject({ source: 'regent', oldestAgentVersion: null });

    const write = await a.admin.put('/api/policies/rbac/splitter.rego', { content: splitN, message: 'Use strings.split_n', baseRevision: await headOf(a.admin) });
    expect(write.status).toBe(201);
    const { revision } = (await write.json()) as { revision: string };
    for (const { admin } of [b, c]) expect((await admin.post('/api/mirror/sync')).status).toBe(202);
    await waitUntilActive(b.regent, revision);
    await expectIdenticalBundles([a, b]);
    await eventually(async () => (await statusOf(c.regent)).lastError?.revision === revision, 15_000);
    expect((await statusOf(c.regent)).active).not.toBe(revision);
    expect((await statusOf(c.regent)).lastError!.problems[0]).toMatchObject({ code: 'builtin_unavailable_on_fleet', opaVersion: 'v1.0.0' });
  });
});

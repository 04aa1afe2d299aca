import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { adminClient, rawRequest } from '../helpers/admin-client.js';
import { git } from '../helpers/git-repo.js';
import { startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;

const REPORT = { labels: { id: 'hostile-probe', version: '1.22.2' }, bundles: {} };
const GOOD_MODULE = 'package rbac.extra\n\nenabled := true\n';

async function problemOf(response: Response): Promise<{ status: number; code?: string; contentType: string | null }> {
  const contentType = response.headers.get('content-type');
  const text = await response.text();
  const body = contentType?.startsWith('application/problem+json') && text ? (JSON.parse(text) as { code?: string }) : {};
  return { status: response.status, code: body.code, contentType };
}

async function commitCount(regent: Regent): Promise<number> {
  return Number((await git(['rev-list', '--count', 'main'], { gitDir: `${regent.dataDir}/store.git` })).trim());
}

/** `[[...[1]...]]`: `levels` arrays, one inside the other. */
function nested(levels: number): string {
  return `${'['.repeat(levels)}1${']'.repeat(levels)}`;
}

describe('no 5xx on a malformed percent-escape in a path', () => {
  // Every kind of route: Express routes with parameters (decoded by the router), routes without,
  // unknown paths, the bare bundle handler, the webhook and the fleet report endpoints.
  const cases: Array<[method: string, path: string]> = [
    ['GET', '/status/%ff'],
    ['POST', '/status/%ff'],
    ['POST', '/status/eu%zz'],
    ['GET', '/health/%ff%fe'],
    ['GET', '/api/versions/%ff'],
    ['GET', '/api/versions/%ff/x'],
    ['POST', '/api/versions/%ff/activate'],
    ['GET', '/api/policies/%ff%fe'],
    ['GET', '/api/policies/rbac/%c0%af.rego'],
    ['PUT', '/api/policies/%ff%fe'],
    ['DELETE', '/api/policies/rbac/%ed%a0%80.rego'],
    ['GET', '/api/change-requests/%ff'],
    ['POST', '/api/change-requests/%ff/approve'],
    ['GET', '/api/environments/%'],
    ['PUT', '/api/environments/%f'],
    ['GET', '/api/%ff'],
    ['GET', '/bundles/%ff%fe'],
    ['HEAD', '/bundles/%ff'],
    ['GET', '/bundles/rbac%'],
    ['GET', '/bundles/prod/%e0%80'],
    ['POST', '/bundles/%ff'],
    ['POST', '/hooks/%ff'],
    ['POST', '/hooks/git%ff'],
    ['GET', '/%ff'],
    ['GET', '/nowhere/%zz'],
  ];

  test.each(cases)('%s %s answers 400 invalid_path_encoding', async (method, path) => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.from('{}');
    const response = await rawRequest(regent.url, method, path, body, { Authorization: `Bearer ${admin.token}`, 'Content-Type': 'application/json' });
    const problem = await problemOf(response);
    expect(problem.status).toBe(400);
    expect(problem.contentType).toMatch(/^application\/problem\+json/);
    if (method !== 'HEAD') expect(problem.code).toBe('invalid_path_encoding');
  });

  test('well-formed escapes still reach their routes', async () => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    expect((await admin.get('/api/policies/rbac%2Fpolicy.rego')).status).toBe(200);
    expect((await admin.get('/api/policies/rbac/%70olicy.rego')).status).toBe(200);
    expect((await rawRequest(regent.url, 'GET', '/bundles/rb%61c', undefined, {})).status).toBe(200);
    const unknown = await problemOf(await rawRequest(regent.url, 'GET', '/bundles/%C3%A9', undefined, {}));
    expect(unknown).toMatchObject({ status: 404, code: 'bundle_not_found' });
  });

  test('malformed escapes in query strings never answer 5xx', async () => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    for (const path of ['/api/versions?path=%ff', '/api/policies?revision=%ff%fe', '/api/audit?subject=%', '/api/diff?from=%ff&to=head', '/api/fleet?cursor=%ff', '/status?x=%ff']) {
      const response = await admin.get(path);
      expect(response.status, path).toBeLessThan(500);
    }
  });
});

describe('one nesting limit for every JSON body', () => {
  const DEEP = 6000;
  const routes: Array<[method: string, path: string, role: 'admin' | 'editor' | 'fleet', wrap: (deep: string) => string]> = [
    ['POST', '/api/evaluate', 'editor', (deep) => `{"query":"data.rbac.allow","input":${deep}}`],
    ['POST', '/api/changes/validate', 'editor', (deep) => `{"changes":${deep}}`],
    ['PUT', '/api/policies/rbac/extra.rego', 'admin', (deep) => `{"content":"x","message":"m","extra":${deep}}`],
    ['POST', '/api/changes', 'admin', (deep) => `{"changes":[],"message":"m","x":${deep}}`],
    ['POST', '/api/change-requests', 'editor', (deep) => `{"title":"t","changes":${deep}}`],
    ['POST', '/api/policies/generate', 'admin', (deep) => `{"service_name":"svc","actions":{"admin":${deep}}}`],
    ['POST', '/status', 'fleet', (deep) => `{"labels":{"id":"deep"},"bundles":{"rbac":${deep}}}`],
    ['POST', '/status/eu-west', 'fleet', (deep) => deep],
  ];

  test.each(routes)('%s %s: 6,000 levels answer 400 json_too_deep, and nothing is written', async (method, path, role, wrap) => {
    const regent = await startTestRegent();
    const before = await commitCount(regent);
    const client = adminClient(regent, { sub: 'eve', role: role === 'fleet' ? 'admin' : role });
    const headers: Record<string, string> = { 'Content-Type': 'application/json', ...(role === 'fleet' ? {} : { Authorization: `Bearer ${client.token}` }) };
    const head = (await regent.store.head())!;
    const response = await rawRequest(regent.url, method, path, Buffer.from(wrap(nested(DEEP))), { ...headers, 'If-Match': `"${head}"` });
    const problem = await problemOf(response);
    expect(problem).toMatchObject({ status: 400, code: 'json_too_deep' });
    expect(await commitCount(regent)).toBe(before);
  });

  test('depth is counted in brackets, not in strings: brackets inside a string are content', async () => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    const head = (await regent.store.head())!;
    const content = `package rbac.extra\n\n# ${'['.repeat(5000)} \\" {{{ \n\nenabled := true\n`;
    const response = await admin.put('/api/policies/rbac/extra.rego', { content, message: 'Brackets in a comment', baseRevision: head });
    expect(response.status).toBe(201);
    expect(await (await admin.get('/api/policies/rbac/extra.rego')).text()).toBe(content);
  });

  test('an input at the configured limit is evaluated by real OPA; one level more is refused', async () => {
    const regent = await startTestRegent({ config: { http: { maxJsonDepth: 64 } } });
    const editor = adminClient(regent, { sub: 'eddie', role: 'editor' });
    // The body object is level 1 and `input` level 2: 62 arrays inside reach the limit of 64.
    const atLimit = await editor.post('/api/evaluate', `{"query":"data.rbac.allow","input":{"subject":"nobody","action":"read","deep":${nested(62)}}}`, { 'Content-Type': 'application/json' });
    expect(atLimit.status).toBe(200);
    expect(await atLimit.json()).toMatchObject({ defined: true, result: false });
    const over = await editor.post('/api/evaluate', `{"query":"data.rbac.allow","input":{"subject":"nobody","action":"read","deep":${nested(63)}}}`, { 'Content-Type': 'application/json' });
    expect(await problemOf(over)).toMatchObject({ status: 400, code: 'json_too_deep' });
  });

  test('the default limit (100) is what an unconfigured Regent applies', async () => {
    const regent = await startTestRegent();
    const editor = adminClient(regent, { sub: 'eddie', role: 'editor' });
    const at = await editor.post('/api/evaluate', `{"query":"data.rbac.allow","input":${nested(99)}}`, { 'Content-Type': 'application/json' });
    expect(at.status).toBe(200);
    const over = await editor.post('/api/evaluate', `{"query":"data.rbac.allow","input":${nested(100)}}`, { 'Content-Type': 'application/json' });
    expect(await problemOf(over)).toMatchObject({ status: 400, code: 'json_too_deep' });
  });
});

describe('request bodies are UTF-8 JSON', () => {
  test('a PUT with charset=utf-16le is 415 unsupported_charset and commits nothing', async () => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    const head = (await regent.store.head())!;
    const body = Buffer.from(JSON.stringify({ content: GOOD_MODULE, message: 'UTF-16 body', baseRevision: head }), 'utf16le');
    const response = await admin.put('/api/policies/rbac/extra.rego', body, { 'Content-Type': 'application/json; charset=utf-16le' });
    expect(await problemOf(response)).toMatchObject({ status: 415, code: 'unsupported_charset' });
    expect(await regent.store.head()).toBe(head);
    expect((await admin.get('/api/policies/rbac/extra.rego')).status).toBe(404);
  });

  test.each(['utf-16', 'UTF-16BE', 'utf-32', 'iso-8859-1', 'latin1', 'us-ascii', 'windows-1252', 'bogus'])('charset=%s is refused with 415 unsupported_charset on the admin API and on status reports', async (charset) => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    const head = (await regent.store.head())!;
    const put = await admin.put('/api/policies/rbac/extra.rego', JSON.stringify({ content: GOOD_MODULE, message: 'm', baseRevision: head }), { 'Content-Type': `application/json; charset=${charset}` });
    expect(await problemOf(put)).toMatchObject({ status: 415, code: 'unsupported_charset' });
    const report = await rawRequest(regent.url, 'POST', '/status', Buffer.from(JSON.stringify(REPORT)), { 'Content-Type': `application/json; charset=${charset}` });
    expect(await problemOf(report)).toMatchObject({ status: 415, code: 'unsupported_charset' });
    expect(await regent.store.head()).toBe(head);
  });

  test('charset utf-8 (any case, quoted) or none is accepted', async () => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    for (const contentType of ['application/json', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/json; charset=utf8']) {
      const head = (await regent.store.head())!;
      const content = `package rbac.extra\n\n# ${contentType}\nenabled := true\n`;
      const response = await admin.put('/api/policies/rbac/extra.rego', JSON.stringify({ content, message: 'm', baseRevision: head }), { 'Content-Type': contentType });
      expect(response.status, contentType).toBeLessThan(300);
    }
  });

  test('invalid UTF-8 bytes in a body are 400 invalid_utf8 (never replaced by U+FFFD and committed)', async () => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    const head = (await regent.store.head())!;
    const json = JSON.stringify({ content: 'package rbac.extra\n\n# caf\u00e9\nenabled := true\n', message: 'Latin-1 bytes', baseRevision: head });
    const latin1 = Buffer.from(json, 'latin1');
    const loneSurrogate = Buffer.from(`{"content":"package rbac.extra\\n\\n# \\ud800\\n","message":"Lone surrogate","baseRevision":"${head}"}`);
    for (const bytes of [latin1, loneSurrogate, Buffer.concat([Buffer.from('{"content":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])]) {
      const response = await admin.put('/api/policies/rbac/extra.rego', bytes, { 'Content-Type': 'application/json' });
      expect(await problemOf(response)).toMatchObject({ status: 400, code: 'invalid_utf8' });
    }
    const report = await rawRequest(regent.url, 'POST', '/status', Buffer.from(JSON.stringify(REPORT).replace('hostile-probe', 'probe\u00ff'), 'latin1'), { 'Content-Type': 'application/json' });
    expect(await problemOf(report)).toMatchObject({ status: 400, code: 'invalid_utf8' });
    expect(await regent.store.head()).toBe(head);
  });

  test('a malformed Content-Type never answers 5xx; one naming two charsets is 415', async () => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    for (const contentType of ['application/json; charset', 'application/json; charset="utf-8', 'application/json;;', '/', 'application/json; a=b; a=c', 'application/json; charset=""']) {
      const head = (await regent.store.head())!;
      const put = await admin.put('/api/policies/rbac/extra.rego', JSON.stringify({ content: `package rbac.extra\n\n# ${contentType}\n`, message: 'm', baseRevision: head }), { 'Content-Type': contentType });
      expect(put.status, contentType).toBeLessThan(500);
      const report = await rawRequest(regent.url, 'POST', '/status', Buffer.from(JSON.stringify(REPORT)), { 'Content-Type': contentType });
      expect(report.status, contentType).toBeLessThan(500);
    }
    const head = (await regent.store.head())!;
    const twice = await admin.put('/api/policies/rbac/extra.rego', JSON.stringify({ content: GOOD_MODULE, message: 'm', baseRevision: head }), { 'Content-Type': 'application/json; charset=utf-8; charset=utf-16le' });
    expect(await problemOf(twice)).toMatchObject({ status: 415, code: 'unsupported_charset' });
    expect(await regent.store.head()).toBe(head);
  });
});

describe('compressed status reports', () => {
  test.each([
    ['gzip header on a plain body', 'gzip', () => Buffer.from(JSON.stringify(REPORT))],
    ['a truncated gzip body', 'gzip', () => gzipSync(JSON.stringify(REPORT)).subarray(0, 20)],
    ['deflate header on a gzip body', 'deflate', () => gzipSync(JSON.stringify(REPORT))],
    ['br header on garbage', 'br', () => Buffer.from('garbage that is not brotli')],
  ])('%s: 400 invalid_encoding, never 5xx', async (_name, encoding, body) => {
    const regent = await startTestRegent();
    const response = await rawRequest(regent.url, 'POST', '/status', body(), { 'Content-Type': 'application/json', 'Content-Encoding': encoding });
    expect(await problemOf(response)).toMatchObject({ status: 400, code: 'invalid_encoding' });
  });

  test('a well-formed gzip report is accepted', async () => {
    const regent = await startTestRegent();
    const response = await rawRequest(regent.url, 'POST', '/status', gzipSync(JSON.stringify(REPORT)), { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
    expect(response.status).toBeLessThan(300);
  });
});

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { type Router } from 'express';
import { describe, expect, onTestFinished, test } from 'vitest';
import { git, openTestStore, silentLogger } from '../../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../../test/helpers/temp-dir.js';
import type { Principal } from '../../domain/auth/principal.js';
import type { FileChange } from '../../domain/store/policy-store.js';
import { RevisionResolver } from '../../domain/store/revision-resolver.js';
import { FileAuditLog } from '../../storage/file-audit-log.js';
import { createErrorHandler, notFoundHandler } from '../error-handler.js';
import { createAuditRouter } from './audit-router.js';
import { parseTrailers } from './version-view.js';
import { createVersionsRouter, encodeVersionsCursor } from './versions-router.js';

const alice = { name: 'Alice Admin', email: 'alice@example.test' };
const bob = { name: 'Bob Builder', email: 'bob@example.test' };
const put = (path: string, content: string): FileChange => ({ op: 'put', path, content: Buffer.from(content) });
const viewer: Principal = { subject: 'vera', name: 'Vera', email: 'vera@example.test', role: 'auditor' };

/** `router` under `/api` in an app set up like `createApp`'s, with a fixed principal, on 127.0.0.1:0. */
async function serve(router: Router): Promise<string> {
  const app = express();
  app.set('query parser', 'simple');
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.set('etag', false);
  app.use((_req, res, next) => {
    res.locals.principal = viewer;
    next();
  });
  app.use('/api', router);
  app.use(notFoundHandler);
  app.use(createErrorHandler(silentLogger()));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
}

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, headers: response.headers, text, body: type.includes('json') ? JSON.parse(text) : undefined };
}

/** The versions router on a fresh, empty store, with `state.active` as the active revision. */
async function emptyVersionsApi() {
  const { store, dir } = await openTestStore();
  const state: { active: string | undefined } = { active: undefined };
  const base = await serve(createVersionsRouter({ store, resolver: RevisionResolver.create(store, () => state.active) }));
  return { base, store, dir, state };
}

/** Three commits on main (the second with trailers and active), tag `v1` at the first, branch `feature/x` at the second. */
async function versionsApi() {
  const api = await emptyVersionsApi();
  const { store, dir, state } = api;
  const date = (n: number) => new Date(Date.UTC(2026, 0, n, 12));
  const c1 = await store.commit({ changes: [put('a.rego', 'package a\n'), put('team/c.rego', 'package team.c\n')], message: 'root', author: alice, expectedHead: null, date: date(1) });
  const c2 = await store.commit({
    changes: [put('a.rego', 'package a\n\nallow := true\n')], message: 'Allow everything in a\n\nBecause we can.', author: bob,
    expectedHead: c1.revision, date: date(2), trailers: { 'Regent-Request-Id': 'req-2', 'Regent-Subject': 'bob' },
  });
  const c3 = await store.commit({ changes: [put('team/d.rego', 'package team.d\n')], message: 'add d', author: alice, expectedHead: c2.revision, date: date(3) });
  await git(['tag', 'v1', c1.revision], { gitDir: dir });
  await git(['update-ref', 'refs/heads/feature/x', c2.revision], { gitDir: dir });
  state.active = c2.revision;
  return { ...api, revisions: [c1.revision, c2.revision, c3.revision] as [string, string, string] };
}

const revisionsOf = (body: { versions: Array<{ revision: string }> }) => body.versions.map((version) => version.revision);

function expectProblem(response: Awaited<ReturnType<typeof get>>, status: number, code: string, field?: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ status, code, ...(field ? { field } : {}) });
}

describe('GET /versions', () => {
  test('lists the tracked branch newest first with subject, trailers, files and head/active marks', async () => {
    const { base, store, revisions: [c1, c2, c3] } = await versionsApi();
    const response = await get(`${base}/versions`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(revisionsOf(response.body)).toEqual([c3, c2, c1]);
    expect(response.body.nextCursor).toBeNull();
    expect(response.body.versions[1]).toEqual({
      revision: c2, parents: [c1], tree: await store.treeOf(c2),
      author: { ...bob, date: '2026-01-02T12:00:00+00:00' },
      committer: { name: 'Regent', email: 'regent@example.test', date: '2026-01-02T12:00:00+00:00' },
      message: 'Allow everything in a\n\nBecause we can.\n\nRegent-Request-Id: req-2\nRegent-Subject: bob',
      subject: 'Allow everything in a',
      trailers: [{ key: 'Regent-Request-Id', value: 'req-2' }, { key: 'Regent-Subject', value: 'bob' }],
      files: [{ path: 'a.rego', status: 'modified' }],
      active: true, head: false,
    });
    expect(response.body.versions[0]).toMatchObject({ subject: 'add d', trailers: [], active: false, head: true });
  });

  test('pages with limit and a cursor that keeps walking the same history after head moves', async () => {
    const { base, store, revisions: [c1, c2, c3] } = await versionsApi();
    const first = await get(`${base}/versions?limit=2`);
    expect(revisionsOf(first.body)).toEqual([c3, c2]);
    expect(first.body.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    await store.commit({ changes: [put('late.rego', 'package late\n')], message: 'late', author: alice, expectedHead: c3 });
    const second = await get(`${base}/versions?limit=2&cursor=${first.body.nextCursor}`);
    expect(revisionsOf(second.body)).toEqual([c1]);
    expect(second.body.nextCursor).toBeNull();
    expect(second.body.versions[0]).toMatchObject({ head: false });
  });

  test.each([
    ['a file', 'a.rego', [1, 0]],
    ['a directory', 'team', [2, 0]],
    ['a path no commit touched', 'nowhere.rego', []],
  ])('keeps only commits touching %s', async (_name, path, expected) => {
    const { base, revisions } = await versionsApi();
    const response = await get(`${base}/versions?path=${encodeURIComponent(path)}`);
    expect(revisionsOf(response.body)).toEqual(expected.map((index) => revisions[index]));
  });

  test('answers an empty list for an empty store', async () => {
    const { base } = await emptyVersionsApi();
    expect((await get(`${base}/versions`)).body).toEqual({ versions: [], nextCursor: null });
  });

  test('refuses a cursor naming a revision the store does not have', async () => {
    const { base } = await versionsApi();
    expectProblem(await get(`${base}/versions?cursor=${encodeVersionsCursor('f'.repeat(40), 2)}`), 400, 'invalid_query', 'cursor');
  });
});

describe('GET /versions/:revision', () => {
  test.each([
    ['head', () => 'head', 2],
    ['active', () => 'active', 1],
    ['a full SHA', (revisions: string[]) => revisions[0]!, 0],
    ['a tag', () => 'v1', 0],
    ['a branch with a slash', () => 'feature/x', 1],
    ['a full ref name', () => 'refs/tags/v1', 0],
  ])('shows one version named by %s', async (_name, name, expected) => {
    const { base, revisions } = await versionsApi();
    const response = await get(`${base}/versions/${name(revisions)}`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ revision: revisions[expected], head: expected === 2, active: expected === 1 });
    expect(response.body.subject).toEqual(expect.any(String));
  });

  test.each([
    ['an unknown SHA', 'f'.repeat(40), 404, 'revision_not_found'],
    ['an unknown branch', 'nope', 404, 'revision_not_found'],
    ['a range', 'a..b', 400, 'invalid_revision'],
    ['a revision expression', 'HEAD~1', 400, 'invalid_revision'],
    ['an option', '-n', 400, 'invalid_revision'],
  ])('refuses %s', async (_name, name, status, code) => {
    const { base } = await versionsApi();
    expectProblem(await get(`${base}/versions/${encodeURIComponent(name)}`), status, code, 'revision');
  });

  test('answers 404 for active when nothing is active yet', async () => {
    const { base, state } = await versionsApi();
    state.active = undefined;
    expectProblem(await get(`${base}/versions/active`), 404, 'revision_not_found', 'revision');
  });
});

describe('GET /diff', () => {
  test('lists changed files with blob ids and the patch', async () => {
    const { base, store, revisions: [c1, , c3] } = await versionsApi();
    const response = await get(`${base}/diff?from=${c1}&to=head`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ ...(await store.diff(c1, c3)) });
    expect(response.body.files).toEqual([
      { path: 'a.rego', status: 'modified', oldBlobId: expect.any(String), newBlobId: expect.any(String) },
      { path: 'team/d.rego', status: 'added', newBlobId: expect.any(String) },
    ]);
    expect(response.body.patch).toContain('+allow := true');
  });

  test.each([
    ['Accept: text/x-diff', '', { accept: 'text/x-diff' }],
    ['format=patch', '&format=patch', { accept: 'application/json' }],
  ])('answers the bare patch as text/x-diff for %s', async (_name, extra, headers) => {
    const { base, store, revisions: [c1, c2] } = await versionsApi();
    const response = await get(`${base}/diff?from=${c1}&to=active${extra}`, headers);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/x-diff; charset=utf-8');
    expect(response.headers.get('vary')).toMatch(/Accept/);
    expect(response.text).toBe((await store.diff(c1, c2)).patch);
    expect(response.text).toContain('+allow := true');
  });

  test.each([
    ['from is missing', 'to=head', 400, 'invalid_query', 'from'],
    ['to is missing', 'from=head', 400, 'invalid_query', 'to'],
    ['from is malformed', 'from=a..b&to=head', 400, 'invalid_revision', 'from'],
    ['to is unknown', `from=head&to=${'0'.repeat(40)}`, 404, 'revision_not_found', 'to'],
    ['format is unknown', 'from=head&to=head&format=xml', 400, 'invalid_query', 'format'],
  ])('refuses a request where %s', async (_name, query, status, code, field) => {
    const { base } = await versionsApi();
    expectProblem(await get(`${base}/diff?${query}`), status, code, field);
  });
});

describe('query validation of the versions routes', () => {
  test.each([
    ['an unknown parameter', '/versions?author=bob', 'author'],
    ['a repeated parameter', '/versions?limit=1&limit=2', 'limit'],
    ['a bracketed parameter', '/versions?path[x]=a', 'path[x]'],
    ['limit 0', '/versions?limit=0', 'limit'],
    ['limit above 200', '/versions?limit=201', 'limit'],
    ['a fractional limit', '/versions?limit=1.5', 'limit'],
    ['a negative limit', '/versions?limit=-1', 'limit'],
    ['a non-numeric limit', '/versions?limit=ten', 'limit'],
    ['a cursor that was not handed out', '/versions?cursor=bm90LWEtY3Vyc29y', 'cursor'],
    ['any parameter on one version', '/versions/head?limit=1', 'limit'],
    ['an unknown diff parameter', '/diff?from=head&to=head&context=5', 'context'],
  ])('refuses %s with invalid_query naming it', async (_name, path, field) => {
    const { base } = await emptyVersionsApi();
    expectProblem(await get(`${base}${path}`), 400, 'invalid_query', field);
  });

  test('refuses an invalid path filter with invalid_path, even on an empty store', async () => {
    const { base } = await emptyVersionsApi();
    expectProblem(await get(`${base}/versions?path=..%2Fetc`), 400, 'invalid_path', 'path');
  });
});

describe('GET /audit', () => {
  async function auditApi() {
    let minute = 0;
    const audit = await FileAuditLog.open(join(tempDirForTest('regent-audit-'), 'audit.jsonl'), { now: () => new Date(Date.UTC(2026, 0, 1, 0, minute++)) });
    onTestFinished(() => audit.close());
    await audit.append({ action: 'policy.write', outcome: 'success', subject: 'alice', paths: ['team/a.rego'] });
    await audit.append({ action: 'write.refused', outcome: 'refused', subject: 'bob', paths: ['team/b.rego'], reason: 'head_moved' });
    await audit.append({ action: 'auth.refused', outcome: 'refused', subject: 'anonymous', reason: 'invalid_token' });
    await audit.append({ action: 'policy.write', outcome: 'success', subject: 'alice', paths: ['other/c.rego'] });
    return { base: await serve(createAuditRouter({ audit })) };
  }
  const seqs = (body: { records: Array<{ seq: number }> }) => body.records.map((record) => record.seq);

  test('returns records newest first and pages backwards with nextBefore', async () => {
    const { base } = await auditApi();
    const first = await get(`${base}/audit?limit=3`);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(seqs(first.body)).toEqual([4, 3, 2]);
    expect(first.body.records[1]).toMatchObject({ action: 'auth.refused', outcome: 'refused', subject: 'anonymous', at: '2026-01-01T00:02:00.000Z' });
    expect(first.body.nextBefore).toBe(2);
    const second = await get(`${base}/audit?limit=3&before=2`);
    expect(second.body).toEqual({ records: [expect.objectContaining({ seq: 1 })], nextBefore: null, chain: { chain: 'ok', brokenAt: null } });
    expect(second.headers.get('regent-audit-chain')).toBe('ok');
  });

  test.each([
    ['subject', 'subject=alice', [4, 1]],
    ['action', 'action=write.refused', [2]],
    ['a directory path', 'path=team', [2, 1]],
    ['a time window with a zone offset', `since=${encodeURIComponent('2026-01-01T01:01:00+01:00')}&until=2026-01-01T00:02:00Z`, [3, 2]],
    ['a date', 'until=2025-12-31', []],
  ])('filters by %s', async (_name, query, expected) => {
    const { base } = await auditApi();
    expect(seqs((await get(`${base}/audit?${query}`)).body)).toEqual(expected);
  });

  test.each([
    ['an unknown action', 'action=policy.deleted', 'action'],
    ['a time that is not ISO 8601', 'since=yesterday', 'since'],
    ['a date that does not exist', 'since=2026-02-30', 'since'],
    ['a date-time without a zone', 'until=2026-01-01T12:00:00', 'until'],
    ['until before since', 'since=2026-01-02&until=2026-01-01', 'until'],
    ['before 0', 'before=0', 'before'],
    ['a non-numeric before', 'before=abc', 'before'],
    ['limit above 500', 'limit=501', 'limit'],
    ['a path of only slashes', 'path=%2F', 'path'],
    ['a subject with a control character', 'subject=a%0Ab', 'subject'],
    ['an unknown parameter', 'actor=alice', 'actor'],
    ['a repeated parameter', 'action=auth.refused&action=policy.write', 'action'],
  ])('refuses %s with invalid_query naming it', async (_name, query, field) => {
    const { base } = await auditApi();
    expectProblem(await get(`${base}/audit?${query}`), 400, 'invalid_query', field);
  });
});

describe('parseTrailers', () => {
  test.each([
    ['trailers after a body', 'Subject\n\nBody.\n\nRegent-Request-Id: r1\nCo-authored-by: A <a@x>', [['Regent-Request-Id', 'r1'], ['Co-authored-by', 'A <a@x>']]],
    ['a folded value', 'Subject\n\nKey: first\n  second', [['Key', 'first second']]],
    ['repeated keys in order', 'S\n\nKey: 1\nKey: 2', [['Key', '1'], ['Key', '2']]],
    ['no trailers in a subject that looks like one', 'Fix: the thing', []],
    ['no trailers when the last paragraph has prose', 'S\n\nKey: v\nand some prose', []],
    ['no trailers in a message without a blank line', 'S\nKey: v', []],
  ])('finds %s', (_name, message, expected) => {
    expect(parseTrailers(message)).toEqual(expected.map(([key, value]) => ({ key, value })));
  });
});

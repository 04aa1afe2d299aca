import { describe, expect, test } from 'vitest';
import { git, openTestStore } from '../../test/helpers/git-repo.js';
import type { FileChange } from '../domain/store/policy-store.js';
import { MAX_PATCH_BYTES } from './history-reader.js';

const alice = { name: 'Alice Admin', email: 'alice@example.test' };
const bob = { name: 'Bob Builder', email: 'bob@example.test' };
const put = (path: string, content: string): FileChange => ({ op: 'put', path, content: Buffer.from(content) });

/** Four commits: root (a, b, team/c), modify a, rename b → d and add team/e, delete team/c. */
async function storeWithHistory() {
  const { store, dir } = await openTestStore();
  const date = (n: number) => new Date(Date.UTC(2026, 0, n, 12));
  const c1 = await store.commit({ changes: [put('a.rego', 'package a\n'), put('b.rego', 'package b\n'.repeat(20)), put('team/c.rego', 'package team.c\n')], message: 'root', author: alice, expectedHead: null, date: date(1) });
  const c2 = await store.commit({ changes: [put('a.rego', 'package a\n\nallow := true\n')], message: 'modify a\n\nwith a body', author: bob, expectedHead: c1.revision, date: date(2), trailers: { 'Regent-Request-Id': 'r2' } });
  const c3 = await store.commit({ changes: [{ op: 'delete', path: 'b.rego' }, put('d.rego', 'package b\n'.repeat(20)), put('team/e.rego', 'package team.e\n')], message: 'rename b', author: alice, expectedHead: c2.revision, date: date(3) });
  const c4 = await store.commit({ changes: [{ op: 'delete', path: 'team/c.rego' }], message: 'delete c', author: bob, expectedHead: c3.revision, date: date(4) });
  return { store, dir, revisions: [c1, c2, c3, c4].map((commit) => commit.revision) as [string, string, string, string] };
}

describe('log', () => {
  test('lists commits newest first with identities, dates, messages and files', async () => {
    const { store, revisions: [c1, c2, c3, c4] } = await storeWithHistory();
    const log = await store.log();
    expect(log.map((version) => version.revision)).toEqual([c4, c3, c2, c1]);
    const second = log[2]!;
    expect(second).toMatchObject({
      parents: [c1],
      tree: await store.treeOf(c2),
      author: { name: 'Bob Builder', email: 'bob@example.test', date: '2026-01-02T12:00:00+00:00' },
      committer: { name: 'Regent', email: 'regent@example.test', date: '2026-01-02T12:00:00+00:00' },
      message: 'modify a\n\nwith a body\n\nRegent-Request-Id: r2',
      files: [{ path: 'a.rego', status: 'modified' }],
    });
    expect(log[3]).toMatchObject({ parents: [], files: [{ path: 'a.rego', status: 'added' }, { path: 'b.rego', status: 'added' }, { path: 'team/c.rego', status: 'added' }] });
    expect(log[1]!.files).toEqual([{ path: 'd.rego', status: 'renamed' }, { path: 'team/e.rego', status: 'added' }]);
    expect(log[0]!.files).toEqual([{ path: 'team/c.rego', status: 'deleted' }]);
  });

  test('pages with limit and skip, and starts from any revision', async () => {
    const { store, revisions: [c1, c2, c3, c4] } = await storeWithHistory();
    expect((await store.log({ limit: 2 })).map((v) => v.revision)).toEqual([c4, c3]);
    expect((await store.log({ limit: 2, skip: 2 })).map((v) => v.revision)).toEqual([c2, c1]);
    expect(await store.log({ limit: 2, skip: 4 })).toEqual([]);
    expect((await store.log({ from: c2 })).map((v) => v.revision)).toEqual([c2, c1]);
  });

  test('filters by file or directory path', async () => {
    const { store, revisions: [c1, c2, c3, c4] } = await storeWithHistory();
    expect((await store.log({ path: 'a.rego' })).map((v) => v.revision)).toEqual([c2, c1]);
    expect((await store.log({ path: 'team' })).map((v) => v.revision)).toEqual([c4, c3, c1]);
    expect(await store.log({ path: 'nowhere.rego' })).toEqual([]);
    // A pathspec-looking name is a literal path, not a glob.
    expect(await store.log({ path: '*.rego' })).toEqual([]);
  });

  test.each([[0], [1001], [1.5], [-1]])('refuses limit %s', async (limit) => {
    const { store } = await openTestStore();
    await expect(store.log({ limit })).rejects.toMatchObject({ code: 'invalid_limit', details: { field: 'limit' } });
  });

  test('is empty for an empty store', async () => {
    const { store } = await openTestStore();
    expect(await store.log()).toEqual([]);
  });

  test('parses messages and names that contain separators and look like headers', async () => {
    const { store, dir, revisions } = await storeWithHistory();
    const tree = await store.treeOf(revisions[3]);
    const message = 'evil\x1e\x1fsubject\n\ntree 0000\nparent 1111\nauthor Mallory <m@x> 1 +0000\n';
    const hostile = (await git(['commit-tree', tree, '-p', revisions[3], '-m', message], {
      gitDir: dir, env: { GIT_AUTHOR_NAME: 'Ma\x1fllory', GIT_AUTHOR_EMAIL: 'm@example.test', GIT_AUTHOR_DATE: '1700000000 +0530' },
    })).trim();
    await git(['update-ref', 'refs/heads/main', hostile], { gitDir: dir });
    const [version] = await store.log({ limit: 1 });
    expect(version).toMatchObject({
      revision: hostile,
      parents: [revisions[3]],
      tree,
      author: { name: 'Ma\x1fllory', email: 'm@example.test', date: '2023-11-15T03:43:20+05:30' },
      message: message.trimEnd(),
      files: [],
    });
  });

  test('lists a merge commit\'s files against its first parent', async () => {
    const { store, dir, revisions: [c1, c2] } = await storeWithHistory();
    const side = await store.commit({ changes: [put('x.rego', 'x')], message: 'x', author: alice, expectedHead: (await store.head())! });
    const merge = (await git(['commit-tree', side.tree, '-p', side.revision, '-p', c1, '-m', 'merge'], { gitDir: dir })).trim();
    await git(['update-ref', 'refs/heads/main', merge], { gitDir: dir });
    expect(await store.show(merge)).toMatchObject({ parents: [side.revision, c1], files: [] });
    expect((await store.show(c2)).files).toEqual([{ path: 'a.rego', status: 'modified' }]);
  });
});

describe('diff', () => {
  test('reports added, modified, deleted and renamed files with blob ids and the patch', async () => {
    const { store, revisions: [c1, , , c4] } = await storeWithHistory();
    const diff = await store.diff(c1, c4);
    const blob = async (revision: string, path: string) => (await store.listTree(revision)).find((entry) => entry.path === path)?.blobId;
    expect(diff.from).toBe(c1);
    expect(diff.to).toBe(c4);
    expect(diff.files).toEqual([
      { path: 'a.rego', status: 'modified', oldBlobId: await blob(c1, 'a.rego'), newBlobId: await blob(c4, 'a.rego') },
      { path: 'd.rego', oldPath: 'b.rego', status: 'renamed', oldBlobId: await blob(c1, 'b.rego'), newBlobId: await blob(c4, 'd.rego') },
      { path: 'team/c.rego', status: 'deleted', oldBlobId: await blob(c1, 'team/c.rego') },
      { path: 'team/e.rego', status: 'added', newBlobId: await blob(c4, 'team/e.rego') },
    ]);
    expect(diff.patch).toContain('diff --git a/a.rego b/a.rego');
    expect(diff.patch).toContain('+allow := true');
    expect(diff.patch).toContain('rename from b.rego\nrename to d.rego');
    expect(diff.patch).toContain('deleted file mode 100644');
    expect(diff.patch).toContain('+package team.e');
  });

  test('cuts a huge patch with a note', async () => {
    const { store, revisions } = await storeWithHistory();
    const line = `${'x'.repeat(99)}\n`;
    const big = await store.commit({ changes: [put('big.json', line.repeat(30_000))], message: 'big', author: alice, expectedHead: revisions[3] });
    const diff = await store.diff(revisions[3], big.revision);
    expect(diff.files).toEqual([expect.objectContaining({ path: 'big.json', status: 'added' })]);
    expect(diff.patch.length).toBeLessThan(MAX_PATCH_BYTES + 100);
    expect(diff.patch).toMatch(/\[patch truncated at 2097152 bytes\]\n$/);
  });

  test('is empty between a revision and itself', async () => {
    const { store, revisions } = await storeWithHistory();
    expect(await store.diff(revisions[1], revisions[1])).toEqual({ from: revisions[1], to: revisions[1], files: [], patch: '' });
  });
});

describe('show', () => {
  test('shows one commit by SHA or name', async () => {
    const { store, revisions } = await storeWithHistory();
    expect(await store.show('head')).toEqual((await store.log({ limit: 1 }))[0]);
    expect((await store.show(revisions[0])).message).toBe('root');
  });
});

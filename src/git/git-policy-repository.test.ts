import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { git, gitRepo, openTestStore, SYSTEM_IDENTITY, tempDir } from '../../test/helpers/git-repo.js';
import { ConflictError, InputError, NotFoundError } from '../domain/errors.js';
import type { FileChange } from '../domain/store/policy-store.js';
import { GitPolicyRepository } from './git-policy-repository.js';
import { seedFromDirectory } from './seed-from-directory.js';

const alice = { name: 'Alice Admin', email: 'alice@example.test' };
const put = (path: string, content: string): FileChange => ({ op: 'put', path, content: Buffer.from(content) });

async function storeWith(files: Record<string, string>) {
  const opened = await openTestStore();
  const result = await opened.store.commit({
    changes: Object.entries(files).map(([path, content]) => put(path, content)),
    message: 'initial',
    author: alice,
    expectedHead: null,
  });
  return { ...opened, first: result.revision };
}

async function contentsAt(store: GitPolicyRepository, revision: string): Promise<Record<string, string | undefined>> {
  const entries = await store.listTree(revision);
  const blobs = await store.readBlobs(entries.map((entry) => entry.blobId));
  return Object.fromEntries(entries.map((entry) => [entry.path, blobs.get(entry.blobId)?.toString('utf8')]));
}

describe('GitPolicyRepository.open', () => {
  test('creates a bare repository on the branch with the hardening config', async () => {
    const { store, dir } = await openTestStore();
    expect(await store.head()).toBeUndefined();
    expect((await git(['rev-parse', '--is-bare-repository'], { gitDir: dir })).trim()).toBe('true');
    expect((await git(['symbolic-ref', 'HEAD'], { gitDir: dir })).trim()).toBe('refs/heads/main');
    const config = await git(['config', '--local', '--list'], { gitDir: dir });
    for (const line of [
      'core.hookspath=/dev/null', 'core.fsmonitor=false', 'core.logallrefupdates=always', 'core.fsync=committed',
      'receive.denynonfastforwards=true', 'receive.denydeletes=true', 'transfer.fsckobjects=true', 'gc.auto=0',
      'protocol.allow=never', 'protocol.file.allow=always', 'protocol.https.allow=always', 'protocol.ssh.allow=always',
    ]) {
      expect(config).toContain(line);
    }
  });

  test('reopens an existing store and keeps its history', async () => {
    const { store, dir, first } = await storeWith({ 'a.rego': 'package a\n' });
    await store.close();
    const again = await GitPolicyRepository.open({ dir, branch: 'main', systemIdentity: SYSTEM_IDENTITY, logger: store['logger'] });
    try {
      expect(await again.head()).toBe(first);
    } finally {
      await again.close();
    }
  });

  test('accepts a first push from outside and then refuses force-pushes and branch deletion', async () => {
    const { store, dir } = await openTestStore();
    const outside = await gitRepo({ 'policies/a.rego': 'package a\n' });
    await outside.git(['push', '--quiet', dir, 'main']);
    expect(await store.head()).toBe(outside.head);

    const unrelated = await gitRepo({ 'policies/evil.rego': 'package evil\n' });
    await expect(unrelated.git(['push', '--quiet', '--force', dir, 'main'])).rejects.toThrow(/non-fast-forward|denyNonFastForwards|rejected/);
    await expect(outside.git(['push', '--quiet', dir, ':main'])).rejects.toThrow(/deletion prohibited|rejected/);
    expect(await store.head()).toBe(outside.head);
  });

  test('refuses a non-empty directory that is not a repository', async () => {
    const dir = tempDir();
    await writeFile(join(dir, 'notes.txt'), 'hello');
    await expect(openTestStore({ dir })).rejects.toThrow(/not a git repository/);
  });

  test.each(['-x', 'a..b', 'HEAD', 'refs/heads/main', 'with space', ''])('refuses branch name %j', async (branch) => {
    await expect(openTestStore({ branch })).rejects.toMatchObject({ code: 'invalid_branch' });
  });
});

describe('seedFromDirectory', () => {
  test('commits every regular file except .git as one root commit, once', async () => {
    const source = join(tempDir(), 'policies-repo');
    await mkdir(join(source, 'rbac', 'nested'), { recursive: true });
    await mkdir(join(source, '.git'));
    await writeFile(join(source, '.git', 'config'), 'ignored');
    await writeFile(join(source, 'rbac', 'policy.rego'), 'package rbac\n');
    await writeFile(join(source, 'rbac', 'nested', 'data.json'), '{"a":1}');
    await writeFile(join(source, 'regent.yaml'), 'bundles: []\n');
    const { store, dir } = await openTestStore();

    const seeded = await seedFromDirectory(store, source, alice);

    expect(seeded).toMatchObject({ parent: null, revision: await store.head() });
    expect(await contentsAt(store, seeded!.revision)).toEqual({
      'rbac/nested/data.json': '{"a":1}', 'rbac/policy.rego': 'package rbac\n', 'regent.yaml': 'bundles: []\n',
    });
    expect((await git(['log', '-1', '--format=%s|%an'], { gitDir: dir })).trim()).toBe(`Seed policy store from ${basename(source)}|Alice Admin`);
    expect(await seedFromDirectory(store, source, alice)).toBeUndefined();
  });

  test('refuses a symlink and names it', async () => {
    const source = tempDir();
    await writeFile(join(source, 'real.rego'), 'package real\n');
    await symlink('/etc/passwd', join(source, 'leak.rego'));
    const { store } = await openTestStore();
    await expect(seedFromDirectory(store, source, alice)).rejects.toMatchObject({ code: 'unsupported_file', details: { file: 'leak.rego' } });
    expect(await store.head()).toBeUndefined();
  });
});

describe('commit', () => {
  test('puts, replaces and deletes files, including nested paths', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'package a\n', 'team/b.rego': 'package team.b\n' });
    const result = await store.commit({
      changes: [put('a.rego', 'package a\n\nallow := true\n'), { op: 'delete', path: 'team/b.rego' }, put('x/y/z/data.json', '{}')],
      message: 'change', author: alice, expectedHead: first,
    });
    expect(result.parent).toBe(first);
    expect(result.tree).toBe(await store.treeOf(result.revision));
    expect(await store.head()).toBe(result.revision);
    expect(await contentsAt(store, result.revision)).toEqual({ 'a.rego': 'package a\n\nallow := true\n', 'x/y/z/data.json': '{}' });
    expect(await contentsAt(store, first)).toEqual({ 'a.rego': 'package a\n', 'team/b.rego': 'package team.b\n' });
  });

  test('refuses to delete a file that does not exist', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'package a\n' });
    await expect(store.commit({ changes: [{ op: 'delete', path: 'team' }], message: 'm', author: alice, expectedHead: first }))
      .rejects.toMatchObject({ constructor: NotFoundError, code: 'file_not_found', details: { file: 'team' } });
  });

  test('refuses a change that leaves the tree as it is', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'package a\n' });
    await expect(store.commit({ changes: [put('a.rego', 'package a\n')], message: 'm', author: alice, expectedHead: first }))
      .rejects.toMatchObject({ constructor: InputError, code: 'no_changes' });
    expect(await store.head()).toBe(first);
  });

  test.each([
    ['a file under an existing file', [put('a.rego/x.rego', 'x')], 'a.rego'],
    ['a file over an existing directory', [put('team', 'x')], 'team'],
    ['a file and a file under it', [put('n', 'x'), put('n/m', 'y')], 'n'],
  ])('refuses %s instead of silently deleting the other', async (_name, changes, conflictsWith) => {
    const { store, first } = await storeWith({ 'a.rego': 'a', 'team/b.rego': 'b' });
    await expect(store.commit({ changes, message: 'm', author: alice, expectedHead: first }))
      .rejects.toMatchObject({ code: 'path_conflict', details: { conflictsWith } });
  });

  test('replaces a file by a directory when the same change deletes the file', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'a' });
    const result = await store.commit({ changes: [{ op: 'delete', path: 'a.rego' }, put('a.rego/x', 'x')], message: 'm', author: alice, expectedHead: first });
    expect(await contentsAt(store, result.revision)).toEqual({ 'a.rego/x': 'x' });
  });

  test('lets exactly one of ten concurrent commits on the same head win', async () => {
    const { store, dir, first } = await storeWith({ 'a.rego': 'a' });
    const attempts = await Promise.allSettled(Array.from({ length: 10 }, (_, index) =>
      store.commit({ changes: [put(`file-${index}.rego`, String(index))], message: `attempt ${index}`, author: alice, expectedHead: first })));

    const winners = attempts.filter((attempt) => attempt.status === 'fulfilled');
    const losers = attempts.filter((attempt): attempt is PromiseRejectedResult => attempt.status === 'rejected');
    expect(winners).toHaveLength(1);
    const winner = (winners[0] as PromiseFulfilledResult<{ revision: string }>).value.revision;
    expect(losers).toHaveLength(9);
    for (const loser of losers) {
      expect(loser.reason).toBeInstanceOf(ConflictError);
      expect(loser.reason).toMatchObject({ code: 'head_moved', details: { head: winner, expectedHead: first } });
    }
    expect((await git(['rev-list', '--count', `${first}..main`], { gitDir: dir })).trim()).toBe('1');
  });

  test('refuses expectedHead null when the branch exists', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'a' });
    await expect(store.commit({ changes: [put('b', 'b')], message: 'm', author: alice, expectedHead: null }))
      .rejects.toMatchObject({ constructor: ConflictError, code: 'head_moved', details: { head: first } });
  });

  test('refuses a commit whose base was moved by another process, leaving the branch alone', async () => {
    const { store, dir, first } = await storeWith({ 'a.rego': 'a' });
    const second = await store.commit({ changes: [put('b', 'b')], message: 'second', author: alice, expectedHead: first });
    await git(['update-ref', 'refs/heads/main', first, second.revision], { gitDir: dir });
    await expect(store.commit({ changes: [put('c', 'c')], message: 'm', author: alice, expectedHead: second.revision }))
      .rejects.toMatchObject({ code: 'head_moved', details: { head: first } });
    expect(await store.head()).toBe(first);
  });

  test('records author, committer, date and trailers exactly', async () => {
    const { store, dir, first } = await storeWith({ 'a.rego': 'a' });
    const committer = { name: 'Regent API', email: 'api@example.test' };
    const date = new Date('2026-01-02T03:04:05Z');
    const { revision } = await store.commit({
      changes: [put('b', 'b')], message: 'Add b\n\nBecause.', author: alice, committer, date, expectedHead: first,
      trailers: { 'Regent-Request-Id': 'req-1', 'Regent-Actor': 'sub=alice; jti=42' },
    });
    const format = '%an|%ae|%at|%cn|%ce|%ct%n%B';
    expect(await git(['log', '-1', `--format=${format}`, revision], { gitDir: dir })).toBe(
      `Alice Admin|alice@example.test|1767323045|Regent API|api@example.test|1767323045\n`
      + 'Add b\n\nBecause.\n\nRegent-Request-Id: req-1\nRegent-Actor: sub=alice; jti=42\n\n',
    );
    expect((await git(['log', '-1', '--format=%cn <%ce>', first], { gitDir: dir })).trim()).toBe('Regent <regent@example.test>');
  });

  test.each([
    ['a name with a trailing dot git would strip', { name: 'Eve.', email: 'eve@example.test' }],
    ['a name with angle brackets', { name: 'Eve <evil@x>', email: 'eve@example.test' }],
    ['a name with a newline', { name: 'Eve\nSigned-off-by: ceo', email: 'eve@example.test' }],
    ['an empty email', { name: 'Eve', email: '' }],
    ['an email with a NUL', { name: 'Eve', email: 'eve@x\0' }],
  ])('refuses an author with %s', async (_name, author) => {
    const { store, first } = await storeWith({ 'a.rego': 'a' });
    await expect(store.commit({ changes: [put('b', 'b')], message: 'm', author, expectedHead: first }))
      .rejects.toMatchObject({ constructor: InputError, code: 'invalid_identity', details: { field: 'author' } });
  });

  test('rolls back by committing an older tree on top of head', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'one' });
    const second = await store.commit({ changes: [put('a.rego', 'two'), put('b', 'b')], message: 'm', author: alice, expectedHead: first });
    const rollback = await store.commit({ changes: [], tree: await store.treeOf(first), message: `Roll back to ${first}`, author: alice, expectedHead: second.revision });
    expect(rollback.parent).toBe(second.revision);
    expect(rollback.tree).toBe(await store.treeOf(first));
    expect(await contentsAt(store, rollback.revision)).toEqual({ 'a.rego': 'one' });
  });

  test.each([
    ['../x.rego'], ['a/../b'], ['/abs'], ['a//b'], ['a/'], ['./a'], ['nul\0byte'], ['back\\slash'], ['.git/config'], ['x'.repeat(256)], [''],
  ])('refuses the path %j before calling git', async (path) => {
    const { store, first } = await storeWith({ 'a.rego': 'a' });
    await expect(store.commit({ changes: [put(path, 'x')], message: 'm', author: alice, expectedHead: first }))
      .rejects.toMatchObject({ constructor: InputError, code: 'invalid_path', details: { field: 'path' } });
    await expect(store.log({ path })).rejects.toMatchObject({ code: 'invalid_path', details: { field: 'path' } });
  });
});

describe('resolve', () => {
  test('resolves head, a full SHA, a branch, a lightweight and an annotated tag to commits', async () => {
    const { store, dir, first } = await storeWith({ 'a.rego': 'a' });
    const second = await store.commit({ changes: [put('b', 'b')], message: 'm', author: alice, expectedHead: first });
    await git(['tag', 'light', first], { gitDir: dir });
    await git(['tag', '-a', '-m', 'release', 'v1', first], { gitDir: dir });
    await git(['branch', 'team/feature', first], { gitDir: dir });
    expect(await store.resolve('head')).toBe(second.revision);
    expect(await store.resolve(first)).toBe(first);
    expect(await store.resolve('main')).toBe(second.revision);
    expect(await store.resolve('team/feature')).toBe(first);
    expect(await store.resolve('refs/heads/team/feature')).toBe(first);
    expect(await store.resolve('light')).toBe(first);
    expect(await store.resolve('v1')).toBe(first);
  });

  test('answers NotFoundError for unknown names, unknown SHAs and non-commit objects', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'a' });
    const tree = await store.treeOf(first);
    for (const ref of ['nope', 'a'.repeat(40), tree, 'abc1234', 'A'.repeat(40)]) {
      await expect(store.resolve(ref)).rejects.toMatchObject({ constructor: NotFoundError, code: 'revision_not_found' });
    }
  });

  test('answers NotFoundError for head of an empty store', async () => {
    const { store } = await openTestStore();
    await expect(store.resolve('head')).rejects.toMatchObject({ code: 'revision_not_found' });
  });

  test('refuses a name that is both a branch and a tag at different commits', async () => {
    const { store, dir, first } = await storeWith({ 'a.rego': 'a' });
    const second = await store.commit({ changes: [put('b', 'b')], message: 'm', author: alice, expectedHead: first });
    await git(['tag', 'main', first], { gitDir: dir });
    await expect(store.resolve('main')).rejects.toMatchObject({ code: 'ambiguous_revision' });
    expect(await store.resolve('refs/heads/main')).toBe(second.revision);
  });

  test('refuses option-shaped and expression revisions without running them', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'a' });
    const target = join(tempDir(), 'x');
    const hostile = [`--output=${target}`, '-x', 'a..b', 'HEAD~1', 'main^', 'main@{1}', '@', ':/a', 'with space', ''];
    for (const ref of hostile) {
      await expect(store.resolve(ref)).rejects.toMatchObject({ constructor: InputError, code: 'invalid_revision', details: { field: 'revision' } });
      await expect(store.listTree(ref)).rejects.toMatchObject({ code: 'invalid_revision' });
      await expect(store.log({ from: ref })).rejects.toMatchObject({ code: 'invalid_revision', details: { field: 'from' } });
      await expect(store.diff(ref, first)).rejects.toMatchObject({ code: 'invalid_revision', details: { field: 'from' } });
      await expect(store.show(ref)).rejects.toMatchObject({ code: 'invalid_revision' });
    }
    expect(existsSync(target)).toBe(false);
  });
});

describe('listTree and readBlobs', () => {
  test('lists kinds and sizes of every file, including executables and symlinks pushed from outside', async () => {
    const { store, dir, first } = await storeWith({ 'a.rego': 'package a\n' });
    const outside = join(tempDir(), 'clone');
    await git(['clone', '--quiet', dir, outside]);
    await writeFile(join(outside, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await symlink('a.rego', join(outside, 'link.rego'));
    await git(['add', '--all'], { cwd: outside });
    await git(['commit', '--quiet', '-m', 'outside'], { cwd: outside });
    await git(['push', '--quiet', 'origin', 'main'], { cwd: outside });

    const entries = await store.listTree('main');
    expect(entries.map(({ path, kind, size }) => ({ path, kind, size }))).toEqual([
      { path: 'a.rego', kind: 'file', size: 10 },
      { path: 'link.rego', kind: 'symlink', size: 6 },
      { path: 'run.sh', kind: 'executable', size: 10 },
    ]);
    expect(await store.isAncestor(first, 'main')).toBe(true);
  });

  test('reads 1,000 blobs, binary and empty included, in one round trip', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'a' });
    const files = Array.from({ length: 1000 }, (_, index) => put(`many/f${index}.json`, `{"n":${index}}`.repeat(index % 7)));
    const binary: FileChange = { op: 'put', path: 'bin.dat', content: Buffer.from([0, 10, 255, 13, 10, 0]) };
    const { revision } = await store.commit({ changes: [...files, binary], message: 'many', author: alice, expectedHead: first });
    const entries = await store.listTree(revision);
    await store.readBlobs(entries.slice(0, 1).map((entry) => entry.blobId)); // warm the reader

    const started = performance.now();
    const blobs = await store.readBlobs(entries.map((entry) => entry.blobId));
    const elapsed = performance.now() - started;

    console.info(`readBlobs: ${entries.length} blobs in ${elapsed.toFixed(1)} ms`);
    expect(elapsed).toBeLessThan(500);
    const byPath = new Map(entries.map((entry) => [entry.path, blobs.get(entry.blobId)]));
    expect(byPath.get('bin.dat')).toEqual(Buffer.from([0, 10, 255, 13, 10, 0]));
    expect(byPath.get('many/f7.json')?.toString()).toBe('');
    expect(byPath.get('many/f999.json')?.toString()).toBe('{"n":999}'.repeat(999 % 7));
  });

  test('serves concurrent readers their own blobs', async () => {
    const { store, first } = await storeWith({ 'a': 'A'.repeat(100_000), 'b': 'B'.repeat(70_000), 'c': 'c' });
    const entries = await store.listTree(first);
    const ids = entries.map((entry) => entry.blobId);
    const results = await Promise.all(Array.from({ length: 20 }, (_, index) => store.readBlobs([ids[index % 3]!])));
    results.forEach((result, index) => {
      const entry = entries[index % 3]!;
      expect(result.get(entry.blobId)?.length).toBe(entry.size);
    });
  });

  test('refuses unknown and malformed blob ids', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'a' });
    await expect(store.readBlobs(['b'.repeat(40)])).rejects.toMatchObject({ constructor: NotFoundError, code: 'blob_not_found' });
    await expect(store.readBlobs([await store.treeOf(first)])).rejects.toMatchObject({ code: 'blob_not_found' });
    await expect(store.readBlobs(['--batch'])).rejects.toMatchObject({ constructor: InputError, code: 'invalid_blob_id' });
  });

  test('starts a new object reader when the old one dies', async () => {
    const { store, first } = await storeWith({ 'a.rego': 'package a\n' });
    const [entry] = await store.listTree(first);
    await store.readBlobs([entry!.blobId]);
    const readers = catFileChildren();
    expect(readers.length).toBeGreaterThan(0);
    for (const pid of readers) process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await store.readBlobs([entry!.blobId])).get(entry!.blobId)?.toString()).toBe('package a\n');
  });
});

describe('isAncestor', () => {
  test('answers true for ancestors and the commit itself, false otherwise', async () => {
    const { store, dir, first } = await storeWith({ 'a.rego': 'a' });
    const second = await store.commit({ changes: [put('b', 'b')], message: 'm', author: alice, expectedHead: first });
    const side = (await git(['commit-tree', await store.treeOf(first), '-m', 'side'], { gitDir: dir })).trim();
    expect(await store.isAncestor(first, second.revision)).toBe(true);
    expect(await store.isAncestor(second.revision, second.revision)).toBe(true);
    expect(await store.isAncestor(second.revision, first)).toBe(false);
    expect(await store.isAncestor(side, second.revision)).toBe(false);
    await expect(store.isAncestor('c'.repeat(40), first)).rejects.toMatchObject({ code: 'revision_not_found', details: { field: 'ancestor' } });
  });
});

/** PIDs of `git cat-file` processes started by this test process (Linux /proc). */
function catFileChildren(): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      return ppid === process.pid && cmdline.includes('cat-file') ? [Number(name)] : [];
    } catch {
      return [];
    }
  });
}

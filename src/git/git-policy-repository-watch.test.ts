import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { git, openTestStore, tempDir } from '../../test/helpers/git-repo.js';
import type { FileChange } from '../domain/store/policy-store.js';

const alice = { name: 'Alice Admin', email: 'alice@example.test' };
const put = (path: string, content: string): FileChange => ({ op: 'put', path, content: Buffer.from(content) });

/** Resolves with the first head reported after `since`, or rejects after `ms`. */
function nextHead(heads: Array<string | undefined>, since: number, ms: number): Promise<string | undefined> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (heads.length > since) return resolve(heads[since]);
      if (Date.now() - started > ms) return reject(new Error(`no head change within ${ms} ms`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

describe('onHeadChange', () => {
  test('reports our own commit before commit() resolves', async () => {
    const { store } = await openTestStore();
    const heads: Array<string | undefined> = [];
    store.onHeadChange((head) => heads.push(head));
    const result = await store.commit({ changes: [put('a', 'a')], message: 'm', author: alice, expectedHead: null });
    expect(heads).toEqual([result.revision]);
  });

  test('reports an update-ref by another process within a second, once', async () => {
    const { store, dir } = await openTestStore({ watchIntervalMs: 5_000 });
    const first = await store.commit({ changes: [put('a', 'a')], message: 'm', author: alice, expectedHead: null });
    const second = await store.commit({ changes: [put('b', 'b')], message: 'm', author: alice, expectedHead: first.revision });
    const heads: Array<string | undefined> = [];
    store.onHeadChange((head) => heads.push(head));

    const started = Date.now();
    await git(['update-ref', 'refs/heads/main', first.revision, second.revision], { gitDir: dir });
    expect(await nextHead(heads, 0, 1_000)).toBe(first.revision);
    console.info(`outside update-ref seen after ${Date.now() - started} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(heads).toEqual([first.revision]);
  });

  test('reports a git push into the store within a second', async () => {
    const { store, dir } = await openTestStore({ watchIntervalMs: 5_000 });
    await store.commit({ changes: [put('a.rego', 'package a\n')], message: 'm', author: alice, expectedHead: null });
    const heads: Array<string | undefined> = [];
    store.onHeadChange((head) => heads.push(head));
    const clone = join(tempDir(), 'clone');
    await git(['clone', '--quiet', dir, clone]);
    await git(['commit', '--quiet', '--allow-empty', '-m', 'pushed'], { cwd: clone });
    const pushed = (await git(['rev-parse', 'HEAD'], { cwd: clone })).trim();

    await git(['push', '--quiet', 'origin', 'main'], { cwd: clone });

    expect(await nextHead(heads, 0, 1_000)).toBe(pushed);
  });

  test('reports an outside move of a branch whose ref had been packed', async () => {
    const { store, dir } = await openTestStore({ watchIntervalMs: 5_000 });
    const first = await store.commit({ changes: [put('a', 'a')], message: 'm', author: alice, expectedHead: null });
    await store.commit({ changes: [put('b', 'b')], message: 'm', author: alice, expectedHead: first.revision });
    await git(['pack-refs', '--all'], { gitDir: dir });
    const heads: Array<string | undefined> = [];
    store.onHeadChange((head) => heads.push(head));
    await git(['update-ref', 'refs/heads/main', first.revision], { gitDir: dir });
    expect(await nextHead(heads, 0, 1_000)).toBe(first.revision);
  });

  test('falls back to polling when the ref directory cannot be watched yet', async () => {
    // refs/heads/team/ does not exist in an empty store, so only the poll can see the first commit.
    const { store, dir } = await openTestStore({ branch: 'team/main', watchIntervalMs: 100 });
    const heads: Array<string | undefined> = [];
    store.onHeadChange((head) => heads.push(head));
    const tree = (await git(['hash-object', '-t', 'tree', '-w', '/dev/null'], { gitDir: dir })).trim();
    const commit = (await git(['commit-tree', tree, '-m', 'outside'], { gitDir: dir })).trim();
    await git(['update-ref', 'refs/heads/team/main', commit], { gitDir: dir });
    expect(await nextHead(heads, 0, 1_000)).toBe(commit);
  });

  test('stops calling a listener after it unsubscribes and after close', async () => {
    const { store, dir } = await openTestStore({ watchIntervalMs: 50 });
    const first = await store.commit({ changes: [put('a', 'a')], message: 'm', author: alice, expectedHead: null });
    const kept: Array<string | undefined> = [];
    const dropped: Array<string | undefined> = [];
    store.onHeadChange((head) => kept.push(head));
    const unsubscribe = store.onHeadChange((head) => dropped.push(head));
    unsubscribe();
    const second = await store.commit({ changes: [put('b', 'b')], message: 'm', author: alice, expectedHead: first.revision });
    expect(kept).toEqual([second.revision]);
    expect(dropped).toEqual([]);

    await store.close();
    await git(['update-ref', 'refs/heads/main', first.revision], { gitDir: dir });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(kept).toEqual([second.revision]);
  });

  test('keeps notifying other listeners when one throws', async () => {
    const { store } = await openTestStore();
    const heads: Array<string | undefined> = [];
    store.onHeadChange(() => {
      throw new Error('listener bug');
    });
    store.onHeadChange((head) => heads.push(head));
    const result = await store.commit({ changes: [put('a', 'a')], message: 'm', author: alice, expectedHead: null });
    expect(heads).toEqual([result.revision]);
  });
});

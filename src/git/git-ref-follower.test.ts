import { describe, expect, test } from 'vitest';
import { git, openTestStore, silentLogger, SYSTEM_IDENTITY } from '../../test/helpers/git-repo.js';
import { ConflictError, InputError } from '../domain/errors.js';
import type { FileChange } from '../domain/store/policy-store.js';
import { environmentRefName, GitRefFollower } from './git-ref-follower.js';

const alice = { name: 'Alice Admin', email: 'alice@example.test' };
const put = (path: string, content: string): FileChange => ({ op: 'put', path, content: Buffer.from(content) });

async function storeWithTwoCommits() {
  const { store, dir } = await openTestStore({ watchIntervalMs: 5_000 });
  const first = await store.commit({ changes: [put('a', 'a')], message: 'm', author: alice, expectedHead: null });
  const second = await store.commit({ changes: [put('b', 'b')], message: 'm', author: alice, expectedHead: first.revision });
  const follower = await GitRefFollower.open({ dir, ref: 'tags/prod', trackedBranch: 'main', store, systemIdentity: SYSTEM_IDENTITY, intervalMs: 5_000, logger: silentLogger() });
  return { store, dir, first: first.revision, second: second.revision, follower };
}

describe('environmentRefName', () => {
  test.each(['tags/prod', 'heads/release', 'tags/env/prod', 'heads/release-1.2'])('accepts %s', (ref) => {
    expect(environmentRefName(ref, 'main')).toBe(`refs/${ref}`);
  });

  test.each(['prod', 'refs/tags/prod', 'regent/remote/main', 'heads/main', 'tags/a..b', 'tags/x.lock', 'tags/@{-1}', 'tags/a b', 'tags/', 'notes/prod', 'tags/-', 'heads/x~1', 'tags/.hidden'])('refuses %s naming the field', (ref) => {
    let thrown: unknown;
    try {
      environmentRefName(ref, 'main', 'environments.0.ref');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).code).toBe('invalid_environment_ref');
    expect((thrown as InputError).details.field).toBe('environments.0.ref');
  });
});

describe('GitRefFollower', () => {
  test('head() is undefined without the tag, peels lightweight and annotated tags, and hears outside moves', async () => {
    const { dir, first, second, follower } = await storeWithTwoCommits();
    expect(await follower.head()).toBeUndefined();
    const heads: Array<string | undefined> = [];
    follower.onHeadChange((head) => heads.push(head));
    await git(['tag', 'prod', first], { gitDir: dir });
    await expect.poll(() => heads, { timeout: 3_000 }).toEqual([first]);
    await git(['tag', '-f', '-a', '-m', 'release', 'prod', second], { gitDir: dir });
    await expect.poll(() => heads, { timeout: 3_000 }).toEqual([first, second]);
    expect(await follower.head()).toBe(second);
    follower.close();
  });

  test('move() writes an annotated tag by the actor, by compare-and-swap on the commit it names', async () => {
    const { dir, first, second, follower } = await storeWithTwoCommits();
    await follower.move({ to: first, expected: null, actor: alice, message: 'First release', trailers: { 'Regent-Actor': 'alice (admin)' } });
    const tag = await git(['cat-file', '-p', 'refs/tags/prod'], { gitDir: dir });
    expect(tag).toContain(`object ${first}\ntype commit\ntag prod\ntagger Alice Admin <alice@example.test> `);
    expect(tag).toContain('First release\n\nRegent-Actor: alice (admin)\n');

    await expect(follower.move({ to: second, expected: null, actor: alice, message: 'again' })).rejects.toMatchObject({ code: 'environment_moved', details: { revision: first } });
    await expect(follower.move({ to: second, expected: second, actor: alice, message: 'stale' })).rejects.toBeInstanceOf(ConflictError);
    await follower.move({ to: second, expected: first, actor: alice, message: 'Second release' });
    expect(await follower.head()).toBe(second);
    await expect(follower.move({ to: 'HEAD~1', expected: second, actor: alice, message: 'x' })).rejects.toMatchObject({ code: 'invalid_revision' });
    follower.close();
  });
});

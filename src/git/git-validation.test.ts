import { describe, expect, test } from 'vitest';
import { git } from '../../test/helpers/git-repo.js';
import { assertIdentity, assertPolicyPath, isSha, isValidRefName } from './git-validation.js';

const REF_NAMES = [
  'main', 'team/feature-1', 'v1.2.3', 'release/2026.01', 'a_b', 'Ünïcode', 'HEAD', 'refs/heads/main', 'x.lockx',
  'a..b', 'a/.b', '.a', 'a.lock', 'a/b.lock/c', 'a/', '/a', 'a//b', 'a.', '@', 'a@{1}', 'a b', 'a~1', 'a^', 'a:b',
  'a?', 'a*', 'a[', 'a\\b', 'tab\there', 'del\x7f', '',
];

describe('isValidRefName', () => {
  test.each(REF_NAMES)('agrees with git check-ref-format --allow-onelevel on %j', async (name) => {
    const accepted = await git(['check-ref-format', '--allow-onelevel', name]).then(() => true, () => false);
    expect(isValidRefName(name)).toBe(accepted);
  });

  test.each(['-x', '--output=/tmp/x', `${'a'.repeat(256)}`])('refuses %j, which git alone would accept', (name) => {
    expect(isValidRefName(name)).toBe(false);
  });
});

describe('isSha', () => {
  test.each([
    ['a'.repeat(40), true], ['A'.repeat(40), false], ['a'.repeat(39), false], ['a'.repeat(64), false], [`${'a'.repeat(40)}\n`, false], [42, false],
  ])('%j → %s', (value, expected) => {
    expect(isSha(value)).toBe(expected);
  });
});

describe('assertPolicyPath', () => {
  test.each(['a.rego', 'team/x/data.json', 'with space/é.rego', '.manifest-like', 'a..b.rego', `${'a'.repeat(255)}`])('accepts %j', (path) => {
    expect(() => assertPolicyPath(path)).not.toThrow();
  });

  test.each([
    '../x.rego', 'a/../b', 'a/./b', '/abs', 'a//b', 'a/', '', 'nul\0', 'nl\n', 'back\\slash', '.git/config', 'x/.GIT/y', `${'é'.repeat(128)}`, 42,
  ])('refuses %j with InputError naming the field', (path) => {
    expect(() => assertPolicyPath(path, 'changes')).toThrow(expect.objectContaining({ code: 'invalid_path', details: { field: 'changes' } }));
  });
});

describe('assertIdentity', () => {
  test.each([
    { name: 'J. R. R. Tolkien', email: 'jrr@example.test' },
    { name: 'Zoë', email: 'zoe+policy@example.test' },
  ])('accepts %j', (identity) => {
    expect(() => assertIdentity(identity, 'author')).not.toThrow();
  });

  test.each([
    { name: ' Eve', email: 'e@x' }, { name: 'Eve,', email: 'e@x' }, { name: 'Eve', email: 'e@x.' }, { name: 'E<v>e', email: 'e@x' },
    { name: 'Eve', email: '' }, { name: '', email: 'e@x' }, { name: 'x'.repeat(257), email: 'e@x' }, { name: 'Eve' }, null,
  ])('refuses %j', (identity) => {
    expect(() => assertIdentity(identity, 'committer')).toThrow(expect.objectContaining({ code: 'invalid_identity', details: { field: 'committer' } }));
  });
});

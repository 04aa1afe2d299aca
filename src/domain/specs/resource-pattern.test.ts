import { describe, expect, test } from 'vitest';
import { matchesPattern, patternProblem, patternRegex, patternShape } from './resource-pattern.js';

describe('resource patterns match as in IAM policies', () => {
  test.each([
    ['my-bucket/*', 'my-bucket/', true],
    ['my-bucket/*', 'my-bucket/a/b/c.txt', true],
    ['my-bucket/*', 'my-bucket', false],
    ['my-bucket/*', 'my-bucket-2/x', false],
    ['*', '', true],
    ['*', 'any/thing', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['a?c', 'a/c', true],
    ['a?c', 'a😀c', true],
    ['a??c', 'a😀c', false],
    ['a*c', 'a\nc', true],
    ['a?c', 'a\nc', true],
    ['*.txt', 'dir/x.txt', true],
    ['*.txt', 'dir/xtxt', false],
    ['a.b', 'axb', false],
    ['a.b', 'a.b', true],
    ['a+b', 'aab', false],
    ['a+b', 'a+b', true],
    ['[ab]', 'a', false],
    ['[ab]', '[ab]', true],
    ['{a,b}', 'a', false],
    ['{a,b}', '{a,b}', true],
    ['a\\*', 'a\\xyz', true],
    ['a\\?', 'a\\', false],
    ['^a$', '^a$', true],
    ['(a|b)', 'a', false],
    ['*a*b*', 'xxaxxbxx', true],
    ['*a*b*', 'xxbxxaxx', false],
    ['a**', 'a', true],
  ])('%j against %j: %s', (pattern, value, expected) => {
    expect(matchesPattern(pattern, value)).toBe(expected);
    // The regular expression OPA gets says the same (JavaScript's `u` + `s` flags read RE2's subset alike).
    expect(new RegExp(patternRegex(pattern).replace(/^\(\?s\)/, ''), 'su').test(value)).toBe(expected);
  });

  test('compiles to the plainest test: equality, a prefix, any string, or an anchored expression', () => {
    expect(patternShape('my-bucket/my-object-1.txt')).toEqual({ kind: 'exact', value: 'my-bucket/my-object-1.txt' });
    expect(patternShape('my-bucket/*')).toEqual({ kind: 'prefix', prefix: 'my-bucket/' });
    expect(patternShape('**')).toEqual({ kind: 'any' });
    expect(patternShape('b/*.csv')).toEqual({ kind: 'pattern', regex: '(?s)^b/.*\\.csv$' });
    expect(patternShape('b/a?[x]{1}+(y)|^$\\')).toEqual({ kind: 'pattern', regex: '(?s)^b/a.\\[x\\]\\{1\\}\\+\\(y\\)\\|\\^\\$\\\\$' });
  });

  test.each([
    ['', 'is empty'],
    ['/b/*', "starts with '/'"],
    ['b/\n', 'control character'],
    ['x'.repeat(1025), 'longer than 1024'],
  ])('%j cannot be a pattern: it %s', (pattern, reason) => {
    expect(patternProblem(pattern)).toContain(reason);
  });
});

import { describe, expect, test } from 'vitest';
import { testRuleHeads } from './opa-verdicts.js';

describe('testRuleHeads', () => {
  test.each([
    ['plain heads', 'package a\n\ntest_one if true\ntest_two := true\n', ['test_one', 'test_two']],
    ['a raw string line starting with test_ is text', 'package a\n\nhelp := `\ntest_phantom is text\n`\n\ntest_real if true\n', ['test_real']],
    ['a raw string holding a double quote and a hash', 'package a\n\nx := `"#\ntest_no`\ntest_yes if true\n', ['test_yes']],
    ['a string holding a backquote', 'package a\n\nx := "`"\ntest_after if true\n', ['test_after']],
    ['an escaped quote in a string', 'package a\n\nx := "\\"`"\ntest_after if true\n', ['test_after']],
    ['a comment holding a backquote', 'package a\n\n# `\ntest_after if true\n', ['test_after']],
    ['indented or inner references are not heads', 'package a\n\n  test_indented if true\nx if { test_one }\n', []],
  ])('%s', (_name, source, names) => {
    expect(testRuleHeads(source)).toEqual(names);
  });
});

import { describe, expect, test } from 'vitest';
import { regoPackagePath } from './rego-package.js';

describe('regoPackagePath', () => {
  test.each([
    ['package rbac\n', ['rbac']],
    ['# METADATA\n# title: x\npackage rbac.workflows # trailing comment\n\nallow := true', ['rbac', 'workflows']],
    ['package a["b-c"].d\n', ['a', 'b-c', 'd']],
    ['package data.teams.x\n', ['teams', 'x']],
  ])('reads %j', (source, expected) => {
    expect(regoPackagePath(source, 'p.rego')).toEqual(expected);
  });

  test.each([
    ['allow := true\n'],
    [''],
    ['package 1abc\n'],
  ])('refuses a module without a readable package: %j', (source) => {
    expect(() => regoPackagePath(source, 'p.rego')).toThrow(/p\.rego/);
  });
});

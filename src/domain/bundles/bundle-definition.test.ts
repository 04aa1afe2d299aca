import { describe, expect, test } from 'vitest';
import { BuildError } from '../errors.js';
import { parseBundleDefinitions } from './bundle-definition.js';

function failure(text: string): BuildError {
  try {
    parseBundleDefinitions(text);
  } catch (error) {
    if (error instanceof BuildError) return error;
    throw error;
  }
  throw new Error('expected a BuildError');
}

describe('parseBundleDefinitions', () => {
  test('reads names, paths, roots, signing key id and metadata; paths default to the roots', () => {
    const definitions = parseBundleDefinitions([
      'bundles:',
      '  rbac:',
      '    paths: [rbac, shared/rbac]',
      '    roots: [rbac/]',
      '    signing: { keyid: team-key }',
      '    metadata: { owner: platform }',
      '  teams/datasets:',
      '    roots: [datasets]',
    ].join('\n'));
    expect(definitions).toEqual([
      { name: 'rbac', paths: ['rbac', 'shared/rbac'], roots: ['rbac'], keyId: 'team-key', metadata: { owner: 'platform' }, line: 2, column: 3 },
      { name: 'teams/datasets', paths: ['datasets'], roots: ['datasets'], line: 7, column: 3 },
    ]);
  });

  test.each([
    ['invalid YAML', 'bundles: [', 1, 11],
    ['a duplicate bundle name', 'bundles:\n  a:\n    roots: [a]\n  a:\n    roots: [b]\n', 4, 3],
    ['an unknown top-level key', 'bundle:\n  a:\n    roots: [a]\n', 1, 1],
    ['an unknown bundle key', 'bundles:\n  a:\n    roots: [a]\n    root: [b]\n', 4, 5],
    ['missing roots', 'bundles:\n  a:\n    paths: [a]\n', 2, 3],
    ['a traversal in paths', 'bundles:\n  a:\n    roots: [a]\n    paths: [../etc]\n', 4, 12],
    ['a bad bundle name', 'bundles:\n  "../x":\n    roots: [a]\n', 2, 3],
    ['roots that are not a list', 'bundles:\n  a:\n    roots: a\n', 3, 12],
    ['allowEmpty that is not a boolean', 'bundles:\n  a:\n    roots: [a]\n    allowEmpty: "yes"\n', 4, 17],
    ['an alias (aliases are refused)', 'x: &r [a]\nbundles:\n  a:\n    roots: *r\n', 4, 12],
  ])('refuses %s with the file, line and column named', (_name, text, line, column) => {
    const error = failure(text);
    expect(error.code).toBe('invalid_bundle_definition');
    expect(error.details).toMatchObject({ file: 'regent.yaml', line, column });
    expect(error.message.length).toBeGreaterThan(10);
  });
});

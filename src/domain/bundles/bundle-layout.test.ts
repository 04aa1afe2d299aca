import { describe, expect, test } from 'vitest';
import { checkBundleLayout } from './bundle-layout.js';

const file = (path: string, content: string): { path: string; content: Buffer } => ({ path, content: Buffer.from(content) });
const manifest = (value: unknown): { path: string; content: Buffer } => file('.manifest', JSON.stringify(value));

describe('checkBundleLayout', () => {
  test('reads the manifest, the modules with their packages and the data files of a well-formed bundle', () => {
    const layout = checkBundleLayout([
      manifest({ revision: 'abc', roots: ['rbac'], rego_version: 1, metadata: { description: 'x' } }),
      file('rbac/policy.rego', '# comment\npackage rbac.extra\n\nallow := true\n'),
      file('rbac/data.json', '{"users": {}}'),
      file('rbac/README.md', 'not loaded'),
      file('.signatures.json', '{}'),
    ]);
    expect(layout).toEqual({
      revision: 'abc', roots: ['rbac'], manifest: { revision: 'abc', roots: ['rbac'], rego_version: 1, metadata: { description: 'x' } },
      modules: [{ path: 'rbac/policy.rego', package: 'rbac.extra' }], dataFiles: ['rbac/data.json'], otherFiles: ['rbac/README.md'],
    });
  });

  test('without a manifest the bundle owns all of data, as OPA reads it', () => {
    expect(checkBundleLayout([file('x/policy.rego', 'package anything\n')])).toMatchObject({ revision: '', roots: [''] });
  });

  test.each([
    ['a manifest that is not JSON', [file('.manifest', '{revision')], 'manifest_invalid', '.manifest'],
    ['a numeric revision', [manifest({ revision: 7 })], 'manifest_invalid', '.manifest'],
    ['roots that are not strings', [manifest({ revision: 'r', roots: [1] })], 'manifest_invalid', '.manifest'],
    ['a package outside the roots', [manifest({ revision: 'r', roots: ['rbac'] }), file('rbac/p.rego', 'package datasets\n')], 'package_outside_roots', 'rbac/p.rego'],
    ['data outside the roots', [manifest({ revision: 'r', roots: ['rbac'] }), file('data.json', '{"rbac": {}, "other": 1}')], 'data_outside_roots', 'data.json'],
    ['a data file that does not parse', [manifest({ revision: 'r', roots: ['rbac'] }), file('rbac/data.json', '{"a": }')], 'invalid_data', 'rbac/data.json'],
    ['a module without a package', [manifest({ revision: 'r', roots: ['rbac'] }), file('rbac/p.rego', 'allow := true\n')], 'invalid_rego', 'rbac/p.rego'],
  ])('refuses %s as an agent would (%s)', (_name, files, code, where) => {
    expect(() => checkBundleLayout(files)).toThrow(expect.objectContaining({ code, details: expect.objectContaining({ file: where }) }));
  });
});

import { describe, expect, test } from 'vitest';
import { ReplicaCatalog, type ReplicatedBundle, type ReplicatedRevision } from './replica-catalog.js';

function bundle(name: string, revision: string, content: string): ReplicatedBundle {
  return { name, revision, manifest: { revision, roots: [name], rego_version: 1 }, tarball: Buffer.from(content), etag: `"${name}-${content}"`, keyId: 'regent', fileCount: 3 };
}

function revision(id: string, bundles: ReplicatedBundle[]): ReplicatedRevision {
  return { revision: id, publishedAt: new Date(0), bundles };
}

describe('ReplicaCatalog: a worker\'s copy of a bundle set, two-phase', () => {
  test('a staged revision is not served until it is released; the release returns the bundles whose ETag changed', () => {
    const catalog = new ReplicaCatalog();
    catalog.install(revision('r1', [bundle('rbac', 'r1', 'a'), bundle('data', 'r1', 'x')]));
    expect(catalog.get('rbac')).toBeUndefined();
    expect(catalog.published).toBeUndefined();
    expect(catalog.release().map((changed) => changed.name).sort()).toEqual(['data', 'rbac']);
    expect(catalog.published?.revision).toBe('r1');

    catalog.install(revision('r2', [bundle('rbac', 'r2', 'b'), bundle('data', 'r2', 'x')]));
    expect(catalog.get('rbac')?.etag).toBe('"rbac-a"');
    const changed = catalog.release();
    expect(changed.map((one) => one.name)).toEqual(['rbac']);
    expect(catalog.get('rbac')?.etag).toBe('"rbac-b"');
    expect(catalog.release()).toEqual([]);
  });

  test('an unchanged bundle keeps its object across revisions (prepared headers stay cached)', () => {
    const catalog = new ReplicaCatalog();
    catalog.install(revision('r1', [bundle('data', 'r1', 'x')]));
    catalog.release();
    const before = catalog.get('data');
    catalog.install(revision('r2', [bundle('data', 'r2', 'x')]));
    catalog.release();
    expect(catalog.get('data')).toBe(before);
  });

  test('ahead() names the staged bundle only to an agent that holds its ETag', () => {
    const catalog = new ReplicaCatalog();
    catalog.install(revision('r1', [bundle('rbac', 'r1', 'a')]));
    catalog.release();
    expect(catalog.ahead('rbac', '"rbac-b"')).toBeUndefined();
    catalog.install(revision('r2', [bundle('rbac', 'r2', 'b')]));
    expect(catalog.ahead('rbac', '"rbac-b"')?.revision).toBe('r2');
    expect(catalog.ahead('rbac', 'W/"rbac-b", "other"')?.revision).toBe('r2');
    expect(catalog.ahead('rbac', '"rbac-a"')).toBeUndefined();
    expect(catalog.ahead('data', '"rbac-b"')).toBeUndefined();
    catalog.release();
    expect(catalog.ahead('rbac', '"rbac-b"')).toBeUndefined();
  });
});

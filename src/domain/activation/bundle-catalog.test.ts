import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { BundleBuilder, type BuiltBundle } from '../bundles/bundle-builder.js';
import { BundlePackager } from '../bundles/bundle-packager.js';
import { BundleSigner } from '../bundles/bundle-signer.js';
import { BundleVerifier } from '../bundles/bundle-verifier.js';
import { DeltaBuilder } from '../bundles/delta/delta-builder.js';
import { generateSigningKey, verificationKeyFor } from '../bundles/signing-key.js';
import type { Logger } from '../logger.js';
import type { TreeEntry } from '../store/policy-store.js';
import { BundleCatalog } from './bundle-catalog.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const key = generateSigningKey('catalog', 'RS256').key;
const signer = BundleSigner.create({ key });
const signerFor = (id: string) => (id === key.keyId ? signer : undefined);
const verifier = BundleVerifier.create([verificationKeyFor(key)]);
const packager = BundlePackager.create({ verifier, maxBundleBytes: 8 << 20, logger: silent });
const builder = BundleBuilder.create({ signerFor, defaultKeyId: key.keyId, verifier, packager, limits: { maxFiles: 100, maxFileBytes: 1 << 20, maxBundleBytes: 8 << 20 }, logger: silent });

const TWO = 'bundles:\n  a:\n    roots: [a]\n  b:\n    roots: [b]\n';

async function revision(n: number, files: Record<string, string>) {
  const blobs = new Map<string, Buffer>();
  const entries = Object.entries({ 'regent.yaml': TWO, ...files }).map(([path, text]): TreeEntry => {
    const content = Buffer.from(text);
    const blobId = createHash('sha1').update(content).digest('hex');
    blobs.set(blobId, content);
    return { path, blobId, size: content.length, kind: 'file' };
  });
  const revisionId = String(n).repeat(40);
  const bundles = await builder.build(revisionId, entries, async (ids) => new Map(ids.map((id) => [id, blobs.get(id)!])));
  return { revision: revisionId, bundles: new Map(bundles.map((bundle) => [bundle.name, bundle])), publishedAt: new Date() };
}

const files = (aValue: number, bModule = 'x := 1') => ({ 'a/data.json': `{"v": ${aValue}}`, 'a/p.rego': 'package a\n\ny := 1\n', 'b/p.rego': `package b\n\n${bModule}\n` });

describe('BundleCatalog with deltas', () => {
  test('attaches deltas from the snapshots it served before, when only data changed, and keeps the last few', async () => {
    const catalog = BundleCatalog.create({ deltas: DeltaBuilder.create({ packager, signerFor, logger: silent }), deltaHistory: 2 });
    const changed: string[][] = [];
    catalog.onChange((bundles) => changed.push(bundles.map((bundle) => bundle.name)));
    const served: BuiltBundle[] = [];
    for (const [n, value] of [[1, 1], [2, 2], [3, 3], [4, 4]] as const) {
      await catalog.publish(await revision(n, files(value)));
      served.push(catalog.get('a')!);
    }
    const current = catalog.get('a')!;
    // The delta from the revision before is there at the swap; older ones follow right after it.
    expect([...current.deltas!.keys()]).toEqual([served[2]!.etag]);
    await catalog.settled();
    // Deltas from the two snapshots before it (deltaHistory: 2), not from the first.
    expect([...current.deltas!.keys()]).toEqual([served[2]!.etag, served[1]!.etag]);
    expect(current.deltas!.get(served[2]!.etag)!.revision).toBe(current.revision);
    // Bundle b changed only by its revision: a one-operation delta would need data, and b has none.
    expect(catalog.get('b')!.deltas!.size).toBe(0);
    expect(changed).toEqual([['a', 'b'], ['a', 'b'], ['a', 'b'], ['a', 'b']]);

    // A module change in b: its snapshot only; a's data did not change, so a gets its one-operation delta.
    await catalog.publish(await revision(5, files(4, 'x := 2')));
    await catalog.settled();
    expect(catalog.get('b')!.deltas!.size).toBe(0);
    expect(catalog.get('a')!.deltas!.has(current.etag)).toBe(true);
  });

  test('a bundle whose bytes did not change keeps the object (and deltas) it was served with', async () => {
    const catalog = BundleCatalog.create({ deltas: DeltaBuilder.create({ packager, signerFor, logger: silent }) });
    const first = await revision(6, files(1));
    await catalog.publish(first);
    await catalog.publish({ ...first, publishedAt: new Date() });
    expect(catalog.get('a')).toBe(first.bundles.get('a'));
  });

  test('without a DeltaBuilder, bundles are served as built', async () => {
    const catalog = BundleCatalog.create();
    await catalog.publish(await revision(7, files(1)));
    await catalog.publish(await revision(8, files(2)));
    expect(catalog.get('a')!.deltas).toBeUndefined();
  });
});

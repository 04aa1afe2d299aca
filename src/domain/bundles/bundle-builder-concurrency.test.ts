import { createHash } from 'node:crypto';
import { expect, test } from 'vitest';
import type { Logger } from '../logger.js';
import type { TreeEntry } from '../store/policy-store.js';
import { BundleBuilder } from './bundle-builder.js';
import { BundleSigner } from './bundle-signer.js';
import { BundleVerifier } from './bundle-verifier.js';
import { generateSigningKey, verificationKeyFor } from './signing-key.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const key = generateSigningKey('test-key', 'RS256').key;

const blobs = new Map<string, Buffer>();
function entry(path: string, text: string): TreeEntry {
  const content = Buffer.from(text);
  const blobId = createHash('sha1').update(content).digest('hex');
  blobs.set(blobId, content);
  return { path, blobId, size: content.length, kind: 'file' };
}
const read = async (ids: readonly string[]) => new Map(ids.map((id) => [id, blobs.get(id)!]));

test('a build whose blob read is overtaken by another build still finds the files it had cached (no false blob_missing)', async () => {
  const signer = BundleSigner.create({ key });
  const builder = BundleBuilder.create({
    signerFor: (id) => (id === key.keyId ? signer : undefined),
    defaultKeyId: key.keyId,
    verifier: BundleVerifier.create([verificationKeyFor(key)]),
    limits: { maxFiles: 1000, maxFileBytes: 1 << 20, maxBundleBytes: 8 << 20 },
    logger: silent,
  });
  const shared = entry('app/shared.rego', 'package app\n\nshared := true\n');
  const onlyA = entry('app/a.rego', 'package app\n\na := true\n');
  const onlyB = entry('app/b.rego', 'package app\n\nb := true\n');
  // The first build caches `shared`.
  await builder.build('1'.repeat(40), [shared], read);

  // Build A needs only `onlyA` read (shared is cached), and its read is held until build B is done.
  let releaseA!: () => void;
  const held = new Promise<void>((resolve) => (releaseA = resolve));
  const buildA = builder.build('2'.repeat(40), [shared, onlyA], async (ids) => {
    await held;
    return read(ids);
  });
  // Build B, of a tree without `shared`, finishes meanwhile and keeps its own files in the cache.
  await builder.build('3'.repeat(40), [onlyB], read);
  releaseA();
  const built = await buildA;
  expect(built.map((bundle) => [bundle.name, bundle.revision])).toEqual([['main', '2'.repeat(40)]]);
  expect(built[0]!.fileCount).toBe(4);
});

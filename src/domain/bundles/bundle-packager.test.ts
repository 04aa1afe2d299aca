import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { BuildError } from '../errors.js';
import type { Logger } from '../logger.js';
import { BundlePackager, type PackagedFile } from './bundle-packager.js';
import { BundleSigner } from './bundle-signer.js';
import { BundleVerifier } from './bundle-verifier.js';
import { generateSigningKey, verificationKeyFor } from './signing-key.js';
import { readTarball } from './tarball-reader.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const key = generateSigningKey('pack', 'RS256').key;
const signer = BundleSigner.create({ key });
const verifier = BundleVerifier.create([verificationKeyFor(key)]);
const manifest = { revision: 'r'.repeat(40), roots: ['svc'], rego_version: 1 };

function file(path: string, text: string | Buffer): PackagedFile {
  const content = Buffer.isBuffer(text) ? text : Buffer.from(text);
  return { path, content, sha256: createHash('sha256').update(content).digest('hex') };
}

/** 300 small modules and one data file bigger than a segment, in byte order of their paths. */
function files(change?: number): PackagedFile[] {
  const modules = Array.from({ length: 300 }, (_, i) => file(`svc/m${String(i).padStart(3, '0')}/policy.rego`, `package svc.m${i}\n\nallow if input.level > ${i === change ? 1000 + i : i}\n`));
  const data = file('svc/shared/data.json', JSON.stringify({ users: Array.from({ length: 30_000 }, (_, i) => `user-${i}`) }));
  return [...modules, data];
}

function packager(options: { maxBundleBytes?: number; verifier?: BundleVerifier } = {}) {
  return BundlePackager.create({ verifier: options.verifier ?? verifier, maxBundleBytes: options.maxBundleBytes ?? 64 << 20, logger: silent });
}

describe('BundlePackager', () => {
  test('writes one gzip member holding the files in order, then .manifest and .signatures.json, signed and verifiable', async () => {
    const input = files();
    const packed = await packager().package({ bundle: 'svc', manifest, files: input, signer, keyId: key.keyId });
    const read = await readTarball(packed.tarball);
    expect(read.map((entry) => entry.path)).toEqual([...input.map((f) => f.path), '.manifest', '.signatures.json']);
    expect(read.slice(0, -2).every((entry, i) => entry.content.equals(input[i]!.content))).toBe(true);
    expect(zlib.inflateRawSync(packed.tarball.subarray(10, -8)).equals(zlib.gunzipSync(packed.tarball))).toBe(true);
    await verifier.verifyTarball(packed.tarball, { keyId: key.keyId });
    expect(packed.etag).toBe(`"${createHash('sha256').update(packed.tarball).digest('hex')}"`);
    expect(packed.fileCount).toBe(input.length + 2);
  });

  test('is deterministic, and a one-file change recompresses only the segments around that file', async () => {
    const shared = packager();
    const original = files();
    const first = await shared.package({ bundle: 'svc', manifest, files: original, signer, keyId: key.keyId });
    const cold = shared.stats;
    expect(cold.compressed).toBe(cold.segments);
    expect(cold.segments).toBeGreaterThan(5);
    const again = await packager().package({ bundle: 'svc', manifest, files: files(), signer, keyId: key.keyId });
    expect(again.tarball.equals(first.tarball)).toBe(true);

    // Unchanged files keep their buffers, as the builder's cache keeps them.
    const oneChanged = original.map((f, i) => (i === 150 ? files(150)[150]! : f));
    const changed = await shared.package({ bundle: 'svc', manifest: { ...manifest, revision: 's'.repeat(40) }, files: oneChanged, signer, keyId: key.keyId });
    // The segment with the module, the one after it (primed with the changed bytes), the manifest and signatures.
    expect(shared.stats.compressed).toBeLessThanOrEqual(3);
    expect(shared.stats.entriesVerified).toBe(3);
    const fresh = await packager().package({ bundle: 'svc', manifest: { ...manifest, revision: 's'.repeat(40) }, files: files(150), signer, keyId: key.keyId });
    expect(changed.tarball.equals(fresh.tarball)).toBe(true);
  });

  test('refuses to publish what it cannot verify: a signature agents would not accept, or a bundle over the size limit', async () => {
    const stranger = BundleVerifier.create([verificationKeyFor(generateSigningKey('pack', 'RS256').key)]);
    const refused = await packager({ verifier: stranger }).package({ bundle: 'svc', manifest, files: files(), signer, keyId: key.keyId }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BuildError);
    expect((refused as BuildError).code).toBe('self_verification_failed');
    const tooLarge = await packager({ maxBundleBytes: 2048 }).package({ bundle: 'svc', manifest, files: files(), signer, keyId: key.keyId }).catch((error: unknown) => error);
    expect((tooLarge as BuildError).code).toBe('bundle_too_large');
  });
});

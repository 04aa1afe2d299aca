/**
 * Builds every bundle of a directory of policy files with a fresh builder, in a process of its own,
 * and prints `[{name, etag, tarball (base64)}]` as JSON: for checking that separate processes (or Node
 * versions) produce the same bytes. Usage: build-bundles-process.ts <dir> <private-key.pem> <key-id>
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BundleBuilder } from '../../src/domain/bundles/bundle-builder.js';
import { compileTree } from '../../src/domain/candidates/compiled-tree.js';
import { SpecCompiler } from '../../src/domain/specs/spec-compiler.js';
import { BundleSigner } from '../../src/domain/bundles/bundle-signer.js';
import { BundleVerifier } from '../../src/domain/bundles/bundle-verifier.js';
import { signingKeyFromPem, verificationKeyFor } from '../../src/domain/bundles/signing-key.js';
import type { Logger } from '../../src/domain/logger.js';
import type { TreeEntry } from '../../src/domain/store/policy-store.js';

const [dir, keyFile, keyId] = process.argv.slice(2) as [string, string, string];
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const key = signingKeyFromPem(keyId, 'RS256', readFileSync(keyFile, 'utf8'));
const signer = BundleSigner.create({ key });
const builder = BundleBuilder.create({
  signerFor: (id) => (id === keyId ? signer : undefined),
  defaultKeyId: keyId,
  verifier: BundleVerifier.create([verificationKeyFor(key)]),
  limits: { maxFiles: 100_000, maxFileBytes: 64 << 20, maxBundleBytes: 512 << 20 },
  logger: silent,
});

const blobs = new Map<string, Buffer>();
const entries: TreeEntry[] = [];
const walk = (at: string): void => {
  for (const name of readdirSync(at).sort()) {
    const path = join(at, name);
    if (statSync(path).isDirectory()) walk(path);
    else {
      const content = readFileSync(path);
      const blobId = createHash('sha1').update(content).digest('hex');
      blobs.set(blobId, content);
      entries.push({ path: relative(dir, path).split('\\').join('/'), blobId, size: content.length, kind: 'file' });
    }
  }
};
walk(dir);
// As the pipeline does: role specs (`*.policy.yaml`) compiled into modules before the build.
const compiled = await compileTree(entries, async (ids) => new Map(ids.map((id) => [id, blobs.get(id)!])), [SpecCompiler.create({ maxSpecBytes: 1 << 20 })]);
if (compiled.problems.length > 0) throw new Error(`specs do not compile: ${JSON.stringify(compiled.problems)}`);
const built = await builder.build('c'.repeat(40), compiled.entries, compiled.readBlobs);
process.stdout.write(JSON.stringify(built.map((bundle) => ({ name: bundle.name, etag: bundle.etag, tarball: bundle.tarball.toString('base64') }))));

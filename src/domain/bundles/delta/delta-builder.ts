import { createHash } from 'node:crypto';
import type { Logger } from '../../logger.js';
import { TimeSlice } from '../../time-slice.js';
import { MANIFEST_PATH, SIGNATURES_PATH } from '../bundle.js';
import type { BuiltBundle } from '../bundle-builder.js';
import type { BundlePackager } from '../bundle-packager.js';
import type { BundleSigner } from '../bundle-signer.js';
import { readTarball } from '../tarball-reader.js';
import type { BundleContents } from './bundle-contents.js';
import type { BuiltDelta } from './built-delta.js';
import { diffData, noChangeOperation, patchJson } from './data-patch.js';
import { dataTree, DeltaUnsupported, nodeAt, sameValue, type ObjectNode } from './data-tree.js';
import { deltaEtag } from './delta-etag.js';
import { applyPatch } from './patch-apply.js';

export const PATCH_PATH = 'patch.json';

export interface DeltaBuilderOptions {
  /** Packs, signs and checks the delta's tarball like a snapshot's. */
  packager: BundlePackager;
  /** The signer for a key id, or undefined when no such key is configured. */
  signerFor(keyId: string): BundleSigner | undefined;
  logger: Logger;
}

/**
 * Builds delta bundles (OPA's `modes=delta`, a `patch.json` of data operations) between two built
 * revisions of a bundle, when OPA can take one: the modules are the same, and so are the roots and the
 * Rego version (OPA refuses a delta whose roots differ from the activated bundle's, and a delta carries
 * no modules). The delta is a pure function of the two snapshots, so every replica builds the same bytes.
 *
 * OPA does not verify signatures on delta bundles (opa:v1/bundle/bundle.go `Read` verifies snapshots
 * only), so Regent's check is the one that stands: the tarball is read back, its `patch.json` applied to
 * the earlier revision's data the way OPA applies it, and the result must equal the later revision's
 * data under every root. The delta is still signed, like every file Regent serves, for anyone who
 * checks it offline. Nothing is built (undefined) when OPA could not take a delta, when the patch
 * cannot be written for this data, or when it would not be smaller than the snapshot.
 */
export class DeltaBuilder {
  private constructor(private readonly options: DeltaBuilderOptions) {}

  static create(options: DeltaBuilderOptions): DeltaBuilder {
    return new DeltaBuilder(options);
  }

  async build(from: BuiltBundle, to: BuiltBundle): Promise<BuiltDelta | undefined> {
    if (from.name !== to.name || from.etag === to.etag || !from.contents || !to.contents) return undefined;
    if (!dataOnlyChange(from.contents, to.contents) || from.keyId !== to.keyId) return undefined;
    const roots = to.manifest.roots;
    // A root is matched against patch paths as written (escaped): one that escaping changes cannot match.
    if (roots.some((root) => /[%~]/.test(root))) return undefined;
    const signer = this.options.signerFor(to.keyId);
    if (!signer) return undefined;
    try {
      // Taking megabytes of data apart happens in slices: long polls and 304s are answered meanwhile.
      const slice = new TimeSlice();
      const before = dataTree(from.contents.data);
      const after = dataTree(to.contents.data);
      let operations = await diffData(before, after, roots, slice);
      if (operations.length === 0) {
        const unchanged = await noChangeOperation(after, roots, slice);
        if (!unchanged) return undefined;
        operations = [unchanged];
      }
      const patch = patchJson(operations);
      const packaged = await this.options.packager.package({
        bundle: to.name,
        manifest: to.manifest,
        files: [{ path: PATCH_PATH, content: patch, sha256: createHash('sha256').update(patch).digest('hex') }],
        signer,
        keyId: to.keyId,
      });
      if (packaged.tarball.length >= to.tarball.length) return undefined;
      await checkDelta(packaged.tarball, before, after, roots);
      return { from: from.etag, revision: to.revision, tarball: packaged.tarball, etag: deltaEtag(to.etag, packaged.tarball), operations: operations.length };
    } catch (error) {
      if (error instanceof DeltaUnsupported) return undefined;
      this.options.logger.error({ bundle: to.name, from: from.revision, to: to.revision, err: error }, 'delta bundle failed its check; agents get the snapshot');
      return undefined;
    }
  }
}

/** Same modules (paths and digests), roots and Rego version: what OPA needs to apply a delta over `from`. */
function dataOnlyChange(from: BundleContents, to: BundleContents): boolean {
  if (from.modules.size !== to.modules.size) return false;
  for (const [path, sha256] of to.modules) if (from.modules.get(path) !== sha256) return false;
  const a = from.manifest;
  const b = to.manifest;
  return a.rego_version === b.rego_version && a.roots.length === b.roots.length && a.roots.every((root, i) => root === b.roots[i]);
}

/**
 * Reads the delta back as OPA would and applies it to the earlier data; throws unless the result is
 * the later data. (`before` and `after` are the trees the patch was computed from: values are compared
 * as values, and what the diff took apart is not taken apart again.)
 */
async function checkDelta(tarball: Buffer, before: ObjectNode, after: ObjectNode, roots: readonly string[]): Promise<void> {
  const files = await readTarball(tarball);
  const names = files.map((file) => file.path).sort();
  if (names.join('\n') !== [MANIFEST_PATH, SIGNATURES_PATH, PATCH_PATH].sort().join('\n')) throw new Error(`a delta holds exactly patch.json, .manifest and .signatures.json, not [${names.join(', ')}]`);
  const applied = applyPatch(before, files.find((file) => file.path === PATCH_PATH)!.content, roots);
  const expected = after;
  for (const root of roots) {
    const segments = root === '' ? [] : root.split('/');
    if (!sameValue(nodeAt(applied, segments), nodeAt(expected, segments))) throw new Error(`after the patch, the data under root '${root}' differs from the revision's`);
  }
}

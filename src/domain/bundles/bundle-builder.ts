import { BuildError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Revision, TreeEntry } from '../store/policy-store.js';
import { TimeSlice } from '../time-slice.js';
import type { Manifest } from './bundle.js';
import { DEFAULT_BUNDLES, isUnder, parseBundleDefinitions, REGENT_YAML, type BundleDefinition } from './bundle-definition.js';
import type { BundleSigner } from './bundle-signer.js';
import type { BundleVerifier } from './bundle-verifier.js';
import type { CanonicalFormMemo } from './canonical-form-memo.js';
import { compareUtf8 } from './canonical-json.js';
import { dataKeyPosition } from './data-file-position.js';
import { checkFileUnderRoots, checkPackageLocation, checkRootsDisjoint, definitionPosition } from './ownership-checks.js';
import { directoryOf, policyFileKind, preparePolicyFile, type PreparedPolicyFile } from './policy-file.js';
import { BundlePackager } from './bundle-packager.js';
import { bundleContents, type BundleContents } from './delta/bundle-contents.js';
import type { BuiltDelta } from './delta/built-delta.js';

/** A signed, self-verified bundle ready to serve. */
export interface BuiltBundle {
  name: string;
  revision: Revision;
  manifest: Manifest;
  /** The exact bytes served. */
  tarball: Buffer;
  /** Strong ETag: the quoted SHA-256 of `tarball`, so it survives restarts and matches on every replica. */
  etag: string;
  keyId: string;
  /** Files in the bundle, `.manifest` and `.signatures.json` included. */
  fileCount: number;
  /** What the bundle holds, for delta bundles against a later revision. */
  contents?: BundleContents;
  /** Delta bundles from recent revisions to this one, by the ETag of the snapshot they start from (see `DeltaBuilder`). */
  deltas?: ReadonlyMap<string, BuiltDelta>;
}

export interface BuildLimits {
  maxFiles: number;
  maxFileBytes: number;
  maxBundleBytes: number;
}

export interface BundleBuilderOptions {
  /** The signer for a key id, or undefined when no such key is configured. */
  signerFor(keyId: string): BundleSigner | undefined;
  defaultKeyId: string;
  verifier: BundleVerifier;
  limits: BuildLimits;
  logger: Logger;
  /**
   * Names of environments: a bundle whose name starts with one (`prod` or `prod/...`) would be shadowed
   * by that environment's bundles at `/bundles/<environment>/...`, so such a revision does not build.
   */
  reservedNames?: ReadonlySet<string>;
  /** Told which shipped data files are canonical (the verifier given the same memo skips re-canonicalizing them). */
  canonicalForms?: CanonicalFormMemo;
  /** Packs, signs and self-verifies the tarballs; one is made from the options above when not given. */
  packager?: BundlePackager;
}

/** One bundle of a tree that passed {@link BundleBuilder.check}: its definition, signing key and files. */
export interface CheckedBundle {
  definition: BundleDefinition;
  keyId: string;
  /** The files it ships (one per bundle path), `.manifest` and `.signatures.json` aside. */
  files: PreparedPolicyFile[];
}

/** Every bundle a tree declares, checked and ready to package for a revision. */
export interface CheckedTree {
  bundles: CheckedBundle[];
}

/** Reads blob contents by id (the store's `readBlobs`). */
export type BlobReader = (blobIds: readonly string[]) => Promise<Map<string, Buffer>>;

/**
 * Builds every bundle a revision declares: a pure function of (revision tree, bundle definitions, keys),
 * so the same revision gives the same bytes and ETag on any replica and after any restart. Per-file work
 * (canonical data, package reading, hashing, compression) is cached by path and git blob id, so a
 * one-file change rebuilds one file and re-signs.
 */
export class BundleBuilder {
  private cache = new Map<string, PreparedPolicyFile>();
  private readonly packager: BundlePackager;

  private constructor(private readonly options: BundleBuilderOptions) {
    this.packager = options.packager ?? BundlePackager.create({
      verifier: options.verifier,
      canonicalForms: options.canonicalForms,
      maxBundleBytes: options.limits.maxBundleBytes,
      logger: options.logger,
    });
  }

  static create(options: BundleBuilderOptions): BundleBuilder {
    return new BundleBuilder(options);
  }

  /** Reads `regent.yaml` of a tree (or the default single bundle). */
  async definitions(entries: readonly TreeEntry[], readBlobs: BlobReader): Promise<BundleDefinition[]> {
    const entry = entries.find((candidate) => candidate.path === REGENT_YAML);
    if (!entry) return DEFAULT_BUNDLES.map((definition) => ({ ...definition }));
    const blobs = await readBlobs([entry.blobId]);
    return parseBundleDefinitions(blobs.get(entry.blobId)!.toString('utf8'));
  }

  /**
   * Everything that can be known about a tree's bundles without packaging them: definitions, reserved
   * names, roots, file kinds, limits, package locations, data (parsed and canonicalised), files under
   * roots, empty bundles and signing keys. Throws the first `BuildError` found; signs nothing and writes
   * no tarball, so a candidate tree is checked at the cost of reading it. {@link package} turns what
   * passed into bundles for a revision.
   */
  async check(entries: readonly TreeEntry[], readBlobs: BlobReader): Promise<CheckedTree> {
    const definitions = await this.definitions(entries, readBlobs);
    this.checkNamesFree(definitions);
    checkRootsDisjoint(definitions);
    const files = await this.prepareFiles(entries, definitions, readBlobs);
    const blobIds = new Map(entries.map((entry) => [entry.path, entry.blobId]));
    const bundles: CheckedBundle[] = [];
    for (const definition of definitions) {
      try {
        bundles.push(this.checkOne(definition, files));
      } catch (error) {
        throw await locateDataOutsideRoots(error, blobIds, readBlobs);
      }
    }
    return { bundles };
  }

  /** Signs, packs and self-verifies every checked bundle for `revision` (what the fleet is served). */
  async package(revision: Revision, checked: CheckedTree): Promise<BuiltBundle[]> {
    const bundles: BuiltBundle[] = [];
    for (const bundle of checked.bundles) bundles.push(await this.buildOne(revision, bundle));
    return bundles;
  }

  /** {@link check}, then {@link package}. */
  async build(revision: Revision, entries: readonly TreeEntry[], readBlobs: BlobReader): Promise<BuiltBundle[]> {
    return this.package(revision, await this.check(entries, readBlobs));
  }

  private checkNamesFree(definitions: readonly BundleDefinition[]): void {
    const reserved = this.options.reservedNames;
    if (!reserved || reserved.size === 0) return;
    const clash = definitions.find((definition) => reserved.has(definition.name.split('/')[0]!));
    if (clash) {
      throw new BuildError('bundle_name_reserved', `bundle '${clash.name}' starts with the name of environment '${clash.name.split('/')[0]}', whose bundles are served at /bundles/${clash.name.split('/')[0]}/<bundle> (hint: rename the bundle in ${REGENT_YAML})`, { file: REGENT_YAML, ...definitionPosition(clash), field: `bundles.${clash.name}`, bundle: clash.name });
    }
  }

  private async prepareFiles(entries: readonly TreeEntry[], definitions: readonly BundleDefinition[], readBlobs: BlobReader): Promise<PreparedPolicyFile[]> {
    const { maxFiles, maxFileBytes } = this.options.limits;
    // Checked before anything else: a symlink or submodule has no content Regent can validate or ship
    // (a submodule's policies would silently be missing), so it is the root cause of what follows.
    for (const entry of entries) {
      const inBundle = definitions.some((definition) => definition.paths.some((path) => isUnder(entry.path, path)));
      if ((entry.kind === 'submodule' && inBundle) || (entry.kind === 'symlink' && policyFileKind(entry.path) !== 'other')) {
        throw new BuildError('unsupported_file_kind', `${entry.path} is a ${entry.kind}; bundles ship regular files only (hint: commit the ${entry.kind === 'symlink' ? "file it points to in its place" : "submodule's files instead"})`, { file: entry.path });
      }
    }
    const wanted = entries.filter((entry) => {
      const kind = policyFileKind(entry.path);
      return kind === 'module' || kind === 'data';
    });
    for (const entry of wanted) {
      if (!definitions.some((definition) => definition.paths.some((path) => isUnder(entry.path, path)))) {
        throw new BuildError('file_outside_bundles', `${entry.path} is not under the paths of any bundle in ${REGENT_YAML}, so no agent would receive it; add its directory to a bundle's paths or move it`, { file: entry.path });
      }
    }
    if (wanted.length > maxFiles) {
      throw new BuildError('too_many_files', `the revision has ${wanted.length} policy and data files; the limit is ${maxFiles}`, { limit: maxFiles });
    }
    for (const entry of wanted) {
      if (entry.size > maxFileBytes) {
        throw new BuildError('file_too_large', `${entry.path} is ${entry.size} bytes; the limit is ${maxFileBytes}`, { file: entry.path, limit: maxFileBytes });
      }
    }
    const key = (entry: TreeEntry): string => `${entry.path}\0${entry.blobId}`;
    // The cache as it is now: a concurrent build may replace it while blobs are read below, and what was
    // cached (so not read) must still be found afterwards.
    const cache = this.cache;
    const missing = wanted.filter((entry) => !cache.has(key(entry)));
    const blobs = missing.length > 0 ? await readBlobs([...new Set(missing.map((entry) => entry.blobId))]) : new Map<string, Buffer>();
    const next = new Map<string, PreparedPolicyFile>();
    const prepared: PreparedPolicyFile[] = [];
    // Megabytes of data are canonicalized in slices: 304s and long polls keep being answered meanwhile.
    const slice = new TimeSlice();
    for (const entry of wanted) {
      let file = cache.get(key(entry));
      if (!file) {
        const content = blobs.get(entry.blobId);
        if (!content) throw new BuildError('blob_missing', `${entry.path}: blob ${entry.blobId} could not be read`, { file: entry.path });
        file = await preparePolicyFile(entry.path, content, slice);
        if (file.kind === 'module') checkPackageLocation(file);
        if (slice.due) await slice.pause();
      }
      if (file.kind === 'data') this.options.canonicalForms?.remember(file.sha256);
      next.set(key(entry), file);
      prepared.push(file);
    }
    // Keep exactly this revision's files: memory stays bounded by one tree, and the next build of a
    // descendant revision reuses everything it did not change.
    this.cache = next;
    return prepared;
  }

  /** One bundle's files, checked: not empty, under its roots, one file per bundle path, a known signing key. */
  private checkOne(definition: BundleDefinition, all: readonly PreparedPolicyFile[]): CheckedBundle {
    const files = all.filter((file) => definition.paths.some((path) => isUnder(file.sourcePath, path)));
    if (files.length === 0 && !definition.allowEmpty) throw emptyBundle(definition);
    const byBundlePath = new Map<string, PreparedPolicyFile>();
    for (const file of files) {
      checkFileUnderRoots(file, definition);
      const clash = byBundlePath.get(file.bundlePath);
      if (clash) {
        throw new BuildError('conflicting_data_files', `${clash.sourcePath} and ${file.sourcePath} both provide ${file.bundlePath} in bundle '${definition.name}'; keep one`, { file: file.sourcePath, bundle: definition.name });
      }
      byBundlePath.set(file.bundlePath, file);
    }
    const keyId = definition.keyId ?? this.options.defaultKeyId;
    if (!this.options.signerFor(keyId)) {
      throw new BuildError('unknown_signing_key', `bundle '${definition.name}' asks for signing key '${keyId}', which is not configured`, { file: REGENT_YAML, ...definitionPosition(definition), field: `bundles.${definition.name}.signing.keyid`, keyId });
    }
    return { definition, keyId, files: [...byBundlePath.values()] };
  }

  private async buildOne(revision: Revision, checked: CheckedBundle): Promise<BuiltBundle> {
    const { definition, keyId } = checked;
    const signer = this.options.signerFor(keyId)!;

    const manifest: Manifest = { revision, roots: definition.roots, rego_version: 1 };
    if (definition.metadata) manifest.metadata = definition.metadata;
    const ordered = [...checked.files].sort((a, b) => compareUtf8(a.bundlePath, b.bundlePath));
    const packaged = await this.packager.package({
      bundle: definition.name,
      manifest,
      files: ordered.map((file) => ({ path: file.bundlePath, content: file.content, sha256: file.sha256 })),
      signer,
      keyId,
    });
    return { name: definition.name, revision, manifest, tarball: packaged.tarball, etag: packaged.etag, keyId, fileCount: packaged.fileCount, contents: bundleContents(manifest, ordered) };
  }
}

/**
 * A bundle with no policy or data file would make every agent drop what it enforces under the bundle's
 * roots: a fleet silently losing its policy. Refused unless `regent.yaml` says `allowEmpty: true`.
 */
function emptyBundle(definition: BundleDefinition): BuildError {
  const where = definition.line === undefined
    ? 'the repository has no policy or data file (no regent.yaml: one bundle holding everything)'
    : `its paths [${definition.paths.map((path) => path || '<the whole repository>').join(', ')}] hold no policy or data file`;
  return new BuildError('bundle_empty', `bundle '${definition.name}' would be empty: ${where}. Agents would drop every policy under its roots; if that is what you want, set allowEmpty: true on the bundle in ${REGENT_YAML}`, { ...definitionPosition(definition), bundle: definition.name, paths: definition.paths });
}

/** Adds the line and column of the offending key to a `data_outside_roots` error (other errors pass through). */
async function locateDataOutsideRoots(error: unknown, blobIds: ReadonlyMap<string, string>, readBlobs: BlobReader): Promise<unknown> {
  if (!(error instanceof BuildError) || error.code !== 'data_outside_roots' || typeof error.details.file !== 'string') return error;
  const file = error.details.file;
  const blobId = blobIds.get(file);
  const dataPath = typeof error.details.dataPath === 'string' ? error.details.dataPath.split('/').filter((segment) => segment !== '') : [];
  const dir = directoryOf(file);
  const keys = dataPath.slice(dir === '' ? 0 : dir.split('/').length);
  const content = blobId === undefined ? undefined : (await readBlobs([blobId]).catch(() => new Map<string, Buffer>())).get(blobId);
  const at = content === undefined ? undefined : dataKeyPosition(file, content.toString('utf8'), keys);
  if (!at) return error;
  return new BuildError(error.code, error.message.replace(`${file}:`, `${file}:${at.line}:${at.column}:`), { ...error.details, line: at.line, column: at.column }, { cause: error });
}
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { BuildError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TreeEntry } from '../store/policy-store.js';
import { BundleBuilder } from './bundle-builder.js';
import { BundleSigner } from './bundle-signer.js';
import { BundleVerifier } from './bundle-verifier.js';
import { generateSigningKey, verificationKeyFor } from './signing-key.js';
import { readTarball } from './tarball-reader.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const REVISION = 'a'.repeat(40);
const key = generateSigningKey('test-key', 'RS256').key;

function tree(files: Record<string, string>): { entries: TreeEntry[]; readBlobs: (ids: readonly string[]) => Promise<Map<string, Buffer>>; reads: string[][] } {
  const blobs = new Map<string, Buffer>();
  const entries = Object.entries(files).map(([path, text]): TreeEntry => {
    const content = Buffer.from(text);
    const blobId = createHash('sha1').update(content).digest('hex');
    blobs.set(blobId, content);
    return { path, blobId, size: content.length, kind: 'file' };
  });
  const reads: string[][] = [];
  return {
    entries,
    reads,
    readBlobs: async (ids) => {
      reads.push([...ids]);
      return new Map(ids.map((id) => [id, blobs.get(id)!]));
    },
  };
}

function builder(): BundleBuilder {
  const signer = BundleSigner.create({ key });
  return BundleBuilder.create({
    signerFor: (id) => (id === key.keyId ? signer : undefined),
    defaultKeyId: key.keyId,
    verifier: BundleVerifier.create([verificationKeyFor(key)]),
    limits: { maxFiles: 1000, maxFileBytes: 1 << 20, maxBundleBytes: 8 << 20 },
    logger: silent,
  });
}

const TWO_BUNDLES = {
  'regent.yaml': 'bundles:\n  a:\n    roots: [a]\n    metadata: { team: x }\n  b:\n    roots: [b]\n',
  'a/policy.rego': 'package a\n\nallow if input.ok\n',
  'a/policy_test.rego': 'package a\n\ntest_ok if allow with input as {"ok": true}\n',
  'a/data.json': '{ "z": 1.0, "a": [1e3, "\u2028"] }',
  'b/sub/policy.rego': 'package b.sub\n\nx := 1\n',
  'b/data.yaml': 'limits:\n  max: 5\n',
  'README.md': '# not shipped',
};

async function build(files: Record<string, string>, using = builder()) {
  const t = tree(files);
  return using.build(REVISION, t.entries, t.readBlobs);
}

async function buildError(files: Record<string, string>): Promise<BuildError> {
  try {
    await build(files);
  } catch (error) {
    if (error instanceof BuildError) return error;
    throw error;
  }
  throw new Error('expected a BuildError');
}

describe('BundleBuilder', () => {
  test('builds one signed bundle per definition with a manifest, modules and canonical data, and no tests', async () => {
    const [a, b] = await build(TWO_BUNDLES);
    expect(a!.manifest).toEqual({ revision: REVISION, roots: ['a'], rego_version: 1, metadata: { team: 'x' } });
    const files = await readTarball(a!.tarball);
    expect(files.map((file) => file.name)).toEqual(['/a/data.json', '/a/policy.rego', '/.manifest', '/.signatures.json']);
    expect(files.find((file) => file.path === 'a/data.json')!.content.toString()).toBe('{"a":[1e3,"\\u2028"],"z":1.0}');
    const bFiles = await readTarball(b!.tarball);
    expect(bFiles.map((file) => file.path)).toEqual(['b/data.json', 'b/sub/policy.rego', '.manifest', '.signatures.json']);
    expect(bFiles.find((file) => file.path === 'b/data.json')!.content.toString()).toBe('{"limits":{"max":5}}');
    await BundleVerifier.create([verificationKeyFor(key)]).verifyTarball(b!.tarball, { keyId: key.keyId });
  });

  test('without regent.yaml builds one bundle "main" that owns all of data', async () => {
    const [main] = await build({ 'x/policy.rego': 'package x\n\nallow := true\n', 'data.json': '{"x": {"y": 1}}' });
    expect(main!.name).toBe('main');
    expect(main!.manifest.roots).toEqual(['']);
  });

  test('is deterministic: the same tree gives the same bytes and ETag from a fresh builder', async () => {
    const first = await build(TWO_BUNDLES);
    const second = await build(TWO_BUNDLES, builder());
    expect(second.map((bundle) => bundle.etag)).toEqual(first.map((bundle) => bundle.etag));
    expect(second[0]!.tarball.equals(first[0]!.tarball)).toBe(true);
  });

  test('after a one-file change reads only the changed blob', async () => {
    const shared = builder();
    await build(TWO_BUNDLES, shared);
    const changed = tree({ ...TWO_BUNDLES, 'b/sub/policy.rego': 'package b.sub\n\nx := 2\n' });
    const bundles = await shared.build(REVISION, changed.entries, changed.readBlobs);
    // regent.yaml is read for the definitions, then only the one changed module.
    expect(changed.reads.flat().length).toBe(2);
    expect(bundles).toHaveLength(2);
  });

  test.each([
    ['roots overlapping between bundles', { 'regent.yaml': 'bundles:\n  a:\n    roots: [a]\n  b:\n    roots: [a/b]\n    paths: [b]\n' }, 'roots_overlap', 'regent.yaml'],
    ['data outside the roots', { 'regent.yaml': 'bundles:\n  a:\n    roots: [a]\n    paths: [a, c]\n', 'c/data.json': '{"k": 1}' }, 'data_outside_roots', 'c/data.json'],
    ['a package outside the roots', { 'regent.yaml': 'bundles:\n  a:\n    roots: [a/x]\n    paths: [a]\n', 'a/p.rego': 'package a\n\nx := 1\n' }, 'package_outside_roots', 'a/p.rego'],
    ['a package outside its directory', { 'teams/a/p.rego': 'package teams.b\n\nallow := true\n' }, 'package_outside_directory', 'teams/a/p.rego'],
    ['invalid JSON data', { 'x/data.json': '{"a": 1,\n "b": }' }, 'invalid_json', 'x/data.json'],
    ['invalid YAML data', { 'x/data.yaml': 'a: [1, 2\n' }, 'invalid_yaml', 'x/data.yaml'],
    ['both data.json and data.yaml in one directory', { 'x/data.json': '{"a": 1}', 'x/data.yaml': 'b: 2\n' }, 'conflicting_data_files', 'x/data.yaml'],
    ['a non-object data.json at the root', { 'data.json': '[1, 2]' }, 'invalid_data', 'data.json'],
    ['a signing key that is not configured', { 'regent.yaml': 'bundles:\n  a:\n    roots: [a]\n    signing: { keyid: other }\n', 'a/p.rego': 'package a\n' }, 'unknown_signing_key', 'regent.yaml'],
    ['a module outside every bundle', { 'regent.yaml': 'bundles:\n  a:\n    roots: [a]\n', 'z/p.rego': 'package z\n' }, 'file_outside_bundles', 'z/p.rego'],
  ])('refuses %s, naming the file', async (_name, files, code, file) => {
    const error = await buildError(files as Record<string, string>);
    expect(error.code).toBe(code);
    expect(error.details.file).toBe(file);
  });

  test('names the line of a JSON syntax error', async () => {
    const error = await buildError({ 'x/data.json': '{"a": 1,\n "b": }' });
    expect(error.details.line).toBe(2);
  });
});

describe('empty bundles', () => {
  test('an empty tree (no regent.yaml) is refused as bundle_empty for the default bundle', async () => {
    const error = await buildError({ 'README.md': 'nothing else', 'x/only_test.rego': 'package x\n\ntest_a if true\n' });
    expect(error.code).toBe('bundle_empty');
    expect(error.details).toMatchObject({ bundle: 'main', paths: [''] });
    expect(error.message).toContain('allowEmpty: true');
  });

  test('a bundle whose paths match nothing is refused, naming the bundle, its paths and its line in regent.yaml', async () => {
    const error = await buildError({ 'regent.yaml': 'bundles:\n  a:\n    roots: [a]\n  b:\n    roots: [b]\n    paths: [bee]\n', 'a/p.rego': 'package a\n' });
    expect(error.code).toBe('bundle_empty');
    expect(error.details).toMatchObject({ file: 'regent.yaml', line: 4, column: 3, bundle: 'b', paths: ['bee'] });
    expect(error.message).toContain("bundle 'b' would be empty: its paths [bee] hold no policy or data file");
  });

  test('an empty bundle with allowEmpty: true is built: a signed manifest and nothing else', async () => {
    const bundles = await build({ 'regent.yaml': 'bundles:\n  a:\n    roots: [a]\n  b:\n    roots: [b]\n    allowEmpty: true\n', 'a/p.rego': 'package a\n' });
    const b = bundles.find((bundle) => bundle.name === 'b')!;
    expect(b.fileCount).toBe(2);
    expect(b.manifest.roots).toEqual(['b']);
    expect((await readTarball(b.tarball)).map((file) => file.name).sort()).toEqual(['/.manifest', '/.signatures.json']);
  });
});

describe('check, then package', () => {
  test('check refuses what build refuses, with the same code and file, and signs nothing', async () => {
    const signed: string[] = [];
    const signer = BundleSigner.create({ key });
    const counting = BundleBuilder.create({
      signerFor: (id) => (id === key.keyId ? { signaturesFile: (files) => (signed.push(id), signer.signaturesFile(files)) } as BundleSigner : undefined),
      defaultKeyId: key.keyId,
      verifier: BundleVerifier.create([verificationKeyFor(key)]),
      limits: { maxFiles: 1000, maxFileBytes: 1 << 20, maxBundleBytes: 8 << 20 },
      logger: silent,
    });
    const bad = tree({ 'regent.yaml': 'bundles:\n  a:\n    roots: [a/x]\n    paths: [a]\n', 'a/p.rego': 'package a\n\nx := 1\n' });
    await expect(counting.check(bad.entries, bad.readBlobs)).rejects.toMatchObject({ code: 'package_outside_roots', details: { file: 'a/p.rego', line: 1 } });
    const good = tree(TWO_BUNDLES);
    const checked = await counting.check(good.entries, good.readBlobs);
    expect(checked.bundles.map((bundle) => [bundle.definition.name, bundle.keyId, bundle.files.map((file) => file.bundlePath).sort()])).toEqual([
      ['a', key.keyId, ['a/data.json', 'a/policy.rego']],
      ['b', key.keyId, ['b/data.json', 'b/sub/policy.rego']],
    ]);
    expect(signed).toEqual([]);
    const packaged = await counting.package(REVISION, checked);
    expect(signed).toEqual([key.keyId, key.keyId]);
    expect(packaged.map((bundle) => bundle.etag)).toEqual((await build(TWO_BUNDLES)).map((bundle) => bundle.etag));
  });
});

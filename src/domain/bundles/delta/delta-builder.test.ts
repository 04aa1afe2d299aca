import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import type { Logger } from '../../logger.js';
import type { TreeEntry } from '../../store/policy-store.js';
import { BundleBuilder, type BuiltBundle } from '../bundle-builder.js';
import { BundlePackager } from '../bundle-packager.js';
import { BundleSigner } from '../bundle-signer.js';
import { BundleVerifier } from '../bundle-verifier.js';
import { generateSigningKey, verificationKeyFor } from '../signing-key.js';
import { readTarball } from '../tarball-reader.js';
import { DeltaBuilder, PATCH_PATH } from './delta-builder.js';
import { snapshotEtagOf } from './delta-etag.js';

const errors: unknown[] = [];
const silent: Logger = { debug() {}, info() {}, warn() {}, error: (fields) => void errors.push(fields), child: () => silent };
const key = generateSigningKey('test-key', 'RS256').key;
const verifier = BundleVerifier.create([verificationKeyFor(key)]);

function setup() {
  const signer = BundleSigner.create({ key });
  const signerFor = (id: string) => (id === key.keyId ? signer : undefined);
  const packager = BundlePackager.create({ verifier, maxBundleBytes: 8 << 20, logger: silent });
  const builder = BundleBuilder.create({ signerFor, defaultKeyId: key.keyId, verifier, packager, limits: { maxFiles: 1000, maxFileBytes: 1 << 20, maxBundleBytes: 8 << 20 }, logger: silent });
  const deltas = DeltaBuilder.create({ packager, signerFor, logger: silent });
  return { builder, deltas };
}

async function build(builder: BundleBuilder, revision: string, files: Record<string, string>): Promise<BuiltBundle[]> {
  const blobs = new Map<string, Buffer>();
  const entries = Object.entries(files).map(([path, text]): TreeEntry => {
    const content = Buffer.from(text);
    const blobId = createHash('sha1').update(content).digest('hex');
    blobs.set(blobId, content);
    return { path, blobId, size: content.length, kind: 'file' };
  });
  return builder.build(revision.repeat(40), entries, async (ids) => new Map(ids.map((id) => [id, blobs.get(id)!])));
}

/** The snapshots of `before` and `after` (one bundle), and the delta between them. */
async function delta(before: Record<string, string>, after: Record<string, string>) {
  const { builder, deltas } = setup();
  const [from] = await build(builder, '1', before);
  const [to] = await build(builder, '2', after);
  return { from: from!, to: to!, delta: await deltas.build(from!, to!) };
}

async function patchOf(tarball: Buffer): Promise<unknown> {
  const files = await readTarball(tarball);
  return JSON.parse(files.find((file) => file.path === PATCH_PATH)!.content.toString('utf8'));
}

const BASE = {
  'regent.yaml': 'bundles:\n  app:\n    roots: [app]\n',
  'app/policy.rego': 'package app\n\nallow if input.user in data.app.users.admins\n',
  'app/users/data.json': JSON.stringify({ admins: ['alice'], limits: { max: 5, min: 1 }, teams: { red: { size: 3 } } }),
};

describe('DeltaBuilder', () => {
  test('a data-only change gives a signed delta: patch.json with the changed keys only, and the new manifest', async () => {
    const { to, delta: built } = await delta(BASE, { ...BASE, 'app/users/data.json': JSON.stringify({ admins: ['alice', 'bob'], limits: { max: 5 }, teams: { red: { size: 3 }, blue: { size: 1 } } }) });
    expect(built).toBeDefined();
    expect(await patchOf(built!.tarball)).toEqual({ data: [
      { op: 'upsert', path: '/app/users/admins', value: ['alice', 'bob'] },
      { op: 'remove', path: '/app/users/limits/min' },
      { op: 'upsert', path: '/app/users/teams/blue', value: { size: 1 } },
    ] });
    const files = await readTarball(built!.tarball);
    expect(files.map((file) => file.path)).toEqual([PATCH_PATH, '.manifest', '.signatures.json']);
    expect(JSON.parse(files[1]!.content.toString())).toEqual(to.manifest);
    await verifier.verifyTarball(built!.tarball, { keyId: key.keyId });
    expect(built!.revision).toBe(to.revision);
    expect(built!.operations).toBe(3);
    expect(built!.tarball.length).toBeLessThan(to.tarball.length);
  });

  test('its ETag is unique to its bytes and names the snapshot it leads to', async () => {
    const { from, to, delta: built } = await delta(BASE, { ...BASE, 'app/users/data.json': '{"admins": []}' });
    expect(built!.from).toBe(from.etag);
    expect(built!.etag).toMatch(/^"[0-9a-f]{64}\.delta\.[0-9a-f]{64}"$/);
    expect(built!.etag).toContain(createHash('sha256').update(built!.tarball).digest('hex'));
    expect(snapshotEtagOf(built!.etag)).toBe(to.etag);
    expect(snapshotEtagOf(to.etag)).toBe(to.etag);
  });

  test('is deterministic: fresh builders give the same bytes and ETag', async () => {
    const after = { ...BASE, 'app/users/data.json': '{"admins": ["carol"], "z": {"k": 1}}' };
    const first = await delta(BASE, after);
    const second = await delta(BASE, after);
    expect(second.delta!.tarball.equals(first.delta!.tarball)).toBe(true);
    expect(second.delta!.etag).toBe(first.delta!.etag);
  });

  test.each([
    ['a module changes', { ...BASE, 'app/policy.rego': 'package app\n\nallow := false\n' }],
    ['a module is added', { ...BASE, 'app/extra.rego': 'package app.extra\n\nx := 1\n' }],
    ['the roots change', { ...BASE, 'regent.yaml': 'bundles:\n  app:\n    roots: [app/users, app/x]\n    paths: [app]\n', 'app/policy.rego': 'package app.x\n\nallow := true\n' }],
  ])('builds none when %s (OPA takes deltas of data only)', async (_name, after) => {
    const result = await delta(BASE, after);
    expect(result.delta).toBeUndefined();
  });

  test('data files added and removed become upserts and removes at their directories', async () => {
    const before = { ...BASE, 'app/gone/data.json': '{"x": 1}' };
    const after = { ...BASE, 'app/new/deep/data.json': '{"y": [1, 2]}' };
    const { delta: built } = await delta(before, after);
    expect(await patchOf(built!.tarball)).toEqual({ data: [
      { op: 'remove', path: '/app/gone' },
      { op: 'upsert', path: '/app/new', value: { deep: { y: [1, 2] } } },
    ] });
  });

  test('nested data files merge as OPA merges them: removing a key of the outer file keeps the inner file\'s data', async () => {
    const before = { ...BASE, 'app/data.json': '{"users": {"extra": true}, "flag": 1}' };
    const after = { ...BASE, 'app/data.json': '{"flag": 2}' };
    const { delta: built } = await delta(before, after);
    expect(await patchOf(built!.tarball)).toEqual({ data: [
      { op: 'upsert', path: '/app/flag', value: 2 },
      { op: 'remove', path: '/app/users/extra' },
    ] });
  });

  test('keys are escaped the way OPA unescapes patch paths (% then ~1 and ~0), and numbers keep their text', async () => {
    const after = { ...BASE, 'app/users/data.json': '{"admins": ["alice"], "limits": {"max": 5, "min": 1}, "teams": {"red": {"size": 3}}, "a/b~c%2Fd": 1.50, "big": 12345678901234567890}' };
    const { delta: built } = await delta(BASE, after);
    const files = await readTarball(built!.tarball);
    const patch = files.find((file) => file.path === PATCH_PATH)!.content.toString();
    expect(patch).toBe('{"data":[{"op":"upsert","path":"/app/users/a~1b~0c%252Fd","value":1.50},{"op":"upsert","path":"/app/users/big","value":12345678901234567890}]}');
  });

  test('without regent.yaml (one bundle owning all of data, roots [""]), paths start at the top of data', async () => {
    const before = { 'x/p.rego': 'package x\n\nallow := true\n', 'data.json': '{"top": 1}', 'x/data.json': '{"k": [1]}' };
    const { delta: built } = await delta(before, { ...before, 'data.json': '{"top": 2, "new": true}' });
    expect(await patchOf(built!.tarball)).toEqual({ data: [{ op: 'upsert', path: '/new', value: true }, { op: 'upsert', path: '/top', value: 2 }] });
  });

  test('a revision whose data did not change still gets a delta: one operation writing a value as it is', async () => {
    const { delta: built } = await delta(BASE, { ...BASE, 'README.md': 'not shipped' });
    expect(await patchOf(built!.tarball)).toEqual({ data: [{ op: 'upsert', path: '/app/users/admins', value: ['alice'] }] });
  });

  test('builds none for a key OPA cannot address (empty), or when the patch is not smaller than the snapshot', async () => {
    expect((await delta(BASE, { ...BASE, 'app/users/data.json': '{"": 1, "admins": []}' })).delta).toBeUndefined();
    // Thousands of keys removed: the patch names each one, the new snapshot holds almost nothing.
    const many = JSON.stringify(Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [createHash('sha1').update(String(i)).digest('hex'), i])));
    expect((await delta({ ...BASE, 'app/users/data.json': many }, { ...BASE, 'app/users/data.json': '{}' })).delta).toBeUndefined();
    expect(errors).toEqual([]);
  });
});

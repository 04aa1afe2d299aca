// eslint-disable-next-line no-restricted-imports -- the test drives the real OPA binary; the module under test spawns nothing
import { execFile } from 'node:child_process';
import { createSecretKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import { describe, expect, onTestFinished, test } from 'vitest';
import { opaPath } from '../../../test/helpers/opa-path.js';
import { BuildError, InputError } from '../errors.js';
import { MANIFEST_PATH, SIGNATURES_PATH, type BundleFile } from './bundle.js';
import { BundleSigner, type FileInfo, type SignatureCache } from './bundle-signer.js';
import { BundleVerifier } from './bundle-verifier.js';
import { canonicalJsonFromValue } from './canonical-json.js';
import { generateSigningKey, publicKeyPem, verificationKeyFor, type SigningAlgorithm, type SigningKey } from './signing-key.js';
import { writeTarball } from './tarball-writer.js';

const run = promisify(execFile);

function decodeSegment(token: string, index: number): unknown {
  return JSON.parse(Buffer.from(token.split('.')[index] as string, 'base64url').toString('utf8'));
}

function mapCache(): SignatureCache & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return { entries, get: (key) => entries.get(key), set: (key, jws) => void entries.set(key, jws) };
}

/** A small bundle in canonical form: manifest, a module, data with characters that need Go escaping. */
function bundleFiles(revision = 'c0ffee'): BundleFile[] {
  return [
    { path: MANIFEST_PATH, content: Buffer.from(canonicalJsonFromValue({ revision, roots: ['x'], rego_version: 1 })) },
    { path: 'x/policy.rego', content: Buffer.from('package x\n\nallow if data.x.users.alice.admin\n') },
    { path: 'x/data.json', content: Buffer.from(canonicalJsonFromValue({ users: { alice: { admin: true, note: 'a\u2028b <&> \u0001 é \u{1F600}' }, '\uE000': 1, '\u{1F600}': 2 }, n: [1, 2.5] })) },
  ];
}

async function tarball(files: readonly BundleFile[]): Promise<Buffer> {
  return writeTarball(files);
}

async function signedTarball(signer: BundleSigner, files = bundleFiles()): Promise<Buffer> {
  const signatures = signer.signaturesFile(files.map((file) => signer.fileInfo(file)));
  return tarball([...files, { path: SIGNATURES_PATH, content: signatures }]);
}

describe('BundleSigner', () => {
  test.each<[SigningAlgorithm]>([['RS256'], ['PS256'], ['ES256'], ['HS256'], ['RS512'], ['PS384'], ['ES384'], ['ES512'], ['HS512']])('%s: signs what BundleVerifier accepts', async (algorithm) => {
    const { key } = generateSigningKey('regent', algorithm);
    const signer = BundleSigner.create({ key, scope: 'read' });
    const verifier = BundleVerifier.create([verificationKeyFor(key, 'read')]);
    const verified = await verifier.verifyTarball(await signedTarball(signer));
    expect(verified).toMatchObject({ keyId: 'regent', algorithm, scope: 'read' });
    expect(verified.files.map((file) => file.name)).toEqual([MANIFEST_PATH, 'x/policy.rego', 'x/data.json']);
  });

  test('writes the header and payload OPA reads: kid, keyid, files in order, scope, no iat', () => {
    const { key } = generateSigningKey('k-1', 'RS256');
    const files: FileInfo[] = [
      { name: 'b.rego', hash: 'ab', algorithm: 'SHA-256' },
      { name: 'a/data.json', hash: '0f', algorithm: 'SHA-512' },
    ];
    const signaturesFile = BundleSigner.create({ key, scope: 'write' }).signaturesFile(files);
    const parsed = JSON.parse(signaturesFile.toString()) as { signatures: string[] };
    expect(Object.keys(parsed)).toEqual(['signatures']);
    expect(parsed.signatures).toHaveLength(1);
    const token = parsed.signatures[0] as string;
    expect(decodeSegment(token, 0)).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'k-1' });
    expect(decodeSegment(token, 1)).toEqual({ files, keyid: 'k-1', scope: 'write' });
    expect(signaturesFile.toString()).toBe(`{"signatures":["${token}"]}`);
    expect(decodeSegment(BundleSigner.create({ key }).signFileInfos(files), 1)).toEqual({ files, keyid: 'k-1' });
  });

  test('reproduces OPA sign_test.go TestGenerateSignedToken: an HS256 token over its file list verifies with "secret"', () => {
    const key: SigningKey = { keyId: 'foo', algorithm: 'HS256', privateKey: createSecretKey(Buffer.from('secret')) };
    const files: FileInfo[] = [
      { name: '/.manifest', hash: 'a005c38a509dc2d5a7407b9494efb2ad', algorithm: 'MD5' },
      { name: '/a/b/c/data.json', hash: '60f7b5dc86ded48785436192a08dbfd04894d7f1b417c4f8d3714679a7f78cb3c833f16a8559a1cf1f32968747dc1d95ef34826263dacf125ded8f5c374be4c0', algorithm: 'SHA-512' },
      { name: '/a/b/d/data.json', hash: 'b326b5062b2f0e69046810717534cb09', algorithm: 'MD5' },
    ];
    const token = BundleSigner.create({ key }).signFileInfos(files);
    expect(jwt.verify(token, 'secret', { algorithms: ['HS256'] })).toEqual({ files, keyid: 'foo' });
    expect(() => jwt.verify(token, 'bad_secret', { algorithms: ['HS256'] })).toThrow(/invalid signature/);
  });

  test.each<[SigningAlgorithm]>([['RS256'], ['HS256']])('%s output is a pure function of key and files', (algorithm) => {
    const { key } = generateSigningKey('k', algorithm);
    const infos = bundleFiles().map((file) => BundleSigner.create({ key }).fileInfo(file));
    expect(BundleSigner.create({ key }).signaturesFile(infos)).toEqual(BundleSigner.create({ key }).signaturesFile(infos));
  });

  test.each<[SigningAlgorithm]>([['ES256'], ['PS256']])('%s reuses a cached signature, so rebuilds are byte-identical', (algorithm) => {
    const { key } = generateSigningKey('k', algorithm);
    const infos = bundleFiles().map((file) => BundleSigner.create({ key }).fileInfo(file));
    // Randomized without a cache...
    expect(BundleSigner.create({ key }).signFileInfos(infos)).not.toBe(BundleSigner.create({ key }).signFileInfos(infos));
    // ...stable with one, across signer instances (a restart with a persisted cache).
    const cache = mapCache();
    const first = BundleSigner.create({ key, cache }).signaturesFile(infos);
    expect(BundleSigner.create({ key, cache }).signaturesFile(infos)).toEqual(first);
    expect(cache.entries.size).toBe(1);
    // A different payload (another revision) gets its own signature.
    const other = bundleFiles('beef').map((file) => BundleSigner.create({ key }).fileInfo(file));
    expect(BundleSigner.create({ key, cache }).signaturesFile(other)).not.toEqual(first);
    expect(cache.entries.size).toBe(2);
  });

  test('never serves a cached signature that does not fit the payload or the key', () => {
    const cache = mapCache();
    const { key } = generateSigningKey('k', 'ES256');
    const infos = bundleFiles().map((file) => BundleSigner.create({ key }).fileInfo(file));
    const genuine = BundleSigner.create({ key, cache }).signFileInfos(infos);
    const [cacheKey] = [...cache.entries.keys()];

    // A corrupted entry (another payload's token) is ignored and replaced.
    const otherToken = BundleSigner.create({ key }).signFileInfos(infos.slice(1));
    cache.entries.set(cacheKey as string, otherToken);
    const replaced = BundleSigner.create({ key, cache }).signFileInfos(infos);
    expect(replaced).not.toBe(otherToken);
    expect(cache.entries.get(cacheKey as string)).toBe(replaced);
    expect(jwt.verify(replaced, verificationKeyFor(key).publicKey, { algorithms: ['ES256'] })).toBeTruthy();

    // A rotated key under the same key id does not hit the old key's entries.
    const rotated = generateSigningKey('k', 'ES256').key;
    const fresh = BundleSigner.create({ key: rotated, cache }).signFileInfos(infos);
    expect(fresh).not.toBe(genuine);
    expect(jwt.verify(fresh, verificationKeyFor(rotated).publicKey, { algorithms: ['ES256'] })).toBeTruthy();
  });

  test('refuses paths OPA would mistake for the signatures file', () => {
    const signer = BundleSigner.create({ key: generateSigningKey('k', 'HS256').key });
    for (const path of [SIGNATURES_PATH, 'team/signatures.json', 'x/mysignatures.json']) {
      const error = (() => {
        try {
          signer.fileInfo({ path, content: Buffer.from('{}') });
        } catch (e) {
          return e as InputError;
        }
        throw new Error('expected a refusal');
      })();
      expect(error).toBeInstanceOf(InputError);
      expect(error.code).toBe('reserved_bundle_path');
    }
  });

  test.each<[string, FileInfo[]]>([
    ['a duplicate name', [{ name: 'a', hash: '00', algorithm: 'SHA-256' }, { name: 'a', hash: '00', algorithm: 'SHA-256' }]],
    ['the signatures file', [{ name: SIGNATURES_PATH, hash: '00', algorithm: 'SHA-256' }]],
    ['an algorithm OPA does not know', [{ name: 'a', hash: '00', algorithm: 'SHA256' as FileInfo['algorithm'] }]],
    ['upper-case hex', [{ name: 'a', hash: 'AB', algorithm: 'SHA-256' }]],
    ['an empty name', [{ name: '', hash: '00', algorithm: 'SHA-256' }]],
  ])('refuses to sign a list with %s', (_name, files) => {
    const signer = BundleSigner.create({ key: generateSigningKey('k', 'HS256').key });
    expect(() => signer.signFileInfos(files)).toThrow(BuildError);
  });
});

describe('a bundle signed by BundleSigner, read by the real OPA', () => {
  async function opaReads(bundle: Buffer, args: string[]): Promise<{ ok: boolean; output: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'regent-signer-opa-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'bundle.tar.gz'), bundle);
    const resolved = args.map((arg) => (arg.startsWith('@') ? join(dir, arg.slice(1)) : arg));
    const pending = run(opaPath(), ['run', '--bundle', join(dir, 'bundle.tar.gz'), ...resolved], { cwd: dir, timeout: 30_000 });
    pending.child.stdin?.end('data.x.allow\ndata.x.users.alice.note\n');
    try {
      const { stdout, stderr } = await pending;
      return { ok: true, output: stdout + stderr };
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
    }
  }

  async function keyArgs(dir: string, key: SigningKey, extra: string[] = []): Promise<string[]> {
    const pem = publicKeyPem(key);
    if (key.algorithm.startsWith('HS')) return ['--verification-key', pem, '--verification-key-id', key.keyId, '--signing-alg', key.algorithm, ...extra];
    await writeFile(join(dir, `${key.keyId}.pem`), pem);
    return ['--verification-key', join(dir, `${key.keyId}.pem`), '--verification-key-id', key.keyId, '--signing-alg', key.algorithm, ...extra];
  }

  async function keyDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'regent-signer-keys-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  test.each<[SigningAlgorithm]>([['RS256'], ['PS256'], ['ES256'], ['HS256'], ['ES512']])('%s: OPA verifies, loads and evaluates it', async (algorithm) => {
    const { key } = generateSigningKey('regent-bundles', algorithm);
    const bundle = await signedTarball(BundleSigner.create({ key }));
    const result = await opaReads(bundle, await keyArgs(await keyDir(), key));
    expect(result.output).not.toMatch(/error/i);
    expect(result.ok).toBe(true);
    expect(result.output).toContain('true');
    // The REPL prints with Go's HTML escaping; the point is that the data was loaded intact.
    expect(result.output).toContain('"a\\u2028b \\u003c\\u0026\\u003e \\u0001 é 😀"');
  });

  test('OPA checks the scope we sign exactly', async () => {
    const { key } = generateSigningKey('scoped', 'RS256');
    const bundle = await signedTarball(BundleSigner.create({ key, scope: 'read' }));
    const dir = await keyDir();
    expect((await opaReads(bundle, await keyArgs(dir, key, ['--scope', 'read']))).ok).toBe(true);
    const refused = await opaReads(bundle, await keyArgs(dir, key));
    expect(refused).toMatchObject({ ok: false });
    expect(refused.output).toContain('scope mismatch');
  });

  test.each<[string, (files: BundleFile[], signer: BundleSigner) => Promise<Buffer>, RegExp]>([
    ['one byte of the module changed', async (files, signer) => {
      const signatures = signer.signaturesFile(files.map((file) => signer.fileInfo(file)));
      const tampered = files.map((file) => (file.path === 'x/policy.rego' ? { ...file, content: Buffer.from(file.content.toString().replace('admin', 'admix')) } : file));
      return tarball([...tampered, { path: SIGNATURES_PATH, content: signatures }]);
    }, /x\/policy\.rego: digest mismatch/],
    ['an extra unsigned file', async (files, signer) => {
      const signatures = signer.signaturesFile(files.map((file) => signer.fileInfo(file)));
      return tarball([...files, { path: 'x/extra.rego', content: Buffer.from('package x\n') }, { path: SIGNATURES_PATH, content: signatures }]);
    }, /file x\/extra\.rego not included in bundle signature/],
    ['a signed file removed', async (files, signer) => {
      const signatures = signer.signaturesFile(files.map((file) => signer.fileInfo(file)));
      return tarball([...files.filter((file) => file.path !== 'x/data.json'), { path: SIGNATURES_PATH, content: signatures }]);
    }, /file\(s\) \[x\/data\.json\] specified in bundle signatures but not found/],
    ['signed by another key under the same id', async (files) => signedTarball(BundleSigner.create({ key: generateSigningKey('regent-bundles', 'RS256').key }), files),
      /failed to verify JWT signature/],
  ])('OPA refuses it with %s, and so does BundleVerifier', async (_name, tamper, opaMessage) => {
    const { key } = generateSigningKey('regent-bundles', 'RS256');
    const bundle = await tamper(bundleFiles(), BundleSigner.create({ key }));
    const result = await opaReads(bundle, await keyArgs(await keyDir(), key));
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(opaMessage);
    await expect(BundleVerifier.create([verificationKeyFor(key)]).verifyTarball(bundle)).rejects.toThrow(BuildError);
  });
});

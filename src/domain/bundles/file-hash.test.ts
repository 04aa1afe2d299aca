// eslint-disable-next-line no-restricted-imports -- the test drives the real OPA binary as an oracle; the module under test spawns nothing
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, onTestFinished, test } from 'vitest';
import { opaPath } from '../../../test/helpers/opa-path.js';
import { InputError } from '../errors.js';
import { CanonicalFormMemo } from './canonical-form-memo.js';
import { HASH_ALGORITHMS, hashBundleFile, hashedBytes, isHashAlgorithm, isStructuredFile, type HashAlgorithm } from './file-hash.js';

const run = promisify(execFile);

function digest(algorithm: string, bytes: string | Buffer): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'regent-file-hash-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('isStructuredFile', () => {
  test.each([
    ['data.json', true],
    ['a/b/data.json', true],
    ['/a/data.json', true],
    ['data.yaml', true],
    ['data.yml', true],
    ['.manifest', true],
    ['x/.manifest', true],
    ['signatures.json', true],
    ['a/data.json/', true],
    ['.signatures.json', false],
    ['x/foo.manifest', false],
    ['data.JSON', false],
    ['data.YAML', false],
    ['xdata.json', false],
    ['data.json.bak', false],
    ['plan.json', false],
    ['patch.json', false],
    ['policy.wasm', false],
    ['rbac/policy.rego', false],
  ])('%s -> %s', (path, expected) => {
    expect(isStructuredFile(path)).toBe(expected);
  });
});

describe('hashBundleFile with a canonical-form memo', () => {
  test('gives the same digests as without it, and remembers only canonical files', () => {
    const memo = new CanonicalFormMemo();
    const canonical = Buffer.from('{"a":1,"b":[true,null]}');
    const pretty = Buffer.from('{ "b": [true, null], "a": 1 }');
    for (const content of [canonical, pretty]) {
      expect(hashBundleFile('x/data.json', content, 'SHA-256', memo)).toBe(hashBundleFile('x/data.json', content, 'SHA-256'));
    }
    expect(memo.has(digest('sha256', canonical))).toBe(true);
    expect(memo.has(digest('sha256', pretty))).toBe(false);
    // Raw files are never looked up: their digest is always over the bytes.
    expect(hashBundleFile('x/policy.rego', pretty, 'SHA-256', memo)).toBe(digest('sha256', pretty));
  });

  test('trusts a remembered digest (that is its job): the structured file is then hashed as raw bytes', () => {
    const memo = new CanonicalFormMemo();
    const pretty = Buffer.from('{ "a": 1 }');
    memo.remember(digest('sha256', pretty));
    expect(hashBundleFile('data.json', pretty, 'SHA-256', memo)).toBe(digest('sha256', pretty));
    expect(hashBundleFile('data.json', pretty, 'SHA-256')).toBe(digest('sha256', '{"a":1}'));
  });

  test('forgets the oldest entries beyond its bound', () => {
    const memo = new CanonicalFormMemo(2);
    memo.remember('a');
    memo.remember('b');
    memo.remember('a');
    memo.remember('c');
    expect([memo.has('a'), memo.has('b'), memo.has('c')]).toEqual([true, false, true]);
  });
});

describe('hashBundleFile', () => {
  // opa:v1/bundle/sign_test.go TestGenerateSignedToken expDigests, except the two that are not
  // digests of their content ('package example' and the wasm placeholder).
  test.each([
    ['/.manifest', '{"revision": "quickbrownfaux"}', 'MD5', 'a005c38a509dc2d5a7407b9494efb2ad'],
    ['/a/b/c/data.json', '[1,2,3]', 'SHA-512', '60f7b5dc86ded48785436192a08dbfd04894d7f1b417c4f8d3714679a7f78cb3c833f16a8559a1cf1f32968747dc1d95ef34826263dacf125ded8f5c374be4c0'],
    ['/a/b/d/data.json', 'true', 'MD5', 'b326b5062b2f0e69046810717534cb09'],
    ['/a/b/y/data.yaml', 'foo: 1', 'SHA-512', '20f27a640a233e6524fe7d138898583cd43475724806feb26be7f214e1d10b29edf6a0d3cb08f82107a45686b61b8fdabab6406cf4e70efe134f42238dbd70ab'],
    ['/data.json', '{"x": {"y": true}, "a": {"b": {"z": true}}}', 'MD5', '36669864a622563256817033b1fc53db'],
  ] as const)('reproduces OPA sign_test.go digest of %s', (path, content, algorithm, expected) => {
    expect(hashBundleFile(path, Buffer.from(content), algorithm)).toBe(expected);
  });

  test('hashes .manifest canonically, not raw (verify_test.go bad_digest vector)', () => {
    const manifest = Buffer.from('{"revision": "quickbrownfaux"}');
    expect(hashBundleFile('.manifest', manifest, 'MD5')).toBe('a005c38a509dc2d5a7407b9494efb2ad');
    expect(digest('md5', manifest)).not.toBe('a005c38a509dc2d5a7407b9494efb2ad');
    expect(hashBundleFile('x.rego', manifest, 'MD5')).toBe(digest('md5', manifest));
  });

  test.each(HASH_ALGORITHMS.map((algorithm) => [algorithm]))('supports %s over raw and canonical bytes', (algorithm) => {
    const node = { MD5: 'md5', 'SHA-1': 'sha1', 'SHA-224': 'sha224', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512', 'SHA-512-224': 'sha512-224', 'SHA-512-256': 'sha512-256' }[algorithm];
    expect(hashBundleFile('p.rego', Buffer.from('package p\n'), algorithm)).toBe(digest(node, 'package p\n'));
    expect(hashBundleFile('data.json', Buffer.from('{ "b" : 1 , "a" : 2 }'), algorithm)).toBe(digest(node, '{"a":2,"b":1}'));
  });

  test('defaults to SHA-256 and refuses names OPA refuses', () => {
    expect(hashBundleFile('p.rego', Buffer.from('x'))).toBe(digest('sha256', 'x'));
    for (const name of ['SHA256', 'sha-256', 'SHA-3', 'MD6', '']) {
      expect(isHashAlgorithm(name)).toBe(false);
      expect(() => hashBundleFile('p.rego', Buffer.from('x'), name as HashAlgorithm)).toThrow(InputError);
    }
  });

  test('structured files: whitespace, key order, BOM and duplicate keys do not change the digest', () => {
    const canonical = hashBundleFile('data.json', Buffer.from('{"a":[1.0,{"c":"\\u2028"}],"b":null}'));
    for (const variant of ['{\n  "b": null,\n  "a": [1.0, {"c": "\u2028"}]\n}\n', '\uFEFF{"b":null,"a":[1.0,{"c":"\\u2028"}]}', '{"a":0,"b":null,"a":[1.0,{"c":"\\u2028"}]}']) {
      expect(hashBundleFile('data.json', Buffer.from(variant))).toBe(canonical);
    }
    // Number text is part of the digest: 1.0 and 1 differ, as in OPA.
    expect(hashBundleFile('data.json', Buffer.from('{"a":[1,{"c":"\\u2028"}],"b":null}'))).not.toBe(canonical);
  });

  test('a structured file that is not JSON is read as YAML, like util.Unmarshal', () => {
    expect(hashedBytes('x/data.yaml', Buffer.from('b: [1, two]\na: {c: true}\n')).toString()).toBe('{"a":{"c":true},"b":[1,"two"]}');
    expect(hashedBytes('x/data.json', Buffer.from('')).toString()).toBe('null');
    expect(() => hashedBytes('x/data.json', Buffer.from('{"a": [}'))).toThrow(InputError);
    // OPA fails on a null key ("unsupported map key of type: <nil>"), and so does this.
    expect(() => hashedBytes('x/data.yaml', Buffer.from('~: y\n'))).toThrow(InputError);
    expect(hashedBytes('x/README.md', Buffer.from('{"a": [}')).toString()).toBe('{"a": [}');
  });
});

describe('hashBundleFile against the real OPA (opa sign)', () => {
  test('computes the digest OPA computes for every kind of file', async () => {
    const dir = await tempDir();
    const files: Record<string, Buffer> = {
      // BOM, U+2028, HTML characters, control characters, lone surrogate escape, invalid UTF-8,
      // astral vs private-use keys, number text, a duplicate key.
      'data.json': Buffer.concat([
        Buffer.from('\uFEFF{"b": [1.0, 1e3, -0, 9007199254740993, 1E-7], "a": "\u2028 <>&/ \\u0001\\u001f\\b\\f \\ud800 '),
        Buffer.from([0xe2, 0x82, 0x41, 0xff]),
        Buffer.from(' é", "\uE000": 1, "\u{1F600}": 2, "dup": 1, "dup": {"z": [], "y": {}}}'),
      ]),
      'x/data.json': Buffer.from('{\n  "k": {"z": 1, "a": [true, null, "\\"\\\\\\/"]}\n}\n'),
      'y/data.yaml': Buffer.from('foo: 1\nbar: [a, "b", 2.5]\nnested: {k: null}\n'),
      // YAML read the way OPA v1.22.2 reads it: 1.2 booleans, legacy octal, hex, timestamps as
      // strings, merge keys and aliases, float and big integer text.
      'y1/data.yaml': Buffer.from('on: yes\noff: no\ny: n\n'),
      'y2/data.yaml': Buffer.from('n: 017\nm: -017\nh: 0x1F\no: 0o17\n'),
      'y3/data.yaml': Buffer.from('f: 1.0\ne: 1e3\ng: 1.5e-7\nbig: 12345678901234567890\nneg: -9223372036854775808\n'),
      'y4/data.yaml': Buffer.from('t: 2001-12-14\nbase: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\nlist: *b\n'),
      'y5/data.yaml': Buffer.from('- 1\n- two\n- 3.0\n- "\\u2028 <&>"\n'),
      'z/data.yml': Buffer.from('foo: 1\n'),
      '.manifest': Buffer.from('{"roots": ["x", "y"],   "revision": "r", "metadata": {"é": 1, "e": 2}}'),
      'w/foo.manifest': Buffer.from('{"revision": "x"}'),
      'x/p.rego': Buffer.from('package x\n\nallow := true\n'),
      'v/plan.json': Buffer.from('{"b": 1,  "a": 2}'),
      'v/data.JSON': Buffer.from('{"b": 1,  "a": 2}'),
      'v/notes.txt': Buffer.from([0x00, 0xff, 0x10]),
    };
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = join(await tempDir(), 'key.pem');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await run(opaPath(), ['sign', '--signing-key', keyFile, '--bundle', '.'], { cwd: dir });

    const signatures = JSON.parse(await readFile(join(dir, '.signatures.json'), 'utf8')) as { signatures: string[] };
    const payload = JSON.parse(Buffer.from((signatures.signatures[0] as string).split('.')[1] as string, 'base64url').toString()) as { files: Array<{ name: string; hash: string; algorithm: string }> };
    expect(payload.files.map((file) => file.name).sort()).toEqual(Object.keys(files).sort());
    for (const file of payload.files) {
      expect({ name: file.name, hash: hashBundleFile(file.name, files[file.name] as Buffer, 'SHA-256') }).toEqual({ name: file.name, hash: file.hash });
    }
  });
});

// eslint-disable-next-line no-restricted-imports -- the test drives the real OPA binary; the module under test spawns nothing
import { execFile } from 'node:child_process';
import { createHmac, sign } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, onTestFinished, test } from 'vitest';
import { opaPath } from '../../../test/helpers/opa-path.js';
import { BuildError, InputError } from '../errors.js';
import { MANIFEST_PATH, SIGNATURES_PATH, type BundleFile } from './bundle.js';
import { BundleSigner } from './bundle-signer.js';
import { BundleVerifier, type VerifyOptions } from './bundle-verifier.js';
import { canonicalJsonFromValue } from './canonical-json.js';
import { hashBundleFile } from './file-hash.js';
import { generateSigningKey, publicKeyPem, verificationKeyFor, verificationKeyFromPem, type SigningKey } from './signing-key.js';
import { readTarball } from './tarball-reader.js';
import { writeTarball } from './tarball-writer.js';

const run = promisify(execFile);

// Tokens and keys from opa:v1/bundle/verify_test.go.
const signedTokenHS256 = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImZvbyJ9.eyJmaWxlcyI6W3sibmFtZSI6ImRiL3VhbTIvZW50aXRsZW1lbnRzL2RhdGEuanNvbiIsImhhc2giOiJjMjEzMTU0NGM3MTZhMjVhNWUzMWY1MDQzMDBmNTI0MGU4MjM1Y2FkYjlhNTdmMGJkMWI2ZjRiZDc0YjI2NjEyIiwiYWxnb3JpdGhtIjoic2hhMjU2In0seyJuYW1lIjoiZGIvdWFtMi9wb2xpY3kvb3BhLXBvbGljeS5yZWdvIiwiaGFzaCI6IjQyY2ZlNjc2OGI1N2JiNWY3NTAzYzE2NWMyOGRkMDdhYzViODEzNTU0ZWJjODUwZjJjYzM1ODQzZTcxMzdiMWQifV0sImlhdCI6MTU5MjI0ODAyNywiaXNzIjoiSldUU2VydmljZSIsInNjb3BlIjoid3JpdGUifQ.u7b_h88osJpU6VQLhIUmZjblsPNCO_kTqsVtpEAHavs';
const otherSignedTokenHS256 = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmaWxlcyI6W3sibmFtZSI6ImRiL3VhbTMvcm9sZXMvZGF0YS5qc29uIiwiaGFzaCI6ImMyMTMxNTQ0YzcxNmEyNWE1ZTMxZjUwNDMwMGY1MjQwZTgyMzVjYWRiOWE1N2YwYmQxYjZmNGJkNzRiMjY2MTIiLCJhbGdvcml0aG0iOiJtZDUifSx7Im5hbWUiOiJkYi91YW0zL3BvbGljeS9wb2xpY3kucmVnbyIsImhhc2giOiI0MmNmZTY3NjhiNTdiYjVmNzUwM2MxNjVjMjhkZDA3YWM1YjgxMzU1NGViYzg1MGYyY2MzNTg0M2U3MTM3YjFkIn0seyJuYW1lIjoiZGIvdWFtNC9wb2xpY3kvcmVnby5yZWdvIiwiaGFzaCI6IjQyY2ZlNjc2OGI1N2JiNWY3NTAzYzE2NWMyOGRkMDdhYzViODEzNTU0ZWJjODUwZjJjYzM1ODQzZTcxMzdiMWQiLCJhbGdvcml0aG0iOiJzaGEzODQifV0sImlhdCI6MTU5MjI0ODAyNywiaXNzIjoiSldUU2VydmljZSIsImtleWlkIjoiYmFyIiwic2NvcGUiOiJ3cml0ZSJ9.d_NiBXF3zqNPZCEubQC1FC1IYwmwkYwjv00B5UyJ9Dk';
const signedNoKeyIDTokenHS256 = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmaWxlcyI6W3sibmFtZSI6ImRiL3VhbTIvZW50aXRsZW1lbnRzL2RhdGEuanNvbiIsImhhc2giOiJjMjEzMTU0NGM3MTZhMjVhNWUzMWY1MDQzMDBmNTI0MGU4MjM1Y2FkYjlhNTdmMGJkMWI2ZjRiZDc0YjI2NjEyIiwiYWxnb3JpdGhtIjoic2hhMjU2In0seyJuYW1lIjoiZGIvdWFtMi9wb2xpY3kvb3BhLXBvbGljeS5yZWdvIiwiaGFzaCI6IjQyY2ZlNjc2OGI1N2JiNWY3NTAzYzE2NWMyOGRkMDdhYzViODEzNTU0ZWJjODUwZjJjYzM1ODQzZTcxMzdiMWQifV0sImlhdCI6MTU5MjI0ODAyNywiaXNzIjoiSldUU2VydmljZSIsInNjb3BlIjoid3JpdGUifQ.N2DaEyhfACMAij2sRC0ZDwNz4wI7BX_flH3IkKqMvE4';
const signedTokenWithDeprecatedKidClaimHS256 = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmaWxlcyI6W3sibmFtZSI6ImRiL3VhbTIvZW50aXRsZW1lbnRzL2RhdGEuanNvbiIsImhhc2giOiJjMjEzMTU0NGM3MTZhMjVhNWUzMWY1MDQzMDBmNTI0MGU4MjM1Y2FkYjlhNTdmMGJkMWI2ZjRiZDc0YjI2NjEyIiwiYWxnb3JpdGhtIjoic2hhMjU2In0seyJuYW1lIjoiZGIvdWFtMi9wb2xpY3kvb3BhLXBvbGljeS5yZWdvIiwiaGFzaCI6IjQyY2ZlNjc2OGI1N2JiNWY3NTAzYzE2NWMyOGRkMDdhYzViODEzNTU0ZWJjODUwZjJjYzM1ODQzZTcxMzdiMWQifV0sImlhdCI6MTU5MjI0ODAyNywiaXNzIjoiSldUU2VydmljZSIsImtleWlkIjoiZm9vIiwic2NvcGUiOiJ3cml0ZSJ9.4nrInalqppAc9EjsNUD9Y35amVpDGoRk4bkxzdY8fhs';
const signedTokenWithBarKidHS256 = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImJhciJ9.eyJmaWxlcyI6W3sibmFtZSI6ImRiL3VhbTIvZW50aXRsZW1lbnRzL2RhdGEuanNvbiIsImhhc2giOiJjMjEzMTU0NGM3MTZhMjVhNWUzMWY1MDQzMDBmNTI0MGU4MjM1Y2FkYjlhNTdmMGJkMWI2ZjRiZDc0YjI2NjEyIiwiYWxnb3JpdGhtIjoic2hhMjU2In0seyJuYW1lIjoiZGIvdWFtMi9wb2xpY3kvb3BhLXBvbGljeS5yZWdvIiwiaGFzaCI6IjQyY2ZlNjc2OGI1N2JiNWY3NTAzYzE2NWMyOGRkMDdhYzViODEzNTU0ZWJjODUwZjJjYzM1ODQzZTcxMzdiMWQifV0sImlhdCI6MTU5MjI0ODAyNywiaXNzIjoiSldUU2VydmljZSIsInNjb3BlIjoid3JpdGUifQ.xW04tph2-dSy47uZ-CgiObvFWFLUsMym8N7ermgPZ0s';
const signedTokenRS256 = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImZvbyJ9.eyJmaWxlcyI6W3sibmFtZSI6ImRiL3VhbTIvZW50aXRsZW1lbnRzL2RhdGEuanNvbiIsImhhc2giOiJjMjEzMTU0NGM3MTZhMjVhNWUzMWY1MDQzMDBmNTI0MGU4MjM1Y2FkYjlhNTdmMGJkMWI2ZjRiZDc0YjI2NjEyIiwiYWxnb3JpdGhtIjoic2hhMjU2In0seyJuYW1lIjoiZGIvdWFtMi9wb2xpY3kvb3BhLXBvbGljeS5yZWdvIiwiaGFzaCI6IjQyY2ZlNjc2OGI1N2JiNWY3NTAzYzE2NWMyOGRkMDdhYzViODEzNTU0ZWJjODUwZjJjYzM1ODQzZTcxMzdiMWQifV0sImlhdCI6MTU5MjI1MTQwNiwiaXNzIjoiSldUU2VydmljZSIsInNjb3BlIjoid3JpdGUifQ.UZcX_Qj29o213nwZ5mysiyNcgAp1AOqCkDLkj1KGZ7Cw3l17TbkF8t3FJd654sf762NGcABA0WQ2zxq-labXl_d5TKQmq23lurO3qLHI1cKQPyoxPbddGo78sJpMwWsiMyEYcyyKC9FpNUpa8cT81GPo4q9Zui8TAD0wtHh2YxBL7E8QYLJxcLMJTJxVBgrQGLXFT7vYRc6hJz9Vu-i0SWuLBGxOCmYoHr4DWFfy0IhAbhiUFyLRpukfBPjCJNYY5LgaZdN6LaYivtIEUms5jUuXubBimLJm7KOT5-bgJMXTcUsbrbl2Ma7PwG5IOKjjgyEvH8KVfGFZSzNrpuxKmA';
const badTokenPayload = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmaWxlcyI6eyJuYW1lIjoiZGIvdWFtMi9wb2xpY3kvb3BhLXBvbGljeS5yZWdvIiwiaGFzaCI6IjQyY2ZlNjc2OGI1N2JiNWY3NTAzYzE2NWMyOGRkMDdhYzViODEzNTU0ZWJjODUwZjJjYzM1ODQzZTcxMzdiMWQifSwiaWF0IjoxNTkyMjQ4MDI3LCJpc3MiOiJKV1RTZXJ2aWNlIiwia2V5aWQiOiJmb28iLCJzY29wZSI6IndyaXRlIn0.J3KJFOycHPy4Wkw_LzzIKvTMqCsV8L8DdQW5Q-vieKg';
const publicKeyValid = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA9KaakMv1XKKDaSch3PFR
3a27oaHp1GNTTNqvb1ZaHZXp+wuhYDwc/MTE67x9GCifvQBWzEGorgTq7aisiOyl
vKifwz6/wQ+62WHKG/sqKn2Xikp3P63aBIPlZcHbkyyRmL62yeyuzYoGvLEYel+m
z5SiKGBwviSY0Th2L4e5sGJuk2HOut6emxDi+E2Fuuj5zokFJvIT6Urlq8f3h6+l
GeR6HUOXqoYVf7ff126GP7dticTVBgibxkkuJFmpvQSW6xmxruT4k6iwjzbZHY7P
ypZ/TdlnuGC1cOpAVyU7k32IJ9CRbt3nwEf5U54LRXLLQjFixWZHwKdDiMTF4ws0
+wIDAQAB
-----END PUBLIC KEY-----`;
const publicKeyInvalid = `-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDMYfnvWtC8Id5bPKae5yXSxQTt
+Zpul6AnnZWfI2TtIarvjHBFUtXRo96y7hoL4VWOPKGCsRqMFDkrbeUjRrx8iL91
4/srnyf6sh9c8Zk04xEOpK1ypvBz+Ks4uZObtjnnitf0NBGdjMKxveTq+VE7BWUI
yQjtQ8mbDOsiLLvh7wIDAQAB
-----END PUBLIC KEY-----`;

const hs = (keyId: string, secret: string): ReturnType<typeof verificationKeyFromPem> => verificationKeyFromPem(keyId, 'HS256', secret);

function buildError(fn: () => unknown): BuildError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BuildError);
    return error as BuildError;
  }
  throw new Error('expected a BuildError');
}

describe('BundleVerifier.verifyToken with OPA verify_test.go vectors', () => {
  test.each<[string, string, ReturnType<typeof hs>[], VerifyOptions, string]>([
    ['valid token and scope', signedTokenHS256, [hs('foo', 'secret')], { scope: 'write' }, 'foo'],
    ['deprecated keyid claim', signedTokenWithDeprecatedKidClaimHS256, [hs('foo', 'secret')], { scope: 'write' }, 'foo'],
    ['configured key id wins over the header kid', signedTokenWithBarKidHS256, [hs('foo', 'secret')], { keyId: 'foo', scope: 'write' }, 'foo'],
    ['RS256 with the matching public key', signedTokenRS256, [verificationKeyFromPem('foo', 'RS256', publicKeyValid)], { scope: 'write' }, 'foo'],
    ['key scope used when the agent sets none', signedTokenHS256, [verificationKeyFromPem('foo', 'HS256', 'secret', 'write')], {}, 'foo'],
  ])('accepts: %s', (_name, token, keys, options, keyId) => {
    const verified = BundleVerifier.create(keys).verifyToken(token, options);
    expect(verified.keyId).toBe(keyId);
    expect(verified.payload.scope).toBe('write');
    expect(verified.payload.files).toHaveLength(2);
    expect(verified.payload.iss).toBe('JWTService');
  });

  test.each<[string, string, ReturnType<typeof hs>[], VerifyOptions, string, string | RegExp]>([
    ['scope mismatch', signedTokenHS256, [hs('foo', 'secret')], { scope: 'bad_scope' }, 'scope_mismatch', /^scope mismatch/],
    ['scope in the token, none expected', signedTokenHS256, [hs('foo', 'secret')], {}, 'scope_mismatch', /^scope mismatch/],
    ['no key id anywhere', signedNoKeyIDTokenHS256, [], {}, 'unknown_key_id', 'verification key ID is empty'],
    ['unknown key id', signedTokenHS256, [], {}, 'unknown_key_id', 'verification key corresponding to ID foo not found'],
    ['wrong HMAC secret', signedTokenHS256, [hs('foo', 'bad_secret')], { scope: 'write' }, 'signature_invalid', /^failed to verify JWT signature/],
    ['RS256 with another public key', signedTokenRS256, [verificationKeyFromPem('foo', 'RS256', publicKeyInvalid)], { scope: 'write' }, 'signature_invalid', /^failed to verify JWT signature/],
    ['key algorithm differs from the header alg', signedTokenHS256, [verificationKeyFromPem('foo', 'RS256', publicKeyValid)], { scope: 'write' }, 'signature_invalid', /header alg "HS256" is not the algorithm of key 'foo' \(RS256\)/],
    ['files is not a list', badTokenPayload, [hs('foo', 'secret')], {}, 'signature_invalid', 'json: cannot unmarshal object into Go struct field DecodedSignature.files of type []bundle.FileInfo'],
    ['two segments', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.4nrInalqppAc9EjsNUD9Y35amVpDGoRk4bkxzdY8fhs', [hs('foo', 'secret')], {}, 'signature_invalid', 'failed to split compact JWT: invalid number of segments'],
    ['header not base64url', `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImZvby 9.${signedTokenHS256.split('.').slice(1).join('.')}`, [hs('foo', 'secret')], {}, 'signature_invalid', 'failed to base64 decode JWT headers'],
    ['header not JSON', `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImZvbyX9.${signedTokenHS256.split('.').slice(1).join('.')}`, [hs('foo', 'secret')], {}, 'signature_invalid', /^failed to parse JWT headers/],
  ])('refuses: %s', (_name, token, keys, options, code, message) => {
    const error = buildError(() => BundleVerifier.create(keys).verifyToken(token, options));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(typeof message === 'string' ? new RegExp(`^${message.replace(/[[\]().*+?^$\\]/g, '\\$&')}$`) : message);
  });

  test('refuses a repeated key id at construction', () => {
    expect(() => BundleVerifier.create([hs('foo', 'a'), hs('foo', 'b')])).toThrow(InputError);
  });
});

/** A bundle signed by BundleSigner, as files. */
function signedFiles(key: SigningKey, scope?: string): BundleFile[] {
  const files: BundleFile[] = [
    { path: MANIFEST_PATH, content: Buffer.from(canonicalJsonFromValue({ revision: 'r1', roots: ['x'], rego_version: 1 })) },
    { path: 'x/policy.rego', content: Buffer.from('package x\n\nallow := true\n') },
    { path: 'x/data.json', content: Buffer.from('{"a":[1.0,"\\u2028"]}') },
  ];
  const signer = BundleSigner.create(scope === undefined ? { key } : { key, scope });
  return [...files, { path: SIGNATURES_PATH, content: signer.signaturesFile(files.map((file) => signer.fileInfo(file))) }];
}

/**
 * A `.signatures.json` around a JWS built by hand (HS* and ES* keys), for payloads BundleSigner refuses
 * to write: `payload` is an object or the exact payload JSON text.
 */
function craftedSignatures(key: SigningKey, payload: object | string, header: { kid?: string } = { kid: key.keyId }): Buffer {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const input = `${Buffer.from(JSON.stringify({ alg: key.algorithm, ...header })).toString('base64url')}.${Buffer.from(text).toString('base64url')}`;
  const digest = `sha${key.algorithm.slice(2)}`;
  const signature = key.algorithm.startsWith('HS')
    ? createHmac(digest, key.privateKey).update(input).digest()
    : sign(digest, Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return Buffer.from(JSON.stringify({ signatures: [`${input}.${signature.toString('base64url')}`] }));
}

function withSignatures(files: BundleFile[], content: Buffer): BundleFile[] {
  return files.map((file) => (file.path === SIGNATURES_PATH ? { ...file, content } : file));
}

function listing(files: BundleFile[], algorithm = 'SHA-256'): Array<{ name: string; hash: string; algorithm: string }> {
  return files.filter((file) => file.path !== SIGNATURES_PATH).map((file) => ({ name: file.path, hash: hashBundleFile(file.path, file.content), algorithm }));
}

describe('BundleVerifier.verifyFiles', () => {
  const key = generateSigningKey('regent', 'ES256').key;
  const other = generateSigningKey('regent', 'ES256').key;
  const verifier = BundleVerifier.create([verificationKeyFor(key)]);
  const good = signedFiles(key);

  test('accepts an intact bundle and reports what was signed', () => {
    expect(verifier.verifyFiles(good, { keyId: 'regent' })).toEqual({
      keyId: 'regent',
      algorithm: 'ES256',
      scope: '',
      files: listing(good),
    });
  });

  test.each<[string, () => BundleFile[], VerifyOptions, string, RegExp]>([
    ['one byte of a module changed', () => good.map((f) => (f.path === 'x/policy.rego' ? { ...f, content: Buffer.from('package x\n\nallow := false\n') } : f)), {}, 'digest_mismatch', /^x\/policy\.rego: digest mismatch \(want: [0-9a-f]{64}, got: [0-9a-f]{64}\)$/],
    ['the signatures file stripped', () => good.filter((f) => f.path !== SIGNATURES_PATH), {}, 'signature_missing', /^bundle missing \.signatures\.json file$/],
    ['an empty signatures object', () => withSignatures(good, Buffer.from('{}')), {}, 'signature_missing', /holds no signatures/],
    ['no JWT', () => withSignatures(good, Buffer.from('{"signatures":[]}')), {}, 'signature_missing', /missing JWT \(expected exactly one\)/],
    ['two JWTs', () => withSignatures(good, Buffer.from(JSON.stringify({ signatures: [signedTokenHS256, otherSignedTokenHS256] }))), {}, 'signature_invalid', /multiple JWTs not supported/],
    ['a signature plugin OPA would not know', () => withSignatures(good, Buffer.from(JSON.stringify({ signatures: ['a.b.c'], plugin: 'custom' }))), {}, 'signature_invalid', /no verifier exists under id custom/],
    ['an extra unsigned file', () => [...good, { path: 'x/extra.rego', content: Buffer.from('package x') }], {}, 'file_not_signed', /^file x\/extra\.rego not included in bundle signature$/],
    ['a listed file missing', () => good.filter((f) => f.path !== 'x/data.json'), {}, 'signed_file_missing', /^file\(s\) \[x\/data\.json\] specified in bundle signatures but not found in the target bundle$/],
    ['signed with another key under the same id', () => signedFiles(other), {}, 'signature_invalid', /^failed to verify JWT signature/],
    ['the hash algorithm spelled SHA256', () => withSignatures(good, craftedSignatures(key, { files: listing(good, 'SHA256'), keyid: 'regent' })), {}, 'hash_algorithm_unsupported', /^unsupported hashing algorithm: SHA256$/],
    ['no hash algorithm', () => withSignatures(good, craftedSignatures(key, { files: listing(good, ''), keyid: 'regent' })), {}, 'hash_algorithm_unsupported', /^no hashing algorithm provided for file \.manifest$/],
    ['a hash that is not hex', () => withSignatures(good, craftedSignatures(key, { files: listing(good).map((f) => ({ ...f, hash: 'zz' })) })), {}, 'digest_mismatch', /is not hex/],
    ['a file listed twice', () => withSignatures(good, craftedSignatures(key, { files: [...listing(good), ...listing(good).slice(0, 1)] })), {}, 'signature_invalid', /listed more than once/],
    ['a scope the agent does not expect', () => signedFiles(key, 'read'), {}, 'scope_mismatch', /^scope mismatch/],
    ['no scope where the agent expects one', () => good, { scope: 'read' }, 'scope_mismatch', /^scope mismatch/],
    ['an unknown key id in the header', () => signedFiles(generateSigningKey('stranger', 'ES256').key), {}, 'unknown_key_id', /^verification key corresponding to ID stranger not found$/],
    ['a stray file ending in signatures.json', () => [...good, { path: 'x/signatures.json', content: Buffer.from('{}') }], {}, 'signature_invalid', /only \.signatures\.json may exist/],
    ['an iat that is not an int64', () => withSignatures(good, craftedSignatures(key, `{"files":${JSON.stringify(listing(good))},"iat":1e3}`)), {}, 'signature_invalid', /cannot unmarshal number 1e3 into Go struct field DecodedSignature\.iat of type int64/],
    ['an iat that is a string', () => withSignatures(good, craftedSignatures(key, { files: listing(good), iat: '1592248027' })), {}, 'signature_invalid', /cannot unmarshal string into Go struct field DecodedSignature\.iat of type int64/],
    ['a data.json that is neither JSON nor YAML', () => {
      const files = good.map((f) => (f.path === 'x/data.json' ? { ...f, content: Buffer.from('{"a": [}') } : f));
      return withSignatures(files, craftedSignatures(key, { files: listing(good) }));
    }, {}, 'signed_file_invalid', /^x\/data\.json: cannot be hashed as OPA would/],
  ])('refuses %s', (_name, files, options, code, message) => {
    const error = buildError(() => verifier.verifyFiles(files(), options));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  test('reformatting a structured file keeps it valid, as in OPA (canonical hashing)', () => {
    const reformatted = good.map((f) => (f.path === 'x/data.json' ? { ...f, content: Buffer.from('{\n  "a": [ 1.0, "\u2028" ]\n}\n') } : f));
    expect(verifier.verifyFiles(reformatted).files).toHaveLength(3);
    const renumbered = good.map((f) => (f.path === 'x/data.json' ? { ...f, content: Buffer.from('{"a":[1,"\\u2028"]}') } : f));
    expect(buildError(() => verifier.verifyFiles(renumbered)).code).toBe('digest_mismatch');
  });

  test('accepts upper-case hex and an expired exp, as Go hex decoding and OPA (no claim checks) do', () => {
    const upper = listing(good).map((f) => ({ ...f, hash: f.hash.toUpperCase() }));
    expect(verifier.verifyFiles(withSignatures(good, craftedSignatures(key, { files: upper, exp: 1, nbf: 4102444800 }))).files).toHaveLength(3);
  });

  test('picks the key id as OPA does: agent keyid, then header kid, then payload keyid', () => {
    const a = generateSigningKey('a', 'HS256').key;
    const b = generateSigningKey('b', 'HS256').key;
    const both = BundleVerifier.create([verificationKeyFor(a), verificationKeyFor(b)]);
    // Signed by b, header kid says a, payload keyid says b.
    const mislabelled = withSignatures(good, craftedSignatures({ ...b, keyId: 'a' }, { files: listing(good), keyid: 'b' }, { kid: 'a' }));
    expect(buildError(() => both.verifyFiles(mislabelled)).code).toBe('signature_invalid');
    expect(both.verifyFiles(mislabelled, { keyId: 'b' }).keyId).toBe('b');
    // No header kid: the payload keyid decides.
    const claimOnly = withSignatures(good, craftedSignatures(b, { files: listing(good), keyid: 'b' }, {}));
    expect(both.verifyFiles(claimOnly).keyId).toBe('b');
  });

  test('reads payload fields case-insensitively, like Go encoding/json', () => {
    const shouting = withSignatures(good, craftedSignatures(key, { FILES: listing(good), Scope: 'read' }));
    expect(buildError(() => verifier.verifyFiles(shouting)).code).toBe('scope_mismatch');
    expect(verifier.verifyFiles(shouting, { scope: 'read' }).scope).toBe('read');
  });
});

describe('bundles built by the real OPA, verified by BundleVerifier', () => {
  async function opaBuild(options: { algorithm: 'RS256' | 'ES256' | 'PS512'; claims?: object }): Promise<{ tarball: Buffer; key: SigningKey; publicPem: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'regent-verifier-opa-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const generated = generateSigningKey('default', options.algorithm);
    await writeFile(join(dir, 'key.pem'), generated.privateKeyPem);
    await mkdir(join(dir, 'src', 'x'), { recursive: true });
    await writeFile(join(dir, 'src', 'x', 'policy.rego'), 'package x\n\nallow if data.x.users.alice.admin\n');
    await writeFile(join(dir, 'src', 'x', 'data.json'), '{"users": {"alice": {"admin": true, "note": "\u2028 <&> é"}}, "n": 1.50}');
    await writeFile(join(dir, 'src', '.manifest'), '{"revision": "abc", "roots": ["x"]}');
    const args = ['build', '--bundle', '.', '--signing-key', join(dir, 'key.pem'), '--signing-alg', options.algorithm, '-o', join(dir, 'out.tar.gz')];
    if (options.claims) {
      await writeFile(join(dir, 'claims.json'), JSON.stringify(options.claims));
      args.push('--claims-file', join(dir, 'claims.json'));
    }
    await run(opaPath(), args, { cwd: join(dir, 'src') });
    return { tarball: await readFile(join(dir, 'out.tar.gz')), key: generated.key, publicPem: generated.publicKeyPem };
  }

  test.each<['RS256' | 'ES256' | 'PS512']>([['RS256'], ['ES256'], ['PS512']])('%s: accepts `opa build --signing-key` output', async (algorithm) => {
    const { tarball, key } = await opaBuild({ algorithm });
    const entries = await readTarball(tarball);
    expect(entries.map((entry) => entry.name).sort()).toEqual(['/.manifest', '/.signatures.json', '/data.json', '/x/policy.rego']);
    const verified = await BundleVerifier.create([verificationKeyFor(key)]).verifyTarball(tarball, { keyId: 'default' });
    expect(verified).toMatchObject({ keyId: 'default', algorithm, scope: '' });
    expect(verified.files.map((file) => file.name).sort()).toEqual(['.manifest', 'data.json', 'x/policy.rego']);
  });

  test('honours the scope of `opa build --claims-file`, whose token names no key', async () => {
    const { tarball, key } = await opaBuild({ algorithm: 'RS256', claims: { scope: 'read', iss: 'ci', iat: 1700000000 } });
    const verifier = BundleVerifier.create([verificationKeyFor(key, 'read')]);
    // With a claims file OPA writes neither a kid header nor a keyid claim: the agent must set signing.keyid.
    await expect(verifier.verifyTarball(tarball)).rejects.toMatchObject({ code: 'unknown_key_id', message: 'verification key ID is empty' });
    expect(await verifier.verifyTarball(tarball, { keyId: 'default' })).toMatchObject({ keyId: 'default', scope: 'read', issuer: 'ci', issuedAt: 1700000000 });
    await expect(BundleVerifier.create([verificationKeyFor(key)]).verifyTarball(tarball, { keyId: 'default' })).rejects.toMatchObject({ code: 'scope_mismatch' });
  });

  test('refuses an `opa build` bundle whose module was changed after signing', async () => {
    const { tarball, key } = await opaBuild({ algorithm: 'ES256' });
    const files = (await readTarball(tarball)).map(({ path, content }) => (path === 'x/policy.rego' ? { path, content: Buffer.concat([content, Buffer.from('\n')]) } : { path, content }));
    expect(buildError(() => BundleVerifier.create([verificationKeyFor(key)]).verifyFiles(files)).code).toBe('digest_mismatch');
  });
});

describe('BundleVerifier and the real OPA agree on crafted edge cases', () => {
  const key = generateSigningKey('edge', 'ES256').key;
  const good = signedFiles(key);

  async function opaAccepts(files: BundleFile[], scope?: string): Promise<{ ok: boolean; output: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'regent-verifier-edge-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'bundle.tar.gz'), await writeTarball(files));
    await writeFile(join(dir, 'key.pem'), publicKeyPem(key));
    const args = ['run', '--bundle', join(dir, 'bundle.tar.gz'), '--verification-key', join(dir, 'key.pem'), '--verification-key-id', 'edge', '--signing-alg', 'ES256'];
    if (scope) args.push('--scope', scope);
    const pending = run(opaPath(), args, { cwd: dir, timeout: 30_000 });
    pending.child.stdin?.end('data.x.allow\n');
    try {
      const { stdout } = await pending;
      return { ok: stdout.includes('true'), output: stdout };
    } catch (error) {
      return { ok: false, output: String((error as { stderr?: string }).stderr) };
    }
  }

  function oursAccepts(files: BundleFile[], scope?: string): boolean {
    try {
      BundleVerifier.create([verificationKeyFor(key)]).verifyFiles(files, scope ? { keyId: 'edge', scope } : { keyId: 'edge' });
      return true;
    } catch (error) {
      expect(error).toBeInstanceOf(BuildError);
      return false;
    }
  }

  test.each<[string, () => BundleFile[], string | undefined, boolean, boolean]>([
    // name, files, agent scope, OPA accepts, we accept
    ['an intact bundle', () => good, undefined, true, true],
    ['upper-case hex digests', () => withSignatures(good, craftedSignatures(key, { files: listing(good).map((f) => ({ ...f, hash: f.hash.toUpperCase() })) })), undefined, true, true],
    ['an expired exp and a future nbf', () => withSignatures(good, craftedSignatures(key, { files: listing(good), exp: 1, nbf: 4102444800 })), undefined, true, true],
    ['claims in other letter case, scope expected', () => withSignatures(good, craftedSignatures(key, { FILES: listing(good), Scope: 'read' })), 'read', true, true],
    ['claims in other letter case, no scope expected', () => withSignatures(good, craftedSignatures(key, { FILES: listing(good), Scope: 'read' })), undefined, false, false],
    ['a non-integer iat', () => withSignatures(good, craftedSignatures(key, `{"files":${JSON.stringify(listing(good))},"iat":1e3}`)), undefined, false, false],
    ['SHA256 as the algorithm name', () => withSignatures(good, craftedSignatures(key, { files: listing(good, 'SHA256') })), undefined, false, false],
    ['MD5 and SHA-512-224 digests', () => withSignatures(good, craftedSignatures(key, { files: listing(good).map((f, i) => ({ ...f, algorithm: i % 2 ? 'MD5' : 'SHA-512-224', hash: hashBundleFile(f.name, good.find((g) => g.path === f.name)!.content, i % 2 ? 'MD5' : 'SHA-512-224') })) })), undefined, true, true],
    ['an empty signatures object', () => withSignatures(good, Buffer.from('{}')), undefined, false, false],
    ['the header alg differs from the key algorithm', () => withSignatures(good, craftedSignatures(generateSigningKey('edge', 'HS256').key, { files: listing(good) })), undefined, false, false],
    // Deliberately stricter than OPA: a file listed twice (OPA keeps the last entry).
    ['a file listed twice', () => withSignatures(good, craftedSignatures(key, { files: [...listing(good), ...listing(good)] })), undefined, true, false],
  ])('%s', async (_name, files, scope, opa, ours) => {
    const result = await opaAccepts(files(), scope);
    expect({ opa: result.ok, output: result.ok ? '' : result.output }).toMatchObject({ opa });
    expect(oursAccepts(files(), scope)).toBe(ours);
  });
});

import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { describe, expect, test } from 'vitest';
import { InputError } from '../errors.js';
import {
  generateSigningKey,
  publicKeyPem,
  SIGNING_ALGORITHMS,
  signingKeyFromPem,
  verificationKeyFor,
  verificationKeyFromPem,
  type SigningAlgorithm,
} from './signing-key.js';

const testdata = join(import.meta.dirname, 'testdata');

function pkcs8(key: ReturnType<typeof generateKeyPairSync>['privateKey']): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
const ed25519 = generateKeyPairSync('ed25519');
const rsaPss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });

function rejection(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected an InputError');
}

describe('generateSigningKey', () => {
  test.each(SIGNING_ALGORITHMS.map((algorithm) => [algorithm]))('%s: generated keys sign, reload and verify', (algorithm) => {
    const generated = generateSigningKey('k1', algorithm);
    expect(generated.key).toMatchObject({ keyId: 'k1', algorithm });
    const reloaded = signingKeyFromPem('k1', algorithm, generated.privateKeyPem);
    const verification = verificationKeyFromPem('k1', algorithm, generated.publicKeyPem, 'read');
    expect(verification.scope).toBe('read');
    const token = jwt.sign({ files: [] }, reloaded.privateKey, { algorithm, keyid: 'k1', noTimestamp: true });
    expect(jwt.verify(token, verification.publicKey, { algorithms: [algorithm] })).toEqual({ files: [] });
    expect(publicKeyPem(generated.key)).toBe(generated.publicKeyPem);
    expect(publicKeyPem(verificationKeyFor(generated.key))).toBe(generated.publicKeyPem);
  });

  test('uses RSA 2048 for RS/PS, the right curve for ES and 43-character secrets for HS', () => {
    expect(generateSigningKey('a', 'PS384').key.privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(generateSigningKey('a', 'ES512').key.privateKey.asymmetricKeyDetails?.namedCurve).toBe('secp521r1');
    const hs = generateSigningKey('a', 'HS512');
    expect(hs.publicKeyPem).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hs.privateKeyPem).toBe(hs.publicKeyPem);
    expect(generateSigningKey('a', 'HS256').publicKeyPem).not.toBe(hs.publicKeyPem);
  });
});

describe('signingKeyFromPem', () => {
  test('accepts PKCS#8, PKCS#1 and SEC1 PEM, as string or Buffer', () => {
    expect(signingKeyFromPem('k', 'RS256', rsa2048.privateKey.export({ type: 'pkcs1', format: 'pem' })).privateKey.type).toBe('private');
    expect(signingKeyFromPem('k', 'PS512', Buffer.from(pkcs8(rsa2048.privateKey))).algorithm).toBe('PS512');
    expect(signingKeyFromPem('k', 'ES256', p256.privateKey.export({ type: 'sec1', format: 'pem' })).privateKey.asymmetricKeyType).toBe('ec');
    expect(signingKeyFromPem('k', 'HS256', 'x'.repeat(32)).privateKey.type).toBe('secret');
  });

  test.each<[string, SigningAlgorithm, string | Buffer, RegExp]>([
    ['an RSA key under 2048 bits', 'RS256', pkcs8(rsa1024.privateKey), /at least 2048 bits; got 1024/],
    ['an EC key for RS256', 'RS256', pkcs8(p256.privateKey), /needs an RSA key; got ec/],
    ['an RSA key for ES256', 'ES256', pkcs8(rsa2048.privateKey), /curve prime256v1; got rsa/],
    ['a P-384 key for ES256', 'ES256', pkcs8(p384.privateKey), /curve prime256v1; got ec \(secp384r1\)/],
    ['an Ed25519 key', 'PS256', pkcs8(ed25519.privateKey), /needs an RSA key; got ed25519/],
    ['an RSA-PSS key, which OPA cannot parse', 'PS256', pkcs8(rsaPss.privateKey), /needs an RSA key; got rsa-pss/],
    ['a public key', 'RS256', rsa2048.publicKey.export({ type: 'spki', format: 'pem' }).toString(), /not a readable unencrypted PEM private key/],
    ['an encrypted key', 'RS256', rsa2048.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString(), /not a readable unencrypted PEM private key/],
    ['garbage', 'ES384', 'not a key at all', /not a readable unencrypted PEM private key/],
    ['a 31-byte HMAC secret', 'HS256', 'x'.repeat(31), /at least 32 bytes/],
    ['an HMAC secret that is not text', 'HS512', Buffer.concat([Buffer.alloc(32, 0x61), Buffer.from([0xff])]), /must be UTF-8 text/],
    ['an unknown algorithm', 'RS1024' as SigningAlgorithm, pkcs8(rsa2048.privateKey), /algorithm 'RS1024' is not one OPA verifies/],
    ['none', 'none' as SigningAlgorithm, '', /algorithm 'none' is not one OPA verifies/],
  ])('refuses %s with invalid_signing_key naming the key id, without key material', (_name, algorithm, material, message) => {
    const error = rejection(() => signingKeyFromPem('bundle-key', algorithm, material));
    expect(error.code).toBe('invalid_signing_key');
    expect(error.details).toEqual({ keyId: 'bundle-key' });
    expect(error.message).toMatch(/^signing key 'bundle-key': /);
    expect(error.message).toMatch(message);
    const text = typeof material === 'string' ? material : material.toString('latin1');
    for (const line of text.split('\n').filter((l) => l.length > 16 && !l.startsWith('-----'))) expect(error.message).not.toContain(line);
  });

  test('refuses an empty key id', () => {
    expect(rejection(() => signingKeyFromPem('', 'RS256', pkcs8(rsa2048.privateKey))).message).toMatch(/non-empty/);
  });
});

describe('verificationKeyFromPem', () => {
  const token = jwt.sign({ files: [] }, rsa2048.privateKey, { algorithm: 'RS256', noTimestamp: true });

  test.each([
    ['PUBLIC KEY (SPKI)', rsa2048.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
    ['RSA PUBLIC KEY (PKCS#1)', rsa2048.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString()],
    ['a private key PEM', pkcs8(rsa2048.privateKey)],
  ])('accepts %s, as OPA does', (_name, pem) => {
    const key = verificationKeyFromPem('k', 'RS256', pem);
    expect(key.publicKey.type).toBe('public');
    expect(() => jwt.verify(token, key.publicKey, { algorithms: ['RS256'] })).not.toThrow();
  });

  test('accepts a CERTIFICATE and verifies with its public key', () => {
    const signer = signingKeyFromPem('cert', 'RS256', readFileSync(join(testdata, 'cert-key.pem')));
    const key = verificationKeyFromPem('cert', 'RS256', readFileSync(join(testdata, 'cert.pem'), 'utf8'));
    expect(publicKeyPem(key)).toBe(publicKeyPem(signer));
    const signed = jwt.sign({ a: 1 }, signer.privateKey, { algorithm: 'RS256', noTimestamp: true });
    expect(jwt.verify(signed, key.publicKey, { algorithms: ['RS256'] })).toEqual({ a: 1 });
  });

  test('does not impose a minimum RSA size (OPA does not), but checks type and curve', () => {
    expect(verificationKeyFromPem('k', 'RS256', rsa1024.publicKey.export({ type: 'spki', format: 'pem' })).algorithm).toBe('RS256');
    expect(rejection(() => verificationKeyFromPem('k', 'ES384', p256.publicKey.export({ type: 'spki', format: 'pem' }))).code).toBe('invalid_signing_key');
    expect(rejection(() => verificationKeyFromPem('k', 'RS256', 'nope')).code).toBe('invalid_signing_key');
  });

  test('HS keys are the secret text itself', () => {
    const key = verificationKeyFromPem('k', 'HS256', 'a-shared-secret-of-at-least-32-bytes');
    expect(key.publicKey.type).toBe('secret');
    expect(publicKeyPem(key)).toBe('a-shared-secret-of-at-least-32-bytes');
  });

  test('verificationKeyFor derives the public half and keeps a scope', () => {
    const signing = signingKeyFromPem('k', 'ES256', pkcs8(p256.privateKey));
    const verification = verificationKeyFor(signing, 'write');
    expect(verification).toMatchObject({ keyId: 'k', algorithm: 'ES256', scope: 'write' });
    expect(publicKeyPem(verification)).toBe(createPublicKey(p256.privateKey).export({ type: 'spki', format: 'pem' }));
    expect(verificationKeyFor(signing)).not.toHaveProperty('scope');
  });
});

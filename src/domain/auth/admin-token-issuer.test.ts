import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, test } from 'vitest';
import { InputError } from '../errors.js';
import { AdminTokenIssuer, type AdminTokenIssuerOptions, type IssueAdminTokenOptions } from './admin-token-issuer.js';
import { AdminTokenVerifier } from './admin-token-verifier.js';

const NOW = 1_800_000_000;
const secret = createSecretKey(randomBytes(32));
const settings = { issuer: 'regent', audience: 'regent-admin', roleClaim: 'regent_role', maxTokenLifetimeSeconds: 7200 };

function issuer(overrides: Partial<AdminTokenIssuerOptions> = {}): AdminTokenIssuer {
  return AdminTokenIssuer.create({ ...settings, algorithm: 'HS256', key: secret, now: () => NOW, ...overrides });
}

function verifierFor(overrides: Partial<Parameters<typeof AdminTokenVerifier.create>[0]> = {}): AdminTokenVerifier {
  return AdminTokenVerifier.create({ ...settings, algorithms: ['HS256'], key: secret, clockToleranceSeconds: 30, now: () => NOW + 5, ...overrides });
}

describe('AdminTokenIssuer', () => {
  test('mints a token the verifier accepts, with the expected header and claims', () => {
    const issued = issuer({ keyId: 'admin-1' }).issue({ sub: 'alice', role: 'admin', name: 'Alice Admin', email: 'alice@example.com' });
    const decoded = jwt.decode(issued.token, { complete: true })!;
    expect(decoded.header).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'admin-1' });
    expect(decoded.payload).toEqual({
      iss: 'regent', aud: 'regent-admin', sub: 'alice', regent_role: 'admin', iat: NOW, exp: NOW + 3600,
      jti: issued.tokenId, name: 'Alice Admin', email: 'alice@example.com',
    });
    expect(issued).toMatchObject({ issuedAt: NOW, expiresAt: NOW + 3600, ttlSeconds: 3600, capped: false });
    expect(verifierFor({ keyId: 'admin-1' }).verify(issued.token)).toEqual({ subject: 'alice', name: 'Alice Admin', email: 'alice@example.com', role: 'admin', tokenId: issued.tokenId });
  });

  test('gives every token a fresh random jti', () => {
    const ids = new Set(Array.from({ length: 20 }, () => issuer().issue({ sub: 'alice', role: 'viewer' }).tokenId));
    expect(ids.size).toBe(20);
  });

  test('caps the lifetime at maxTokenLifetimeSeconds and says so', () => {
    const issued = issuer().issue({ sub: 'alice', role: 'viewer', ttlSeconds: 999_999 });
    expect(issued).toMatchObject({ ttlSeconds: 7200, expiresAt: NOW + 7200, capped: true });
    expect(verifierFor().verify(issued.token).role).toBe('viewer');
  });

  test('uses the configured role claim', () => {
    const issued = issuer({ roleClaim: 'role' }).issue({ sub: 'bob', role: 'auditor' });
    expect(jwt.decode(issued.token)).toMatchObject({ role: 'auditor' });
    expect(verifierFor({ roleClaim: 'role' }).verify(issued.token).role).toBe('auditor');
  });

  test('signs RS256 tokens with a private key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const issued = issuer({ algorithm: 'RS256', key: privateKey }).issue({ sub: 'carol', role: 'editor' });
    expect(jwt.decode(issued.token, { complete: true })!.header.alg).toBe('RS256');
    expect(verifierFor({ algorithms: ['RS256'], key: publicKey }).verify(issued.token).subject).toBe('carol');
  });

  test.each<[string, IssueAdminTokenOptions, string]>([
    ['an empty sub', { sub: '', role: 'admin' }, 'sub'],
    ['a sub with a newline', { sub: 'a\nb', role: 'admin' }, 'sub'],
    ['an unknown role', { sub: 'a', role: 'root' as 'admin' }, 'role'],
    ['a name git would rewrite', { sub: 'a', role: 'admin', name: 'Eve.' }, 'name'],
    ['a name with <>', { sub: 'a', role: 'admin', name: 'Eve <e@x.y>' }, 'name'],
    ['an implausible email', { sub: 'a', role: 'admin', email: 'eve' }, 'email'],
    ['a zero ttl', { sub: 'a', role: 'admin', ttlSeconds: 0 }, 'ttl'],
    ['a fractional ttl', { sub: 'a', role: 'admin', ttlSeconds: 1.5 }, 'ttl'],
  ])('refuses %s', (_name, request, field) => {
    expect(() => issuer().issue(request)).toThrow(InputError);
    try {
      issuer().issue(request);
    } catch (error) {
      expect((error as InputError).details.field).toBe(field);
    }
  });

  test.each([
    ['an HMAC algorithm with a private key', { algorithm: 'HS256', key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey }],
    ['an HMAC secret under 32 bytes', { algorithm: 'HS256', key: createSecretKey(Buffer.from('short-secret')) }],
    ['an asymmetric algorithm with a secret', { algorithm: 'ES256', key: secret }],
    ['an asymmetric algorithm with a public key', { algorithm: 'RS256', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey }],
  ] as const)('refuses to be built with %s', (_name, options) => {
    expect(() => issuer(options)).toThrow(InputError);
  });
});

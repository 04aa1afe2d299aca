import { createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, test } from 'vitest';
import { AdminTokenError, AdminTokenVerifier, fallbackEmail, gitSafeName, plausibleEmail, type AdminTokenVerifierOptions } from './admin-token-verifier.js';

const NOW = 1_800_000_000;
const secret = createSecretKey(randomBytes(32));
const other = createSecretKey(randomBytes(32));
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

const base: AdminTokenVerifierOptions = {
  algorithms: ['HS256'],
  key: secret,
  issuer: 'regent',
  audience: 'regent-admin',
  roleClaim: 'regent_role',
  clockToleranceSeconds: 30,
  maxTokenLifetimeSeconds: 3600,
  now: () => NOW,
};

function verifier(overrides: Partial<AdminTokenVerifierOptions> = {}): AdminTokenVerifier {
  return AdminTokenVerifier.create({ ...base, ...overrides });
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: 'regent', aud: 'regent-admin', sub: 'alice', regent_role: 'editor', iat: NOW - 10, exp: NOW + 600, ...overrides };
}

function sign(payload: Record<string, unknown>, options: jwt.SignOptions = {}, key: KeyObject = secret): string {
  return jwt.sign(payload, key, { algorithm: 'HS256', ...options });
}

function failure(run: () => unknown): { code: string; reason: string; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AdminTokenError);
    const { code, reason, message } = error as AdminTokenError;
    return { code, reason, message };
  }
  throw new Error('expected the token to be refused');
}

function withoutClaim(name: string): Record<string, unknown> {
  const payload = claims();
  delete payload[name];
  return payload;
}

describe('AdminTokenVerifier', () => {
  test('returns the principal of a valid token', () => {
    const token = sign(claims({ name: 'Alice Admin', email: 'alice@example.com', jti: 'abc' }));
    expect(verifier().verify(token)).toEqual({ subject: 'alice', name: 'Alice Admin', email: 'alice@example.com', role: 'editor', tokenId: 'abc' });
  });

  test('falls back to the subject for name and to <sub>@users.regent.invalid for email', () => {
    expect(verifier().verify(sign(claims({ email: 'not an address' })))).toEqual({ subject: 'alice', name: 'alice', email: 'alice@users.regent.invalid', role: 'editor' });
  });

  test('accepts the configured kid and a typ of JWT', () => {
    const token = sign(claims(), { keyid: 'admin-1', header: { alg: 'HS256', typ: 'JWT' } });
    expect(verifier({ keyId: 'admin-1' }).verify(token).subject).toBe('alice');
  });

  test('reads the role from the configured claim', () => {
    expect(verifier({ roleClaim: 'https://regent.dev/role' }).verify(sign(claims({ 'https://regent.dev/role': 'admin' }))).role).toBe('admin');
  });

  test('accepts an RS256 token with the public key', () => {
    const token = jwt.sign(claims(), rsa.privateKey, { algorithm: 'RS256' });
    expect(verifier({ algorithms: ['RS256'], key: rsa.publicKey }).verify(token).subject).toBe('alice');
  });

  test.each<[string, () => string, string, Partial<AdminTokenVerifierOptions>?]>([
    ['an empty token', () => '', 'token_missing'],
    ['a token over 8 KB', () => sign(claims({ pad: 'x'.repeat(9000) })), 'token_malformed'],
    ['two segments', () => 'abc.def', 'token_malformed'],
    ['a header that is not JSON', () => `${Buffer.from('{nope').toString('base64url')}.e30.sig`, 'token_malformed'],
    ['alg none', () => jwt.sign(claims(), null, { algorithm: 'none' }), 'token_invalid'],
    ['a different secret', () => sign(claims(), {}, other), 'token_invalid'],
    ['an algorithm not allowed (HS512)', () => sign(claims(), { algorithm: 'HS512' }), 'token_invalid'],
    ['an RS256 token against an HMAC key', () => jwt.sign(claims(), rsa.privateKey, { algorithm: 'RS256' }), 'token_invalid'],
    ['typ other than JWT', () => sign(claims(), { header: { alg: 'HS256', typ: 'at+jwt' } }), 'token_invalid'],
    ['a crit header', () => sign(claims(), { header: { alg: 'HS256', crit: ['exp'] } as jwt.JwtHeader }), 'token_invalid'],
    ['a kid when none is configured', () => sign(claims(), { keyid: 'regent' }), 'token_invalid'],
    ['another kid than the configured one', () => sign(claims(), { keyid: 'other' }), 'token_invalid', { keyId: 'admin-1' }],
    ['no kid when one is configured', () => sign(claims()), 'token_invalid', { keyId: 'admin-1' }],
    ['wrong issuer', () => sign(claims({ iss: 'someone' })), 'token_invalid'],
    ['wrong audience', () => sign(claims({ aud: 'regent-bundles' })), 'token_invalid'],
    ['expired', () => sign(claims({ iat: NOW - 700, exp: NOW - 100 })), 'token_expired'],
    ['nbf in the future', () => sign(claims({ nbf: NOW + 300 })), 'token_not_yet_valid'],
    ['iat in the future (would stretch the lifetime cap)', () => sign(claims({ iat: NOW + 3000, exp: NOW + 3600 })), 'token_not_yet_valid'],
    ['no exp', () => sign(withoutClaim('exp')), 'token_invalid'],
    ['no iat', () => sign(withoutClaim('iat'), { noTimestamp: true }), 'token_invalid'],
    ['a lifetime over the maximum', () => sign(claims({ iat: NOW - 10, exp: NOW - 10 + 3601 })), 'token_invalid'],
    ['exp before iat', () => sign(claims({ iat: NOW + 10, exp: NOW + 5 })), 'token_invalid'],
    ['no sub', () => sign(withoutClaim('sub')), 'token_invalid'],
    ['an empty sub', () => sign(claims({ sub: '' })), 'token_invalid'],
    ['a sub with a newline', () => sign(claims({ sub: 'alice\nRegent-Actor: root' })), 'token_invalid'],
    ['a sub over 256 characters', () => sign(claims({ sub: 'a'.repeat(257) })), 'token_invalid'],
    ['no role', () => sign(withoutClaim('regent_role')), 'token_invalid'],
    ['an unknown role', () => sign(claims({ regent_role: 'root' })), 'token_invalid'],
    ['a non-string jti', () => sign(claims({ jti: 42 })), 'token_invalid'],
    ['a payload that is not an object', () => jwt.sign('"just a string"', secret, { algorithm: 'HS256' }), 'token_invalid'],
  ])('refuses %s with %s', (_name, make, code, options) => {
    expect(failure(() => verifier(options).verify(make())).code).toBe(code);
  });

  test('answers every signature-ish failure with the same message, never the token', () => {
    const tokens = [sign(claims(), {}, other), sign(claims({ aud: 'x' })), sign(claims(), { keyid: 'k' }), jwt.sign(claims(), null, { algorithm: 'none' })];
    const failures = tokens.map((token) => failure(() => verifier().verify(token)));
    expect(new Set(failures.map((f) => f.message)).size).toBe(1);
    for (const [index, f] of failures.entries()) {
      expect(f.message).not.toContain(tokens[index]!.split('.')[1]!);
      expect(f.reason).not.toContain(tokens[index]!.split('.')[1]!);
    }
    expect(failures.map((f) => f.reason)).toEqual(['invalid signature', expect.stringContaining('audience'), "unknown kid 'k'", 'jwt signature is required']);
  });

  test('refuses a tampered payload (signature kept)', () => {
    const [header, , signature] = sign(claims({ regent_role: 'viewer' })).split('.');
    const forged = Buffer.from(JSON.stringify(claims({ regent_role: 'admin' }))).toString('base64url');
    expect(failure(() => verifier().verify(`${header}.${forged}.${signature}`)).code).toBe('token_invalid');
  });

  test('tolerates clock skew up to the configured seconds', () => {
    expect(verifier().verify(sign(claims({ iat: NOW - 600, exp: NOW - 20 }))).subject).toBe('alice');
    expect(verifier().verify(sign(claims({ nbf: NOW + 20 }))).subject).toBe('alice');
  });

  test.each([
    [['HS256', 'RS256'], secret, /one family/],
    [['HS256'], rsa.publicKey, /secret key/],
    [['RS256'], secret, /public key/],
    [['HS256'], createSecretKey(Buffer.from('short')), /at least 32 bytes/],
  ] as const)('refuses to be built with algorithms %j and an unfit key', (algorithms, key, message) => {
    expect(() => AdminTokenVerifier.create({ ...base, algorithms: [...algorithms], key })).toThrow(message);
  });
});

describe('identity claims are made safe for git', () => {
  test.each([
    ['Alice Admin', 'Alice Admin'],
    ['  Alice  ', 'Alice'],
    ['Eve.', 'Eve'],
    ['"Bob"', 'Bob'],
    ["'Carol', ", 'Carol'],
    ['\\Dan;:', 'Dan'],
    ['Mallory <mallory@evil.test>', 'Mallory mallory@evil.test'],
    ['Line\nbreak\0nul', 'Line break nul'],
    ['...', undefined],
    [42, undefined],
  ])('name %j becomes %j', (input, expected) => {
    expect(gitSafeName(input)).toBe(expected);
  });

  test('a long name is cut to 256 characters and trimmed again', () => {
    expect(gitSafeName(`${'a'.repeat(255)}. b`)).toBe('a'.repeat(255));
  });

  test.each([
    ['alice@example.com', true],
    ['a.b+c@sub.example.org', true],
    ['.alice@example.com', false],
    ['alice.@example.com', false],
    ["'alice@example.com", false],
    ['alice@localhost', false],
    ['Alice <alice@example.com>', false],
    ['alice@example.com\n', false],
    ['alice@exa_mple.com', false],
  ])('email %j is plausible: %s', (input, expected) => {
    expect(plausibleEmail(input)).toBe(expected);
  });

  test.each([
    ['alice', 'alice@users.regent.invalid'],
    ['auth0|1234', 'auth0-1234@users.regent.invalid'],
    ['.hidden.', 'hidden@users.regent.invalid'],
    ['用户', 'user@users.regent.invalid'],
  ])('fallback email for subject %j is %j', (subject, expected) => {
    expect(fallbackEmail(subject)).toBe(expected);
  });

  test('a principal built from hostile claims is a valid git identity', () => {
    const token = sign(claims({ sub: 'auth0|x', name: '<script>"\'.', email: 'x\n@evil' }));
    const principal = verifier().verify(token);
    expect(principal).toMatchObject({ subject: 'auth0|x', name: 'script', email: 'auth0-x@users.regent.invalid' });
  });
});

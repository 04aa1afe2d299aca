import { createHash, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, test } from 'vitest';
import { AgentAuthError, AgentAuthenticator } from './agent-authenticator.js';
import { ANONYMOUS_AGENT, mayReadBundle, mayReadSet, type AgentIdentity } from './agent-identity.js';
import { AgentJwtVerifier } from './agent-jwt-verifier.js';
import { AgentTokenTable } from './agent-token-table.js';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const WEB_TOKEN = 'web-token-0123456789abcdef';
const table = (extra: Array<{ name: string; token: string }> = []) => AgentTokenTable.from([
  { name: 'web-1', sha256: sha(WEB_TOKEN), bundles: ['rbac'], environments: ['default', 'prod'] },
  ...extra.map(({ name, token }) => ({ name, sha256: sha(token), bundles: ['*'], environments: ['default'] })),
]);
const idp = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const NOW = 1_800_000_000;

function verifier(now: () => number = () => NOW): AgentJwtVerifier {
  return AgentJwtVerifier.create({
    algorithms: ['RS256'], keys: new Map([['idp-1', idp.publicKey]]), issuer: 'https://idp.example.test', audience: 'regent-agents',
    clockToleranceSeconds: 30, maxTokenLifetimeSeconds: 3600, subjectClaim: 'sub', bundlesClaim: 'regent_bundles', environmentsClaim: 'regent_environments', now,
  });
}

/** A token from the identity provider; a claim set to undefined is left out. */
function idpToken(claims: Record<string, unknown> = {}, options: jwt.SignOptions = {}, key = idp.privateKey): string {
  const payload = Object.fromEntries(Object.entries({ iss: 'https://idp.example.test', aud: 'regent-agents', sub: 'system:serviceaccount:payments:opa', iat: NOW - 10, exp: NOW + 600, regent_bundles: 'rbac datasets', ...claims }).filter(([, value]) => value !== undefined));
  return jwt.sign(payload, key, { algorithm: 'RS256', keyid: 'idp-1', ...options });
}

function refusal(run: () => unknown): { code: string; reason: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AgentAuthError);
    return { code: (error as AgentAuthError).code, reason: (error as AgentAuthError).reason };
  }
  throw new Error('expected a refusal');
}

describe('AgentAuthenticator', () => {
  test('open access names everyone anonymous, who may read everything', () => {
    const open = AgentAuthenticator.open();
    expect(open.authenticate(undefined)).toBe(ANONYMOUS_AGENT);
    expect(mayReadSet(ANONYMOUS_AGENT, 'prod') && mayReadBundle(ANONYMOUS_AGENT, 'team/x')).toBe(true);
    expect(open.stats()).toMatchObject({ access: 'open' });
  });

  test('a listed token proves its name and its bundles; the scheme is case-insensitive', () => {
    const authenticator = AgentAuthenticator.create({ tokens: table() });
    const identity = authenticator.authenticate(`Bearer ${WEB_TOKEN}`);
    expect(identity).toMatchObject({ name: 'web-1', source: 'token', bundles: ['rbac'], environments: ['default', 'prod'] });
    expect(authenticator.authenticate(`bearer ${WEB_TOKEN}`).name).toBe('web-1');
  });

  test.each([
    ['no header', undefined, 'agent_token_missing'],
    ['another scheme', `Basic ${Buffer.from('a:b').toString('base64')}`, 'agent_token_missing'],
    ['Bearer alone', 'Bearer ', 'agent_token_invalid'],
    ['two tokens', `Bearer ${WEB_TOKEN} ${WEB_TOKEN}`, 'agent_token_invalid'],
    ['an unknown token', 'Bearer not-a-listed-token', 'agent_token_invalid'],
    ['a listed token with one character changed', `Bearer ${WEB_TOKEN.slice(0, -1)}x`, 'agent_token_invalid'],
    ['a huge token', `Bearer ${'a'.repeat(9000)}`, 'agent_token_invalid'],
  ])('refuses %s', (_name, header, code) => {
    const authenticator = AgentAuthenticator.create({ tokens: table() });
    expect(refusal(() => authenticator.authenticate(header)).code).toBe(code);
    expect(authenticator.stats().refused).toBe(1);
  });

  test('reloaded tokens apply at once: a removed token stops working although it was remembered', () => {
    const authenticator = AgentAuthenticator.create({ tokens: table([{ name: 'old', token: 'old-token-0123456789' }]) });
    expect(authenticator.authenticate('Bearer old-token-0123456789').name).toBe('old');
    authenticator.replaceTokens(table([{ name: 'new', token: 'new-token-0123456789' }]));
    expect(refusal(() => authenticator.authenticate('Bearer old-token-0123456789')).code).toBe('agent_token_invalid');
    expect(authenticator.authenticate('Bearer new-token-0123456789').name).toBe('new');
  });

  test('remembers a proven header, and forgets the oldest beyond its size', () => {
    const tokens = table([{ name: 'a', token: 'token-a-0123456789' }, { name: 'b', token: 'token-b-0123456789' }]);
    let lookups = 0;
    const counting = Object.assign(Object.create(Object.getPrototypeOf(tokens) as object) as AgentTokenTable, tokens, {
      identify: (token: string): AgentIdentity | undefined => {
        lookups++;
        return tokens.identify(token);
      },
    });
    const authenticator = AgentAuthenticator.create({ tokens: counting, cacheSize: 1 });
    authenticator.authenticate('Bearer token-a-0123456789');
    authenticator.authenticate('Bearer token-a-0123456789');
    expect(lookups).toBe(1);
    authenticator.authenticate('Bearer token-b-0123456789');
    authenticator.authenticate('Bearer token-a-0123456789');
    expect(lookups).toBe(3);
    expect(authenticator.stats().remembered).toBe(1);
  });

  test('remembered() answers only what a full check proved and still holds: never a header unseen, removed or expired, and refuses nothing', () => {
    let now = NOW;
    const authenticator = AgentAuthenticator.create({ tokens: table([{ name: 'old', token: 'old-token-0123456789' }]), jwt: verifier(() => now), now: () => now * 1000 });
    expect(AgentAuthenticator.open().remembered(undefined)).toBe(ANONYMOUS_AGENT);
    expect(authenticator.remembered(undefined)).toBeUndefined();
    expect(authenticator.remembered(`Bearer ${WEB_TOKEN}`)).toBeUndefined();
    expect(authenticator.remembered('Bearer not-a-listed-token')).toBeUndefined();
    expect(authenticator.stats()).toMatchObject({ accepted: 0, refused: 0 });
    authenticator.authenticate(`Bearer ${WEB_TOKEN}`);
    expect(authenticator.remembered(`Bearer ${WEB_TOKEN}`)?.name).toBe('web-1');
    expect(authenticator.remembered(`bearer ${WEB_TOKEN}`)).toBeUndefined();
    expect(authenticator.stats()).toMatchObject({ accepted: 2, refused: 0 });
    authenticator.authenticate('Bearer old-token-0123456789');
    authenticator.replaceTokens(table());
    expect(authenticator.remembered('Bearer old-token-0123456789')).toBeUndefined();
    const jwtHeader = `Bearer ${idpToken({ exp: NOW + 60 })}`;
    authenticator.authenticate(jwtHeader);
    expect(authenticator.remembered(jwtHeader)?.source).toBe('jwt');
    now = NOW + 120;
    expect(authenticator.remembered(jwtHeader)).toBeUndefined();
  });

  test('a JWT from the identity provider names the agent by its subject, with the bundles its claim lists', () => {
    const authenticator = AgentAuthenticator.create({ jwt: verifier(), now: () => NOW * 1000 });
    expect(authenticator.authenticate(`Bearer ${idpToken({ regent_environments: ['prod'] })}`)).toEqual({
      name: 'system:serviceaccount:payments:opa', source: 'jwt', bundles: ['rbac', 'datasets'], environments: ['prod'], expiresAtMs: (NOW + 600) * 1000,
    });
  });

  test('a remembered JWT is refused once it expired', () => {
    let now = NOW;
    const authenticator = AgentAuthenticator.create({ jwt: verifier(() => now), now: () => now * 1000 });
    const header = `Bearer ${idpToken({ exp: NOW + 60 })}`;
    expect(authenticator.authenticate(header).name).toBe('system:serviceaccount:payments:opa');
    expect(authenticator.stats().remembered).toBe(1);
    now = NOW + 120;
    expect(refusal(() => authenticator.authenticate(header)).code).toBe('agent_token_expired');
    expect(authenticator.stats().remembered).toBe(0);
  });

  test.each([
    ['signed by another key', () => idpToken({}, {}, stranger.privateKey), /invalid signature/],
    ['another audience', () => idpToken({ aud: 'regent-admin' }), /audience/],
    ['another issuer', () => idpToken({ iss: 'https://evil.example.test' }), /issuer/],
    ['an unknown kid', () => idpToken({}, { keyid: 'idp-2' }), /unknown kid/],
    ['HS256 with the public key as secret', () => jwt.sign({ iss: 'https://idp.example.test', aud: 'regent-agents', sub: 'x', iat: NOW, exp: NOW + 60, regent_bundles: ['*'] }, idp.publicKey.export({ type: 'spki', format: 'pem' }).toString(), { algorithm: 'HS256', keyid: 'idp-1' }), /algorithm|invalid/],
    ['no bundles claim', () => idpToken({ regent_bundles: undefined }), /regent_bundles/],
    ['a bundles claim that is not a list of names', () => idpToken({ regent_bundles: [{ name: 'rbac' }] }), /regent_bundles/],
    ['a lifetime over the maximum', () => idpToken({ exp: NOW + 7200 }), /lifetime/],
    ['no exp', () => idpToken({ exp: undefined }), /exp/],
  ])('refuses a JWT %s', (_name, token, reason) => {
    const authenticator = AgentAuthenticator.create({ jwt: verifier() });
    const refused = refusal(() => authenticator.authenticate(`Bearer ${token()}`));
    expect(refused.code).toBe('agent_token_invalid');
    expect(refused.reason).toMatch(reason);
  });
});

describe('what an identity may read', () => {
  const identity: AgentIdentity = { name: 'x', source: 'token', bundles: ['rbac', 'team-a/*'], environments: ['prod'] };
  test.each([
    ['rbac', true], ['datasets', false], ['team-a/x', true], ['team-a/x/y', true], ['team-a', false], ['team-ab/x', false],
  ])('bundle %s: %s', (bundle, allowed) => {
    expect(mayReadBundle(identity, bundle)).toBe(allowed);
  });
  test('sets: only those listed', () => {
    expect([mayReadSet(identity, 'prod'), mayReadSet(identity, 'default'), mayReadSet(identity, 'staging')]).toEqual([true, false, false]);
  });
});

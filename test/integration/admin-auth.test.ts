import { createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import express from 'express';
import jwt from 'jsonwebtoken';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { configSchema } from '../../src/config/schema.js';
import type { AuditChainState, AuditLog, AuditRecord, AuditRecordInput } from '../../src/domain/audit/audit-log.js';
import { AdminTokenIssuer } from '../../src/domain/auth/admin-token-issuer.js';
import { AdminTokenVerifier } from '../../src/domain/auth/admin-token-verifier.js';
import { ROLES, type Role } from '../../src/domain/auth/principal.js';
import { generateSigningKey, publicKeyPem } from '../../src/domain/bundles/signing-key.js';
import { readTarball } from '../../src/domain/bundles/tarball-reader.js';
import { InputError } from '../../src/domain/errors.js';
import { createErrorHandler, notFoundHandler } from '../../src/http/error-handler.js';
import { authenticate } from '../../src/http/middleware/authenticate.js';
import { requireRole } from '../../src/http/middleware/require-role.js';
import { devAdminSecretPath, loadAdminTokenKey, type AdminTokenKeySettings } from '../../src/keys/load-admin-token-key.js';
import { startRegent } from '../../src/main.js';
import { spawnTypeScript } from '../helpers/node-process.js';
import { opaPath } from '../helpers/opa-path.js';
import { EXAMPLE_POLICIES, startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const silent = pino({ level: 'silent' });

interface AttackContext {
  secret: KeyObject;
  bundlePublicKeyPem: string;
  bundleJwt: string;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: 'regent', aud: 'regent-admin', sub: 'mallory', regent_role: 'admin', iat: now() - 5, exp: now() + 600, ...overrides };
}

function without(name: string): Record<string, unknown> {
  const payload = claims();
  delete payload[name];
  return payload;
}

function hs256(key: KeyObject, payload: Record<string, unknown>, options: jwt.SignOptions = {}): string {
  return jwt.sign(payload, key, { algorithm: 'HS256', ...options });
}

const bearer = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });

describe('admin API authentication (GET /api/whoami on a real Regent)', () => {
  let regent: Awaited<ReturnType<typeof startTestRegent>>;
  let context: AttackContext;
  const dataDir = mkdtempSync(join(tmpdir(), 'regent-auth-'));

  beforeAll(async () => {
    regent = await startTestRegent({ dataDir, keepRunning: true });
    const tarball = Buffer.from(await (await fetch(`${regent.url}/bundles/rbac`)).arrayBuffer());
    const signatures = (await readTarball(tarball)).find((entry) => entry.path === '.signatures.json')!;
    context = {
      secret: regent.adminTokenKey.key,
      bundlePublicKeyPem: publicKeyPem(regent.signingKey.key),
      bundleJwt: (JSON.parse(signatures.content.toString('utf8')) as { signatures: string[] }).signatures[0]!,
    };
  });
  afterAll(async () => {
    await regent?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const attacks: Array<[string, string, (ctx: AttackContext) => Record<string, string>]> = [
    ['no Authorization header', 'token_missing', () => ({})],
    ['the Basic scheme', 'token_missing', () => ({ Authorization: 'Basic YWxpY2U6c2VjcmV0' })],
    ['a malformed token', 'token_malformed', () => bearer('not.a.jwt')],
    ['Bearer with two tokens', 'token_malformed', (ctx) => ({ Authorization: `Bearer ${hs256(ctx.secret, claims())} extra` })],
    ['an unsigned token (alg none)', 'token_invalid', () => bearer(jwt.sign(claims(), null, { algorithm: 'none' }))],
    ['HS256 signed with the bundle signing public key PEM as secret', 'token_invalid', (ctx) => bearer(hs256(createSecretKey(Buffer.from(ctx.bundlePublicKeyPem)), claims()))],
    ['HS256 signed with a different secret', 'token_invalid', () => bearer(hs256(createSecretKey(randomBytes(32)), claims()))],
    ['an RS256 token (algorithm not allowed)', 'token_invalid', () => bearer(jwt.sign(claims(), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, { algorithm: 'RS256' }))],
    ['an expired token', 'token_expired', (ctx) => bearer(hs256(ctx.secret, claims({ iat: now() - 7200, exp: now() - 3600 })))],
    ['a token without exp', 'token_invalid', (ctx) => bearer(hs256(ctx.secret, without('exp')))],
    ['a token without iat', 'token_invalid', (ctx) => bearer(hs256(ctx.secret, without('iat'), { noTimestamp: true }))],
    ['a lifetime over the maximum', 'token_invalid', (ctx) => bearer(hs256(ctx.secret, claims({ iat: now() - 5, exp: now() - 5 + 24 * 3600 + 1 })))],
    ['nbf in the future', 'token_not_yet_valid', (ctx) => bearer(hs256(ctx.secret, claims({ nbf: now() + 600 })))],
    ['a wrong issuer', 'token_invalid', (ctx) => bearer(hs256(ctx.secret, claims({ iss: 'https://idp.example' })))],
    ['a wrong audience', 'token_invalid', (ctx) => bearer(hs256(ctx.secret, claims({ aud: 'regent-bundles' })))],
    ['an unknown kid', 'token_invalid', (ctx) => bearer(hs256(ctx.secret, claims(), { keyid: 'someone-else' }))],
    ['a payload tampered after signing', 'token_invalid', (ctx) => {
      const [header, , signature] = hs256(ctx.secret, claims({ regent_role: 'viewer' })).split('.');
      return bearer(`${header}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.${signature}`);
    }],
    ['a missing role claim', 'token_invalid', (ctx) => bearer(hs256(ctx.secret, without('regent_role')))],
    ['an unknown role', 'token_invalid', (ctx) => bearer(hs256(ctx.secret, claims({ regent_role: 'root' })))],
    ['a missing sub', 'token_invalid', (ctx) => bearer(hs256(ctx.secret, without('sub')))],
    ['a 10 KB token', 'token_malformed', (ctx) => bearer(hs256(ctx.secret, claims({ pad: 'x'.repeat(7300) })))],
    ["a bundle's .signatures.json JWT", 'token_invalid', (ctx) => bearer(ctx.bundleJwt)],
  ];

  test.each(attacks)('refuses %s with 401 %s, a Bearer challenge and no principal', async (_name, code, headersFor) => {
    const headers = headersFor(context);
    const response = await fetch(`${regent.url}/api/whoami`, { headers });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const challenge = response.headers.get('www-authenticate');
    const presented = headers.Authorization?.startsWith('Bearer') === true;
    expect(challenge).toBe(presented ? `Bearer realm="regent", error="invalid_token", error_description="${TOKEN_MESSAGES[code]}"` : 'Bearer realm="regent"');
    const text = await response.text();
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).toEqual({ type: `https://regent.dev/errors/${code}`, status: 401, code, title: 'Authentication required', detail: TOKEN_MESSAGES[code] });
    const token = headers.Authorization?.split(' ')[1];
    if (token) expect(text).not.toContain(token.slice(0, 40));

    // The same credentials on a write change nothing.
    const head = await regent.store.head();
    const write = await fetch(`${regent.url}/api/policies/rbac/attack.rego`, {
      method: 'PUT',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({ content: 'package rbac.attack\n\nallow := true\n', message: 'attack', baseRevision: head }),
    });
    expect(write.status).toBe(401);
    expect(((await write.json()) as { code: string }).code).toBe(code);
    expect(await regent.store.head()).toBe(head);
  });

  test("a bundle's signature JWT is refused even by a verifier expecting its kid: other key, algorithm and audience", () => {
    const verifier = AdminTokenVerifier.create({ ...AUTH_DEFAULTS, key: context.secret, keyId: regent.signingKey.key.keyId });
    expect(() => verifier.verify(context.bundleJwt)).toThrow(expect.objectContaining({ code: 'token_invalid', reason: 'invalid algorithm' }));
  });

  test('the 10 KB token in the table really is about 10 KB', () => {
    const token = bearer(hs256(context.secret, claims({ pad: 'x'.repeat(7300) }))).Authorization!.slice(7);
    expect(token.length).toBeGreaterThan(9.5 * 1024);
    expect(token.length).toBeLessThan(10.5 * 1024);
  });

  test('answers 200 with the principal for a valid token, whatever the case of the scheme', async () => {
    const issued = issuerFor(context.secret).issue({ sub: 'alice', role: 'editor', name: 'Alice Admin', email: 'alice@example.com' });
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const response = await fetch(`${regent.url}/api/whoami`, { headers: { Authorization: `${scheme} ${issued.token}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(await response.json()).toEqual({ principal: { subject: 'alice', name: 'Alice Admin', email: 'alice@example.com', role: 'editor', tokenId: issued.tokenId } });
    }
  });

  test('refuses anonymous callers before routing: an unknown /api path is 401, not 404', async () => {
    expect((await fetch(`${regent.url}/api/no-such-thing`)).status).toBe(401);
    const token = issuerFor(context.secret).issue({ sub: 'alice', role: 'viewer' }).token;
    const known = await fetch(`${regent.url}/api/no-such-thing`, { headers: bearer(token) });
    expect(known.status).toBe(404);
    expect(((await known.json()) as { code: string }).code).toBe('route_not_found');
  });
});

const TOKEN_MESSAGES: Record<string, string> = {
  token_missing: "this endpoint needs an 'Authorization: Bearer <token>' header",
  token_malformed: 'the bearer token is not a well-formed JWT',
  token_expired: 'the token has expired; get a new one',
  token_not_yet_valid: 'the token is not valid yet (hint: check the clocks of the issuer and of Regent)',
  token_invalid: 'the token is not valid for this service',
};

const AUTH_DEFAULTS = configSchema.parse({}).auth;

function issuerFor(key: KeyObject): AdminTokenIssuer {
  return AdminTokenIssuer.create({ ...AUTH_DEFAULTS, algorithm: 'HS256', key });
}

class MemoryAuditLog implements AuditLog {
  readonly records: AuditRecordInput[] = [];
  failing = false;
  async append(record: AuditRecordInput): Promise<AuditRecord> {
    if (this.failing) throw new Error('disk full');
    this.records.push(record);
    return { ...record, seq: this.records.length, at: new Date().toISOString(), prev: '' };
  }
  async query(): Promise<never> {
    throw new Error('not used');
  }
  chain(): AuditChainState {
    return { chain: 'ok', brokenAt: null };
  }
}

/** A tiny app: authenticate (with an audit log) and one route per role behind requireRole, on 127.0.0.1. */
async function roleApp(secret: KeyObject, audit: AuditLog, limits: { maxRecordedRefusalsPerMinute?: number; now?: () => number } = {}): Promise<string> {
  const verifier = AdminTokenVerifier.create({ ...AUTH_DEFAULTS, key: secret });
  const app = express();
  app.use((_req, res, next) => {
    res.locals.reqId = 'req-7';
    next();
  });
  app.use(authenticate({ verifier, audit, logger: silent, ...limits }));
  for (const role of ROLES) app.get(`/needs/${role}`, requireRole(role), (_req, res) => void res.json({ ok: role }));
  app.use(notFoundHandler);
  app.use(createErrorHandler(silent));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((done) => server.once('listening', done));
  onTestFinished(() => new Promise<void>((done) => server.close(() => done())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('requireRole: viewer < auditor < editor < admin', () => {
  const matrix = ROLES.flatMap((held) => ROLES.map((required) => [held, required, ROLES.indexOf(held) >= ROLES.indexOf(required)] as [Role, Role, boolean]));

  test.each(matrix)('a %s calling a route that needs %s: allowed=%s', async (held, required, allowed) => {
    const secret = createSecretKey(randomBytes(32));
    const audit = new MemoryAuditLog();
    const url = await roleApp(secret, audit);
    const response = await fetch(`${url}/needs/${required}`, { headers: bearer(issuerFor(secret).issue({ sub: 'bob', role: held }).token) });
    if (allowed) {
      expect(response.status).toBe(200);
      expect(audit.records).toEqual([]);
      return;
    }
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 403, code: 'missing_role', requiredRole: required, role: held });
    expect(body.detail).toContain(`'${required}'`);
    expect(audit.records).toEqual([{ action: 'auth.refused', outcome: 'refused', subject: 'bob', role: held, reason: 'missing_role', detail: `needs ${required}`, requestId: 'req-7' }]);
  });

  test('records refused authentication as anonymous with the code, the reason and the request id', async () => {
    const secret = createSecretKey(randomBytes(32));
    const audit = new MemoryAuditLog();
    const url = await roleApp(secret, audit);
    expect((await fetch(`${url}/needs/viewer`)).status).toBe(401);
    const forged = hs256(createSecretKey(randomBytes(32)), claims());
    expect((await fetch(`${url}/needs/viewer`, { headers: bearer(forged) })).status).toBe(401);
    expect(audit.records).toEqual([
      { action: 'auth.refused', outcome: 'refused', subject: 'anonymous', reason: 'token_missing', detail: 'no Authorization header', requestId: 'req-7' },
      { action: 'auth.refused', outcome: 'refused', subject: 'anonymous', reason: 'token_invalid', detail: 'invalid signature', requestId: 'req-7' },
    ]);
  });

  test('a flood of junk tokens is answered 401 every time but recorded at most N times a minute; the next record counts the rest', async () => {
    const secret = createSecretKey(randomBytes(32));
    const audit = new MemoryAuditLog();
    let now = 1_000_000;
    const url = await roleApp(secret, audit, { maxRecordedRefusalsPerMinute: 3, now: () => now });
    for (let i = 0; i < 10; i++) expect((await fetch(`${url}/needs/viewer`, { headers: bearer(`junk.${i}.token`) })).status).toBe(401);
    expect(audit.records).toHaveLength(3);
    now += 60_000;
    expect((await fetch(`${url}/needs/viewer`)).status).toBe(401);
    expect(audit.records).toHaveLength(4);
    expect(audit.records[3]).toMatchObject({ reason: 'token_missing', detail: 'no Authorization header (and 7 more refusals in the last minute, not recorded one by one)' });
    // Authenticated refusals (missing role) are always recorded.
    const viewer = jwt.sign(claims({ regent_role: 'viewer' }), secret, { algorithm: 'HS256' });
    for (let i = 0; i < 5; i++) expect((await fetch(`${url}/needs/admin`, { headers: bearer(viewer) })).status).toBe(403);
    expect(audit.records.filter((record) => record.reason === 'missing_role')).toHaveLength(5);
  });

  test('answers 500 when the audit log cannot record a refusal: the audit log is the source of truth', async () => {
    const secret = createSecretKey(randomBytes(32));
    const audit = new MemoryAuditLog();
    audit.failing = true;
    const url = await roleApp(secret, audit);
    const anonymous = await fetch(`${url}/needs/viewer`);
    expect(anonymous.status).toBe(500);
    expect(((await anonymous.json()) as { code: string }).code).toBe('internal_error');
    const viewer = await fetch(`${url}/needs/admin`, { headers: bearer(issuerFor(secret).issue({ sub: 'bob', role: 'viewer' }).token) });
    expect(viewer.status).toBe(500);
    const allowed = await fetch(`${url}/needs/viewer`, { headers: bearer(issuerFor(secret).issue({ sub: 'bob', role: 'viewer' }).token) });
    expect(allowed.status).toBe(200);
  });
});

describe('admin token key loading', () => {
  const hs = (overrides: Partial<AdminTokenKeySettings> = {}): AdminTokenKeySettings => ({ algorithms: ['HS256'], ...overrides });
  const strong = randomBytes(32).toString('base64url');

  function loadError(settings: AdminTokenKeySettings, options: Partial<Parameters<typeof loadAdminTokenKey>[1]> = {}): InputError {
    try {
      loadAdminTokenKey(settings, { dataDir: tempDirForTest(), dev: false, logger: silent, ...options });
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      return error as InputError;
    }
    throw new Error('expected the key to be refused');
  }

  function writeKeyFile(content: string | Buffer, mode: number): string {
    const file = join(tempDirForTest(), 'key');
    writeFileSync(file, content, { mode });
    chmodSync(file, mode);
    return file;
  }

  test('refuses to start outside dev mode without a key', () => {
    expect(loadError(hs())).toMatchObject({ code: 'auth_key_missing', details: { field: 'auth.secretFile' } });
    expect(loadError({ algorithms: ['ES256'] })).toMatchObject({ code: 'auth_key_missing', details: { field: 'auth.publicKeyFile' } });
  });

  test('refuses HMAC mixed with asymmetric algorithms', () => {
    expect(loadError({ algorithms: ['HS256', 'RS256'], secret: strong })).toMatchObject({ code: 'invalid_config', details: { field: 'auth.algorithms' } });
  });

  test('refuses a secret under 32 bytes', () => {
    expect(loadError(hs({ secret: 'short-secret' }))).toMatchObject({ code: 'invalid_auth_key', details: { field: 'auth.secret' } });
  });

  test('refuses a group- or world-readable secret file, and reads a 0600 one without its trailing newline', () => {
    expect(loadError(hs({ secretFile: writeKeyFile(`${strong}\n`, 0o644) }))).toMatchObject({ code: 'insecure_key_file', details: { field: 'auth.secretFile' } });
    const loaded = loadAdminTokenKey(hs({ secretFile: writeKeyFile(`${strong}\n`, 0o600) }), { dataDir: tempDirForTest(), dev: false, logger: silent });
    expect(loaded.key.export().toString()).toBe(strong);
    expect(loaded.source).toBe('secret-file');
  });

  test('refuses a secret equal to the bundle signing secret or to the bundle public key PEM', () => {
    const hmacSigning = generateSigningKey('bundles', 'HS256');
    expect(loadError(hs({ secret: hmacSigning.privateKeyPem }), { signingKey: hmacSigning.key })).toMatchObject({ code: 'invalid_auth_key' });
    const rsaSigning = generateSigningKey('bundles', 'RS256');
    expect(loadError(hs({ secret: rsaSigning.publicKeyPem }), { signingKey: rsaSigning.key })).toMatchObject({ code: 'invalid_auth_key' });
    expect(loadAdminTokenKey(hs({ secret: strong }), { dataDir: tempDirForTest(), dev: false, logger: silent, signingKey: rsaSigning.key }).source).toBe('environment');
  });

  test('refuses a public key equal to the bundle signing public key, or of the wrong type', () => {
    const rsaSigning = generateSigningKey('bundles', 'RS256');
    const publicKeyFile = writeKeyFile(rsaSigning.publicKeyPem, 0o644);
    expect(loadError({ algorithms: ['RS256'], publicKeyFile }, { signingKey: rsaSigning.key })).toMatchObject({ code: 'invalid_auth_key', details: { field: 'auth' } });
    const ec = writeKeyFile(generateSigningKey('x', 'ES256').publicKeyPem, 0o644);
    expect(loadError({ algorithms: ['RS256'], publicKeyFile: ec })).toMatchObject({ code: 'invalid_auth_key', details: { field: 'auth.publicKeyFile' } });
    expect(loadError({ algorithms: ['ES384'], publicKeyFile: ec })).toMatchObject({ code: 'invalid_auth_key' });
    expect(loadError({ algorithms: ['RS256'], publicKeyFile, secret: strong })).toMatchObject({ code: 'invalid_config', details: { field: 'auth.secret' } });
    const loaded = loadAdminTokenKey({ algorithms: ['ES256'], publicKeyFile: ec }, { dataDir: tempDirForTest(), dev: false, logger: silent, signingKey: rsaSigning.key });
    expect(loaded).toMatchObject({ source: 'public-key-file', file: ec });
    expect(loaded.key.type).toBe('public');
  });

  test('in dev mode generates a 0600 secret once, reuses it, and logs the path but never the secret', () => {
    const dataDir = tempDirForTest();
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, new Writable({ write: (chunk: Buffer, _encoding, done) => { lines.push(chunk.toString()); done(); } }));
    const first = loadAdminTokenKey(hs(), { dataDir, dev: true, logger });
    const second = loadAdminTokenKey(hs(), { dataDir, dev: true, logger });
    expect(first.source).toBe('generated');
    expect(second.source).toBe('dev-secret-file');
    expect(second.key.equals(first.key)).toBe(true);
    const file = devAdminSecretPath(dataDir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(lines.join('')).toContain(file);
    expect(lines.join('')).not.toContain(readFileSync(file, 'utf8').trim());
  });

  test('Regent refuses to start outside dev mode without an admin token key', async () => {
    const dataDir = tempDirForTest();
    const signing = generateSigningKey('bundles', 'RS256');
    const config = loadConfig({ env: {}, overrides: { dataDir, port: 0, signing: { privateKey: signing.privateKeyPem }, opa: { path: opaPath() } } });
    await expect(startRegent(config, silent)).rejects.toMatchObject({ code: 'auth_key_missing' });
  });
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGENT_')));
  const child = spawnTypeScript(join(ROOT, 'src', 'cli', 'regent.ts'), args, { env: { ...cleanEnv, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('regent token', () => {
  test('prints only a token, which a Regent on the same data directory accepts', async () => {
    const dataDir = tempDirForTest('regent-cli-');
    const result = await runCli(['token', '--dev', '--sub', 'alice', '--role', 'admin', '--name', 'Alice Admin', '--email', 'alice@example.com', '--ttl', '600'], { REGENT_DATA_DIR: dataDir });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    expect(result.stderr).toContain(devAdminSecretPath(dataDir));
    const token = result.stdout.trim();
    const payload = jwt.decode(token) as Record<string, number>;
    expect(payload.exp! - payload.iat!).toBe(600);

    const regent = await startTestRegent({ dataDir });
    const response = await fetch(`${regent.url}/api/whoami`, { headers: bearer(token) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ principal: { subject: 'alice', name: 'Alice Admin', email: 'alice@example.com', role: 'admin', tokenId: payload.jti } });
  });

  test.each([
    ['an unknown flag', ['token', '--dev', '--sub', 'a', '--role', 'admin', '--bogus'], /unknown option '--bogus'/],
    ['a missing --sub', ['token', '--dev', '--role', 'admin'], /required option '--sub <subject>' not specified/],
    ['an unknown role', ['token', '--dev', '--sub', 'a', '--role', 'root'], /'root' is invalid\. Allowed choices are viewer, auditor, editor, admin/],
    ['a bad --ttl', ['token', '--dev', '--sub', 'a', '--role', 'admin', '--ttl', '1h'], /--ttl must be a whole number/],
    ['no admin key outside dev mode', ['token', '--sub', 'a', '--role', 'admin'], /auth_key_missing/],
    ['an unknown command', ['mint'], /unknown command 'mint'/],
  ])('exits 2 with a clear message on %s, printing nothing on stdout', async (_name, args, message) => {
    const result = await runCli(args, { REGENT_DATA_DIR: tempDirForTest('regent-cli-') });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });
});

describe('logs never contain tokens or the admin secret', () => {
  test('a Regent logging at trace level writes neither valid nor refused tokens, nor the secret', async () => {
    const dataDir = tempDirForTest('regent-logs-');
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, new Writable({ write: (chunk: Buffer, _encoding, done) => { lines.push(chunk.toString()); done(); } }));
    const config = loadConfig({ env: {}, overrides: { dev: true, port: 0, dataDir, store: { seedDir: EXAMPLE_POLICIES, watchIntervalMs: 200 }, opa: { path: opaPath() } } });
    const regent = await startRegent(config, logger);
    try {
      const secret = regent.adminTokenKey.key;
      const valid = issuerFor(secret).issue({ sub: 'alice', role: 'admin' }).token;
      const forged = hs256(createSecretKey(randomBytes(32)), claims());
      const expired = hs256(secret, claims({ iat: now() - 7200, exp: now() - 3600 }));
      expect((await fetch(`${regent.url}/api/whoami`, { headers: bearer(valid) })).status).toBe(200);
      for (const token of [forged, expired]) expect((await fetch(`${regent.url}/api/whoami`, { headers: bearer(token) })).status).toBe(401);
      expect((await fetch(`${regent.url}/api/whoami`, { headers: { Authorization: `Basic ${valid}` } })).status).toBe(401);

      await regent.close();
      const log = lines.join('');
      expect(log).toContain('"msg":"authentication refused"');
      expect(log).toMatch(/"route":"\/api\/whoami","status":200[^\n]*"subject":"alice"/);
      for (const token of [valid, forged, expired]) {
        for (const part of token.split('.')) expect(log).not.toContain(part);
      }
      const secretText = secret.export().toString('utf8');
      expect(log).not.toContain(secretText);
      expect(log).not.toContain(secret.export().toString('base64'));
    } finally {
      await regent.close();
    }
  });
});

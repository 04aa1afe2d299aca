import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { describe, expect, test } from 'vitest';
import { generateSigningKey } from '../../src/domain/bundles/signing-key.js';
import type { AgentView } from '../../src/domain/fleet/fleet-registry.js';
import { adminClient } from '../helpers/admin-client.js';
import { agentTokensYaml, randomAgentToken, writeAgentTokensFile, writeTokenFile } from '../helpers/agent-tokens.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { capturingLogger, startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;
interface FleetView { agents: AgentView[] }

const get = (regent: Regent, path: string, headers: Record<string, string> = {}) => fetch(`${regent.url}${path}`, { headers });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const fleet = async (regent: Regent): Promise<FleetView> => (await (await adminClient(regent, { sub: 'ada', role: 'auditor' }).get('/api/fleet')).json()) as FleetView;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- /status is read field by field here
type Json = any;
const status = async (regent: Regent): Promise<Json> => (await (await fetch(`${regent.url}/status`)).json()) as Json;

/** Status, body and headers of a response, with the date left out (it is the only thing that may differ). */
async function answer(response: Response): Promise<{ status: number; body: string; headers: Array<[string, string]> }> {
  const headers = [...response.headers].filter(([name]) => name !== 'date');
  return { status: response.status, body: await response.text(), headers };
}

async function regentWithTokens(entries: Parameters<typeof writeAgentTokensFile>[0], config: Record<string, unknown> = {}) {
  const file = writeAgentTokensFile(entries);
  const { agents, ...rest } = config as { agents?: Record<string, unknown> };
  const regent = await startTestRegent({ config: { agents: { tokensFile: file.path, ...agents }, ...rest } });
  return { regent, ...file };
}

describe('agent credentials: tokens from a file', () => {
  test('no token is 401 with a Bearer challenge; a wrong one too; a listed token reads its bundles, 304 and long polls included', async () => {
    const { regent, tokens } = await regentWithTokens([{ name: 'web-1', bundles: ['rbac', 'datasets'] }]);

    const anonymous = await get(regent, '/bundles/rbac');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toBe('application/problem+json');
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="regent"');
    expect(await anonymous.json()).toMatchObject({ code: 'agent_token_missing', status: 401, field: 'Authorization' });

    const wrong = await get(regent, '/bundles/rbac', bearer(randomAgentToken()));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(await wrong.json()).toMatchObject({ code: 'agent_token_invalid' });

    const ok = await get(regent, '/bundles/rbac', bearer(tokens['web-1']!));
    expect(ok.status).toBe(200);
    const etag = ok.headers.get('etag')!;
    expect((await get(regent, '/bundles/rbac', { ...bearer(tokens['web-1']!), 'If-None-Match': etag })).status).toBe(304);
    const held = await get(regent, '/bundles/rbac', { ...bearer(tokens['web-1']!), 'If-None-Match': etag, Prefer: 'modes=snapshot,delta;wait=1' });
    expect(held.status).toBe(304);
    // Unchanged answers need the token too: nothing is served to the anonymous.
    expect((await get(regent, '/bundles/rbac', { 'If-None-Match': etag })).status).toBe(401);
    expect((await status(regent)).agents).toMatchObject({ access: 'credentials', tokens: 1, tokensFile: { tokens: 1, lastError: null } });
  });

  test('a bundle or an environment outside the token\'s list answers exactly like one that does not exist', async () => {
    const { regent, tokens } = await regentWithTokens(
      [{ name: 'rbac-only', bundles: ['rbac'] }, { name: 'prod-reader', bundles: ['*'], environments: ['default', 'prod'] }],
      { environments: [{ name: 'prod', ref: 'tags/prod' }] },
    );
    const limited = bearer(tokens['rbac-only']!);
    // `datasets` exists and is not on the list; `dataxets` (same length) exists nowhere.
    const hidden = await answer(await get(regent, '/bundles/datasets', limited));
    const missing = await answer(await get(regent, '/bundles/dataxets', limited));
    expect(hidden.status).toBe(404);
    expect(hidden).toEqual({ ...missing, body: missing.body.replaceAll('dataxets', 'datasets') });
    expect(JSON.parse(hidden.body)).toMatchObject({ code: 'bundle_not_found', bundle: 'datasets' });
    // The environment `prod` exists (it has not activated anything yet: 503 for those who may read it).
    expect((await get(regent, '/bundles/prod/rbac', bearer(tokens['prod-reader']!))).status).toBe(503);
    const hiddenEnvironment = await answer(await get(regent, '/bundles/prod/rbac', limited));
    const missingEnvironment = await answer(await get(regent, '/bundles/prxd/rbac', limited));
    expect(hiddenEnvironment.status).toBe(404);
    expect(hiddenEnvironment).toEqual({ ...missingEnvironment, body: missingEnvironment.body.replaceAll('prxd', 'prod') });
  });

  test('a real OPA reading its token from a file (credentials.bearer.token_path) pulls and reports; the fleet names it; a bundle outside its list shows as an error', async () => {
    const { regent, tokens } = await regentWithTokens([{ name: 'web-1', bundles: ['rbac', 'datasets'] }, { name: 'rbac-only', bundles: ['rbac'] }]);
    const head = (await regent.store.head())!;
    const good = await startOpaAgent({ ...agentOptionsFor(regent), reportStatus: true, bearerTokenPath: writeTokenFile(tokens['web-1']!), labels: { name: 'good-agent' } });
    await good.waitUntilReady();
    expect(await good.activeRevision('datasets')).toBe(head);
    const limited = await startOpaAgent({ ...agentOptionsFor(regent), reportStatus: true, bearerTokenPath: writeTokenFile(tokens['rbac-only']!), labels: { name: 'limited-agent' } });

    await eventually(async () => {
      const { agents } = await fleet(regent);
      const byName = new Map(agents.map((agent) => [agent.labels.name, agent]));
      return byName.get('good-agent')?.identity === 'web-1'
        && byName.get('limited-agent')?.bundles.some((bundle) => bundle.name === 'datasets' && bundle.httpCode === 404) === true
        && byName.get('limited-agent')?.bundles.some((bundle) => bundle.name === 'rbac' && bundle.activeRevision === head) === true;
    }, 20_000, () => limited.logs().slice(-2000));
    const { agents } = await fleet(regent);
    expect(agents.find((agent) => agent.labels.name === 'limited-agent')).toMatchObject({ identity: 'rbac-only' });
  });

  test('the tokens file is re-read when it changes: a new token works, a removed one stops; a broken file keeps the tokens in force and says so', async () => {
    const { regent, path, tokens } = await regentWithTokens([{ name: 'first' }]);
    const second = randomAgentToken();
    writeFileSync(path, agentTokensYaml([{ name: 'second', token: second }]), { mode: 0o600 });
    await eventually(async () => (await get(regent, '/bundles/rbac', bearer(second))).status === 200, 10_000);
    expect((await get(regent, '/bundles/rbac', bearer(tokens.first!))).status).toBe(401);

    writeFileSync(path, 'tokens: [ {name: broken\n', { mode: 0o600 });
    await eventually(async () => (await status(regent)).agents.tokensFile.lastError?.code === 'invalid_agent_tokens', 10_000);
    expect((await get(regent, '/bundles/rbac', bearer(second))).status).toBe(200);
    expect((await status(regent)).agents.tokensFile).toMatchObject({ tokens: 1, lastError: { code: 'invalid_agent_tokens' } });

    // SIGHUP (here: the same reload) picks up the mended file.
    writeFileSync(path, agentTokensYaml([{ name: 'third', token: tokens.first! }]), { mode: 0o600 });
    regent.agents.reload('SIGHUP');
    expect((await get(regent, '/bundles/rbac', bearer(tokens.first!))).status).toBe(200);
    expect((await status(regent)).agents.tokensFile.lastError).toBeNull();
  });

  test('the unchanged answer a remembered token gets stops the moment the token is removed', async () => {
    const { regent, path, tokens } = await regentWithTokens([{ name: 'first' }, { name: 'kept' }]);
    const etag = (await get(regent, '/bundles/rbac', bearer(tokens.first!))).headers.get('etag')!;
    for (let poll = 0; poll < 3; poll++) expect((await get(regent, '/bundles/rbac', { ...bearer(tokens.first!), 'If-None-Match': etag })).status).toBe(304);
    writeFileSync(path, agentTokensYaml([{ name: 'kept', token: tokens.kept! }]), { mode: 0o600 });
    regent.agents.reload('SIGHUP');
    const refused = await get(regent, '/bundles/rbac', { ...bearer(tokens.first!), 'If-None-Match': etag });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'agent_token_invalid' });
    expect((await get(regent, '/bundles/rbac', { ...bearer(tokens.kept!), 'If-None-Match': etag })).status).toBe(304);
    expect((await get(regent, '/bundles/rbac', { ...bearer(`${tokens.kept!}x`), 'If-None-Match': etag })).status).toBe(401);
  });

  test('status reports and decision logs need an agent token or the fleet report token; a report with a token keeps its name', async () => {
    const reportToken = 'fleet-report-token-0123456789';
    const { regent, tokens } = await regentWithTokens([{ name: 'web-1' }], { fleet: { reportToken } });
    const report = (id: string) => JSON.stringify({ labels: { id, version: '1.22.2' }, bundles: {} });
    const post = (id: string, headers: Record<string, string> = {}) => fetch(`${regent.url}/status`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: report(id) });

    const anonymous = await post('anon');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="regent"');
    expect(await anonymous.json()).toMatchObject({ code: 'agent_token_missing' });
    expect((await post('wrong', bearer(randomAgentToken()))).status).toBe(401);
    expect((await post('with-token', bearer(tokens['web-1']!))).status).toBe(200);
    expect((await post('with-report-token', bearer(reportToken))).status).toBe(200);
    const { agents } = await fleet(regent);
    expect(agents.map((agent) => [agent.agentId, agent.identity])).toEqual([['with-report-token', undefined], ['with-token', 'web-1']]);

    // Decision logs go through the same door.
    const batch = (id: string) => JSON.stringify([{ labels: { id, version: '1.22.2' }, decision_id: `${id}-1`, timestamp: new Date().toISOString(), path: 'rbac/allow', input: { user: 'u' }, result: true }]);
    const upload = (id: string, headers: Record<string, string> = {}) => fetch(`${regent.url}/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: batch(id) });
    const anonymousLogs = await upload('anon');
    expect(anonymousLogs.status).toBe(401);
    expect(await anonymousLogs.json()).toMatchObject({ code: 'agent_token_missing' });
    expect((await upload('wrong', bearer(randomAgentToken()))).status).toBe(401);
    expect((await upload('with-token', bearer(tokens['web-1']!))).status).toBe(204);
    expect((await upload('with-report-token', bearer(reportToken))).status).toBe(204);
    const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });
    const stored = (await (await auditor.get('/api/decisions')).json()) as { decisions: Array<{ agentId: string; identity?: string }> };
    // Each decision names the credential it came with; the shared report token names no one.
    expect(stored.decisions.map((decision) => [decision.agentId, decision.identity]).sort()).toEqual([['with-report-token', undefined], ['with-token', 'web-1']]);
    const byIdentity = (await (await auditor.get('/api/decisions?identity=web-1')).json()) as { decisions: Array<{ agentId: string; identity?: string }> };
    expect(byIdentity.decisions.map((decision) => [decision.agentId, decision.identity])).toEqual([['with-token', 'web-1']]);
    expect(((await (await auditor.get('/api/decisions?identity=web-2')).json()) as { decisions: unknown[] }).decisions).toEqual([]);
  });

  test('beyond agents.maxHeldPollsPerAgent a long poll is answered 429 with Retry-After; other agents are not affected', async () => {
    const { regent, tokens } = await regentWithTokens([{ name: 'a' }, { name: 'b' }], { agents: { maxHeldPollsPerAgent: 1 } });
    const etag = (await get(regent, '/bundles/rbac', bearer(tokens.a!))).headers.get('etag')!;
    const longPoll = (token: string, signal?: AbortSignal) => fetch(`${regent.url}/bundles/rbac`, { headers: { ...bearer(token), 'If-None-Match': etag, Prefer: 'modes=snapshot,delta;wait=30' }, signal });
    const first = new AbortController();
    const held = longPoll(tokens.a!, first.signal).catch(() => undefined);
    await eventually(async () => (await status(regent)).longPollWaiters === 1, 5000);

    const refused = await longPoll(tokens.a!);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toMatchObject({ code: 'too_many_held_polls', agent: 'a', limit: 1 });
    const other = new AbortController();
    const otherHeld = longPoll(tokens.b!, other.signal).catch(() => undefined);
    await eventually(async () => (await status(regent)).longPollWaiters === 2, 5000);
    expect((await status(regent)).agents.heldPolls).toMatchObject({ max: 1, agentsHolding: 2, refused: 1 });

    first.abort();
    other.abort();
    await Promise.all([held, otherHeld]);
    await eventually(async () => (await status(regent)).agents.heldPolls.agentsHolding === 0, 5000);
    const again = new AbortController();
    const heldAgain = longPoll(tokens.a!, again.signal).catch(() => undefined);
    await eventually(async () => (await status(regent)).longPollWaiters === 1, 5000);
    again.abort();
    await heldAgain;
  });
});

describe('agent credentials: JWTs from an identity provider', () => {
  test('a real OPA reading a JWT from a file pulls the bundles its claim lists; the fleet names it by its subject', async () => {
    const idp = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = tempDirForTest('regent-idp-');
    const publicKeyFile = join(dir, 'idp.pem');
    writeFileSync(publicKeyFile, idp.publicKey.export({ type: 'spki', format: 'pem' }));
    const regent = await startTestRegent({ config: { agents: { jwt: { issuer: 'https://idp.example.test', audience: 'regent-agents', publicKeyFile } } } });
    const now = Math.floor(Date.now() / 1000);
    const token = (claims: Record<string, unknown>) => jwt.sign({ iss: 'https://idp.example.test', aud: 'regent-agents', iat: now, exp: now + 3600, ...claims }, idp.privateKey, { algorithm: 'RS256' });

    const agent = await startOpaAgent({ ...agentOptionsFor(regent), reportStatus: true, bearerTokenPath: writeTokenFile(token({ sub: 'spiffe-payments-opa', regent_bundles: ['rbac', 'datasets'] })) });
    await agent.waitUntilReady();
    await eventually(async () => (await fleet(regent)).agents[0]?.identity === 'spiffe-payments-opa', 15_000, () => agent.logs().slice(-2000));

    const rbacOnly = token({ sub: 'rbac-only', regent_bundles: 'rbac' });
    expect((await get(regent, '/bundles/rbac', bearer(rbacOnly))).status).toBe(200);
    expect((await get(regent, '/bundles/datasets', bearer(rbacOnly))).status).toBe(404);
    const expired = jwt.sign({ iss: 'https://idp.example.test', aud: 'regent-agents', sub: 'late', regent_bundles: ['*'], iat: now - 7200, exp: now - 3600 }, idp.privateKey, { algorithm: 'RS256' });
    const refused = await get(regent, '/bundles/rbac', bearer(expired));
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'agent_token_expired' });
    expect((await status(regent)).agents).toMatchObject({ access: 'credentials', jwt: { issuer: 'https://idp.example.test', audience: 'regent-agents' } });
  });
});

describe('agent access by default', () => {
  const production = () => ({ dev: false, signing: { privateKey: generateSigningKey('regent', 'RS256').privateKeyPem }, auth: { secret: 'a-production-secret-of-at-least-32-bytes' } });

  test('outside development mode, without agent credentials, start-up stops naming the keys', async () => {
    await expect(startTestRegent({ config: production() })).rejects.toMatchObject({ code: 'agent_credentials_missing', details: { field: 'agents.tokensFile' } });
  });

  test('agents.allowAnonymous opens access outside development mode, loudly; it cannot be combined with credentials', async () => {
    const { logger, records } = capturingLogger('info');
    const regent = await startTestRegent({ config: { ...production(), agents: { allowAnonymous: true } }, logger });
    expect((await get(regent, '/bundles/rbac')).status).toBe(200);
    expect((await status(regent)).agents).toMatchObject({ access: 'open', openBecause: 'agents.allowAnonymous' });
    expect(records().some((record) => record.level === 40 && String(record.msg).startsWith('agent access is OPEN'))).toBe(true);
    const tokens = writeAgentTokensFile([{ name: 'x' }]);
    await expect(startTestRegent({ config: { ...production(), agents: { allowAnonymous: true, tokensFile: tokens.path } } })).rejects.toMatchObject({ code: 'invalid_config', details: { field: 'agents.allowAnonymous' } });
  });

  test('development mode without credentials is open, and says so in the log and /status', async () => {
    const { logger, records } = capturingLogger('info');
    const regent = await startTestRegent({ logger });
    expect((await get(regent, '/bundles/rbac')).status).toBe(200);
    expect((await status(regent)).agents).toMatchObject({ access: 'open', openBecause: 'development mode' });
    expect(records().find((record) => String(record.msg).startsWith('agent access is OPEN'))).toMatchObject({ level: 40, because: 'development mode' });
  });

  test.each([
    ['readable by others', (path: string) => writeFileSync(path, 'tokens: []\n', { mode: 0o644 }), 'insecure_key_file'],
    ['not a tokens file', (path: string) => writeFileSync(path, 'tokens: [{name: a}]\n', { mode: 0o600 }), 'invalid_agent_tokens'],
  ])('a tokens file %s stops start-up naming it', async (_name, write, code) => {
    const path = join(tempDirForTest(), 'tokens.yaml');
    write(path);
    await expect(startTestRegent({ config: { agents: { tokensFile: path } } })).rejects.toMatchObject({ code, details: { field: 'agents.tokensFile' } });
  });
});

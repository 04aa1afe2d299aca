import { chmodSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { generateSigningKey } from '../../src/domain/bundles/signing-key.js';
import { adminClient, type AdminClient } from '../helpers/admin-client.js';
import { writeAgentTokensFile } from '../helpers/agent-tokens.js';
import { exitOf, spawnRegentProcess } from '../helpers/regent-process.js';
import { startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

const ADA = { sub: 'ada', role: 'admin' as const, name: 'Ada', email: 'ada@example.test' };

async function headOf(admin: AdminClient): Promise<string> {
  return ((await (await admin.get('/api/versions/head')).json()) as { revision: string }).revision;
}

async function writePolicy(admin: AdminClient, name: string): Promise<Response> {
  return admin.put(`/api/policies/rbac/${name}.rego`, { content: `package rbac.${name}\n\nok := true\n`, message: `Add ${name}`, baseRevision: await headOf(admin) });
}

/** A data directory whose audit log holds several records (activations and two writes); Regent stopped. */
async function auditedDataDir(): Promise<{ dataDir: string; auditFile: string; lines: string[] }> {
  const regent = await startTestRegent({ keepRunning: true });
  onTestFinished(() => regent.close());
  const admin = adminClient(regent, ADA);
  expect((await writePolicy(admin, 'first')).status).toBe(201);
  expect((await writePolicy(admin, 'second')).status).toBe(201);
  await regent.close();
  const auditFile = join(regent.dataDir, 'audit', 'audit.jsonl');
  const lines = readFileSync(auditFile, 'utf8').split('\n').filter((line) => line !== '');
  expect(lines.length).toBeGreaterThanOrEqual(4);
  return { dataDir: regent.dataDir, auditFile, lines };
}

const save = (file: string, lines: string[]) => writeFileSync(file, `${lines.join('\n')}\n`);

/** Tampering kinds: how the file is changed, and the line (1-based) and seq the break is reported at. */
const TAMPERING: Array<[string, (lines: string[]) => string[], (lines: string[]) => { line: number; seq: number | null }]> = [
  ['an edited middle line', (lines) => lines.map((line, i) => (i === 1 ? line.replace('"outcome":"success"', '"outcome":"failed"') : line)), () => ({ line: 3, seq: 3 })],
  ['a deleted middle line', (lines) => lines.filter((_, i) => i !== 1), () => ({ line: 2, seq: 3 })],
  ['a garbled complete last line', (lines) => [...lines.slice(0, -1), 'garbage'], (lines) => ({ line: lines.length, seq: null })],
];

describe('a broken audit chain found at start-up', () => {
  test.each(TAMPERING)('%s: with audit.onBrokenChain refuse, Regent exits non-zero naming the file, line and seq, and appends nothing', async (_name, tamper, where) => {
    const { dataDir, auditFile, lines } = await auditedDataDir();
    save(auditFile, tamper(lines));
    const tampered = readFileSync(auditFile);
    const { line, seq } = where(lines);

    const regent = spawnRegentProcess(dataDir, { env: { REGENT_AUDIT_ON_BROKEN_CHAIN: 'refuse' } });
    expect(await exitOf(regent)).toBe(1);
    expect(regent.output()).toContain(`regent: the audit log ${auditFile} is broken at line ${line}${seq === null ? ':' : ` (seq ${seq}):`}`);
    expect(regent.output()).toContain('[audit_chain_broken]');
    expect(readFileSync(auditFile)).toEqual(tampered);
  });

  test('outside development mode the default is to refuse', async () => {
    const { dataDir, auditFile, lines } = await auditedDataDir();
    save(auditFile, TAMPERING[1]![1](lines));
    const keys = tempDirForTest('regent-prod-keys-');
    writeFileSync(join(keys, 'signing.pem'), generateSigningKey('regent', 'RS256').privateKeyPem, { mode: 0o600 });
    writeFileSync(join(keys, 'admin.secret'), 'a-production-secret-of-at-least-32-bytes\n', { mode: 0o600 });
    chmodSync(join(keys, 'signing.pem'), 0o600);

    const agentTokens = writeAgentTokensFile([{ name: 'agent-1' }], keys);
    const regent = spawnRegentProcess(dataDir, { args: [], env: { REGENT_SIGNING_KEY_FILE: join(keys, 'signing.pem'), REGENT_AUTH_SECRET_FILE: join(keys, 'admin.secret'), REGENT_AGENT_TOKENS_FILE: agentTokens.path } });
    expect(await exitOf(regent)).toBe(1);
    expect(regent.output()).toContain(`the audit log ${auditFile} is broken at line 2 (seq 3)`);
  });

  test('with audit.onBrokenChain read-only (the development default), /status and GET /api/audit say where it breaks, admin writes get 503, bundles are served, nothing is appended', async () => {
    const { dataDir, auditFile, lines } = await auditedDataDir();
    save(auditFile, TAMPERING[0]![1](lines));
    const tampered = readFileSync(auditFile);
    const brokenAt = { file: 'audit/audit.jsonl', line: 3, seq: 3, reason: 'prev is not the SHA-256 of the line before' };

    const regent = await startTestRegent({ dataDir });
    const status = (await (await fetch(`${regent.url}/status`)).json()) as { audit: unknown; active: unknown };
    expect(status.audit).toEqual({ chain: 'broken', brokenAt });
    expect(status.active).not.toBeNull();

    const auditor = adminClient(regent, { sub: 'audrey', role: 'auditor' });
    const audit = await auditor.get('/api/audit');
    expect(audit.status).toBe(200);
    expect(audit.headers.get('regent-audit-chain')).toBe('broken; file="audit/audit.jsonl"; line=3; seq=3');
    expect(((await audit.json()) as { chain: unknown }).chain).toEqual({ chain: 'broken', brokenAt });

    const admin = adminClient(regent, ADA);
    const write = await writePolicy(admin, 'third');
    expect(write.status).toBe(503);
    expect(write.headers.get('content-type')).toContain('application/problem+json');
    expect(await write.json()).toMatchObject({ code: 'audit_chain_broken', file: 'audit/audit.jsonl', line: 3, seq: 3 });
    const validate = await admin.post('/api/changes/validate', { changes: [{ op: 'put', path: 'rbac/third.rego', content: 'package rbac.third\n\nok := true\n' }] });
    expect(validate.status).toBe(200);
    expect((await fetch(`${regent.url}/bundles/rbac`)).status).toBe(200);

    // Refusals keep their own status (they are logged, not recorded): never a 503, and an anonymous
    // caller learns nothing about the break.
    const anonymous = await fetch(`${regent.url}/api/policies`);
    expect(anonymous.status).toBe(401);
    expect(JSON.stringify(await anonymous.json())).not.toContain('audit.jsonl');
    expect((await fetch(`${regent.url}/api/policies`, { headers: { Authorization: 'Bearer junk' } })).status).toBe(401);
    const viewer = adminClient(regent, { sub: 'vic', role: 'viewer' });
    expect((await viewer.get('/api/audit')).status).toBe(403);
    const malformed = await admin.post('/api/changes/validate', '{"changes": [', { 'Content-Type': 'application/json' });
    expect(malformed.status).toBe(400);

    await regent.close();
    expect(readFileSync(auditFile)).toEqual(tampered);
  });

  test('a log cut in the middle of its last line is a crash artefact: the torn bytes are moved aside and Regent starts with the chain intact', async () => {
    const { dataDir, auditFile, lines } = await auditedDataDir();
    const intact = `${lines.slice(0, -1).join('\n')}\n`;
    truncateSync(auditFile, Buffer.byteLength(intact) + 20);

    const regent = await startTestRegent({ dataDir });
    expect(((await (await fetch(`${regent.url}/status`)).json()) as { audit: unknown }).audit).toEqual({ chain: 'ok', brokenAt: null });
    const torn = readdirSync(join(dataDir, 'audit')).filter((name) => name.startsWith('audit.jsonl.torn-'));
    expect(torn).toHaveLength(1);
    expect(readFileSync(join(dataDir, 'audit', torn[0]!), 'utf8')).toBe(lines.at(-1)!.slice(0, 20));
    expect((await writePolicy(adminClient(regent, ADA), 'third')).status).toBe(201);
  });
});

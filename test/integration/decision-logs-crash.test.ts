import { createSecretKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { tempDirForTest } from '../helpers/temp-dir.js';
import { exitOf, spawnRegentProcess, waitUntilReady, type RegentProcess } from '../helpers/regent-process.js';
import { AdminTokenIssuer } from '../../src/domain/auth/admin-token-issuer.js';
import { rawRequest } from '../helpers/admin-client.js';

/** One batch of `size` OPA-like decisions, ids `<sender>-<batch>-<i>`. */
function batch(sender: number, index: number, size: number): { ids: string[]; body: Buffer } {
  const ids = Array.from({ length: size }, (_, i) => `s${sender}-b${index}-${i}`);
  const events = ids.map((id, i) => ({
    labels: { id: `crash-agent-${sender}`, version: '1.22.2' }, decision_id: id, path: 'rbac/allow', input: { subject: `user-${i}`, action: 'view', resource: { type: 'workflow', project: 'apollo' } },
    result: i % 2 === 0, bundles: { rbac: { revision: 'c'.repeat(40) } }, timestamp: new Date().toISOString(), metrics: { timer_rego_query_eval_ns: 12_345 }, req_id: i,
  }));
  return { ids, body: gzipSync(JSON.stringify(events)) };
}

/** POST /logs; resolves with the status, or 0 when the connection died (Regent killed mid-request). */
function send(url: string, body: Buffer): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const req = request({ host: hostname, port, method: 'POST', path: '/logs', headers: { 'Content-Encoding': 'gzip', 'Content-Type': 'application/json', 'Content-Length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Every decision id in `GET /api/decisions`, paging to the end (dev mode: the auditor token is minted from the data directory's secret). */
async function allIds(url: string, token: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const response = await rawRequest(url, 'GET', `/api/decisions?limit=500${cursor ? `&cursor=${cursor}` : ''}`, undefined, { Authorization: `Bearer ${token}` });
    expect(response.status).toBe(200);
    const page = (await response.json()) as { decisions: Array<{ decisionId: string }>; nextCursor: string | null };
    ids.push(...page.decisions.map((decision) => decision.decisionId));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

/** An auditor token minted with the dev admin secret Regent generated in the data directory (trailing newlines are not part of it). */
function auditorToken(dataDir: string): string {
  const secret = createSecretKey(Buffer.from(readFileSync(join(dataDir, 'keys', 'admin-token.secret'), 'utf8').replace(/\n+$/, '')));
  const issuer = AdminTokenIssuer.create({ algorithm: 'HS256', key: secret, issuer: 'regent', audience: 'regent-admin', roleClaim: 'regent_role', maxTokenLifetimeSeconds: 86_400 });
  return issuer.issue({ sub: 'ada', role: 'auditor' }).token;
}

describe('decision logs in a real Regent process', () => {
  test('kill -9 while batches arrive loses no batch that was answered 2xx', async () => {
    const dataDir = tempDirForTest('regent-crash-');
    const first: RegentProcess = spawnRegentProcess(dataDir);
    const url = await first.listening;
    await waitUntilReady(url);
    const acknowledged: string[] = [];
    let sent = 0;
    let stop = false;
    // Eight senders, each posting 20-decision batches back to back, as a fleet's uploads would arrive.
    const senders = Array.from({ length: 8 }, async (_, sender) => {
      for (let index = 0; !stop; index++) {
        const { ids, body } = batch(sender, index, 20);
        sent++;
        const status = await send(url, body);
        if (status >= 200 && status < 300) acknowledged.push(...ids);
        else if (status === 0) return;
      }
    });
    // Kill once a good number of batches were acknowledged, while the senders keep going.
    const deadline = Date.now() + 30_000;
    while (acknowledged.length < 2000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    first.child.kill('SIGKILL');
    stop = true;
    expect(await exitOf(first)).toBe('SIGKILL');
    await Promise.all(senders);
    expect(acknowledged.length).toBeGreaterThanOrEqual(2000);

    const second = spawnRegentProcess(dataDir);
    const restarted = await second.listening;
    await waitUntilReady(restarted);
    const stored = new Set(await allIds(restarted, auditorToken(dataDir)));
    const lost = acknowledged.filter((id) => !stored.has(id));
    expect(lost, `${lost.length} of ${acknowledged.length} acknowledged decisions lost (${sent} batches sent)`).toEqual([]);
    // Nothing but whole batches: every stored batch has all its 20 decisions.
    const perBatch = new Map<string, number>();
    for (const id of stored) perBatch.set(id.replace(/-\d+$/, ''), (perBatch.get(id.replace(/-\d+$/, '')) ?? 0) + 1);
    expect([...perBatch.values()].every((count) => count === 20)).toBe(true);
  }, 180_000);

  test('a gzip bomb (256 MiB of zeros) is refused after inflating the 16 MiB cap, without the memory to hold it', async () => {
    const dataDir = tempDirForTest('regent-bomb-');
    const regent = spawnRegentProcess(dataDir);
    const url = await regent.listening;
    await waitUntilReady(url);
    const bomb = await new Promise<Buffer>((resolve, reject) => {
      const gzip = createGzip({ level: 9 });
      const chunks: Buffer[] = [];
      gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
      gzip.on('end', () => resolve(Buffer.concat(chunks)));
      gzip.on('error', reject);
      const zeros = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < 256; i++) gzip.write(zeros);
      gzip.end();
    });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const before = regent.memory().hwmMiB;
    const response = await rawRequest(url, 'POST', '/logs', bomb, { 'Content-Encoding': 'gzip' });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'decompressed_body_too_large' });
    // The cap (16 MiB) may be held once; the 256 MiB never.
    expect(regent.memory().hwmMiB - before).toBeLessThan(128);
    expect(await send(url, batch(0, 0, 3).body)).toBe(204);
  }, 180_000);
});

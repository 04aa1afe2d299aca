import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import type { DecisionRecord } from '../../src/domain/decisions/decision-log.js';
import { adminClient, rawRequest } from '../helpers/admin-client.js';
import { startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;

function event(index: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    labels: { id: 'limits-agent', version: '1.22.2' }, decision_id: `limits-${index}`, path: 'rbac/allow', input: { subject: `u${index}` }, result: index % 2 === 0,
    bundles: { rbac: { revision: 'a'.repeat(40) } }, timestamp: new Date(Date.UTC(2026, 11, 1, 10, 0, index)).toISOString(), metrics: { timer_rego_query_eval_ns: 1000 }, ...overrides,
  };
}

function post(regent: Regent, body: Buffer, headers: Record<string, string> = { 'Content-Encoding': 'gzip', 'Content-Type': 'application/json' }, path = '/logs'): Promise<Response> {
  return rawRequest(regent.url, 'POST', path, body, headers);
}

async function stored(regent: Regent): Promise<string[]> {
  const response = await adminClient(regent, { sub: 'ada', role: 'auditor' }).get('/api/decisions?limit=500');
  return ((await response.json()) as { decisions: DecisionRecord[] }).decisions.map((record) => record.decisionId);
}

function segmentBytes(regent: Regent): string {
  const dir = join(regent.dataDir, 'decisions');
  return readdirSync(dir).filter((name) => name.endsWith('.jsonl')).sort().map((name) => readFileSync(join(dir, name), 'utf8')).join('');
}

describe('POST /logs refusals', () => {
  test('bombs, oversize, malformed and mis-encoded batches are refused with their code, and the stored logs are untouched', async () => {
    const regent = await startTestRegent({ config: { decisionLogs: { maxBodyBytes: 256 * 1024, maxDecompressedBytes: 1024 * 1024, maxEventsPerBatch: 50, maxEventBytes: 8192, maxValuesPerBatch: 5000 } } });
    const accepted = await post(regent, gzipSync(JSON.stringify([event(1), event(2)])));
    expect(accepted.status).toBe(204);
    expect(await stored(regent)).toEqual(['limits-2', 'limits-1']);
    const before = segmentBytes(regent);

    // 64 MiB of zeros gzip to 64 KiB: under the compressed limit, inflated it would be 64 times the cap.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(256 * 1024);
    const cases: Array<[string, Buffer, Record<string, string> | undefined, number, string, string?]> = [
      ['a gzip bomb', bomb, undefined, 413, 'decompressed_body_too_large'],
      ['a body over maxBodyBytes', gzipSync(randomBytes(300 * 1024)), undefined, 413, 'body_too_large'],
      // 6,001 empty objects in 18 KB: refused by the count before anything is parsed.
      ['more JSON values than maxValuesPerBatch', gzipSync(`[${JSON.stringify(event(150)).slice(0, -1)},"input":[${'{},'.repeat(6000)}{}]}]`), undefined, 413, 'too_many_values', 'body'],
      ['more events than maxEventsPerBatch', gzipSync(JSON.stringify(Array.from({ length: 51 }, (_, i) => event(100 + i)))), undefined, 413, 'too_many_decisions'],
      ['one event over maxEventBytes', gzipSync(JSON.stringify([event(200), event(201, { input: { big: 'x'.repeat(10_000) } })])), undefined, 413, 'decision_too_large', '[1]'],
      ['bytes that are not gzip', Buffer.from('[{"not":"gzip"}]'), undefined, 400, 'invalid_gzip'],
      ['a gzip stream cut short', gzipSync(JSON.stringify([event(300)])).subarray(0, 20), undefined, 400, 'invalid_gzip'],
      ['gzip of text that is not JSON', gzipSync('[{"decision_id": '), undefined, 400, 'invalid_json'],
      ['gzip of a JSON object', gzipSync(JSON.stringify({ decision_id: 'x' })), undefined, 400, 'invalid_decision_batch', 'body'],
      ['an event without a timestamp', gzipSync(JSON.stringify([event(400), event(401, { timestamp: undefined })])), undefined, 400, 'invalid_decision_batch', '[1].timestamp'],
      ['bytes that are not UTF-8', gzipSync(Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d])), undefined, 400, 'invalid_utf8'],
      ['a brotli body', Buffer.from('[]'), { 'Content-Encoding': 'br' }, 415, 'unsupported_encoding'],
      ['a bad partition', gzipSync(JSON.stringify([event(500)])), undefined, 400, 'invalid_decision_batch', 'partition'],
    ];
    for (const [name, body, headers, status, code, field] of cases) {
      const response = await post(regent, body, headers, name === 'a bad partition' ? '/logs/a..b%20c' : '/logs');
      expect.soft(response.status, name).toBe(status);
      expect.soft(response.headers.get('content-type'), name).toBe('application/problem+json; charset=utf-8');
      const problem = (await response.json()) as { code: string; field?: string };
      expect.soft(problem.code, name).toBe(code);
      if (field) expect.soft(problem.field, name).toBe(field);
    }
    expect(segmentBytes(regent)).toBe(before);
    expect(await stored(regent)).toEqual(['limits-2', 'limits-1']);

    // An unencoded batch and a partition are fine; the partition is kept on every record.
    expect((await post(regent, Buffer.from(JSON.stringify([event(3)])), { 'Content-Type': 'application/json' }, '/logs/eu-west')).status).toBe(204);
    const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });
    const [latest] = ((await (await auditor.get('/api/decisions?limit=1')).json()) as { decisions: DecisionRecord[] }).decisions;
    expect(latest).toMatchObject({ decisionId: 'limits-3', partition: 'eu-west', agentId: 'limits-agent' });
    // Development mode, no agent credential: the decision names no identity.
    expect(latest).not.toHaveProperty('identity');
    expect(await stored(regent)).toEqual(['limits-3', 'limits-2', 'limits-1']);
  });

  test('with a report token configured, batches without it are refused (401) and nothing is stored', async () => {
    const token = 'fleet-report-token-0123456789';
    const regent = await startTestRegent({ config: { fleet: { reportToken: token } } });
    const body = gzipSync(JSON.stringify([event(1)]));
    const refused = await post(regent, body);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'report_token_invalid' });
    expect((await post(regent, body, { 'Content-Encoding': 'gzip', Authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect(await stored(regent)).toEqual([]);
    expect((await post(regent, body, { 'Content-Encoding': 'gzip', Authorization: `Bearer ${token}` })).status).toBe(204);
    expect(await stored(regent)).toEqual(['limits-1']);
  });

  test('a batch answered 204 survives a restart', async () => {
    const first = await startTestRegent({ keepRunning: true });
    expect((await post(first, gzipSync(JSON.stringify([event(7), event(8)])))).status).toBe(204);
    await first.close();
    const second = await startTestRegent({ dataDir: first.dataDir });
    expect(await stored(second)).toEqual(['limits-8', 'limits-7']);
  });
});

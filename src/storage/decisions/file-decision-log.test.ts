import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { silentLogger } from '../../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../../test/helpers/temp-dir.js';
import type { DecisionQuery, DecisionRecord } from '../../domain/decisions/decision-log.js';
import { FileDecisionLog, type FileDecisionLogOptions } from './file-decision-log.js';
import { segmentPath } from './segment-files.js';

const DAY = 86_400_000;

function decision(index: number, overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  const agent = `agent-${index % 4}`;
  return {
    decisionId: `d-${index}`, timestamp: new Date(Date.UTC(2026, 11, 1, 10, 0, 0, index)).toISOString(), path: index % 2 === 0 ? 'rbac/allow' : 'datasets/allow',
    agentId: agent, labels: { id: agent }, bundles: { rbac: { revision: index < 100 ? 'r1' : 'r2' } }, input: { subject: `user-${index}`, pad: 'x'.repeat(200) },
    result: index % 3 === 0, receivedAt: new Date(Date.UTC(2026, 11, 1, 10, 0, 1)).toISOString(), ...overrides,
  };
}

async function openLog(dir: string, options: Partial<FileDecisionLogOptions> = {}): Promise<FileDecisionLog> {
  const log = await FileDecisionLog.open({
    dir, segmentBytes: 16 * 1024, maxBytes: 64 * 1024 * 1024, maxAgeMs: 3650 * DAY, maxEventBytes: 64 * 1024, maxScanBytesPerQuery: 64 * 1024 * 1024, maxPageBytes: 8 * 1024 * 1024, logger: silentLogger(), ...options,
  });
  onTestFinished(() => log.close().catch(() => undefined));
  return log;
}

async function all(log: FileDecisionLog, query: Omit<DecisionQuery, 'limit'>, limit = 7): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await log.query({ ...query, limit, cursor });
    ids.push(...page.records.map((record) => record.decisionId));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

describe('FileDecisionLog', () => {
  test('returns decisions newest first in pages that neither repeat nor skip, across rotated segments', async () => {
    const dir = tempDirForTest();
    const log = await openLog(dir);
    for (let batch = 0; batch < 20; batch++) await log.record(Array.from({ length: 10 }, (_, i) => decision(batch * 10 + i)));
    expect(log.stats().segments).toBeGreaterThan(3);
    expect(log.stats().records).toBe(200);
    const expected = Array.from({ length: 200 }, (_, i) => `d-${199 - i}`);
    expect(await all(log, {})).toEqual(expected);
    // Decisions arriving between pages do not disturb the pages of an earlier query.
    const first = await log.query({ limit: 5 });
    await log.record([decision(500)]);
    const second = await log.query({ limit: 5, cursor: first.nextCursor });
    expect(second.records.map((record) => record.decisionId)).toEqual(['d-194', 'd-193', 'd-192', 'd-191', 'd-190']);
  });

  test.each([
    ['agent', { agentId: 'agent-1' }, (i: number) => i % 4 === 1],
    ['path', { path: 'datasets/allow' }, (i: number) => i % 2 === 1],
    ['revision', { revision: 'r1' }, (i: number) => i < 100],
    ['result', { result: true }, (i: number) => i % 3 === 0],
    ['decision id', { decisionId: 'd-77' }, (i: number) => i === 77],
    ['time range', { since: new Date(Date.UTC(2026, 11, 1, 10, 0, 0, 50)), until: new Date(Date.UTC(2026, 11, 1, 10, 0, 0, 59)) }, (i: number) => i >= 50 && i <= 59],
    ['agent and result', { agentId: 'agent-0', result: true }, (i: number) => i % 4 === 0 && i % 3 === 0],
  ])('filters by %s', async (_name, query, keep) => {
    const log = await openLog(tempDirForTest());
    for (let batch = 0; batch < 20; batch++) await log.record(Array.from({ length: 10 }, (_, i) => decision(batch * 10 + i)));
    const expected = Array.from({ length: 200 }, (_, i) => 199 - i).filter(keep).map((i) => `d-${i}`);
    expect(await all(log, query)).toEqual(expected);
  });

  test('a page ends at maxPageBytes of stored decisions (at least one) with a cursor that goes on exactly where it stopped', async () => {
    const dir = tempDirForTest();
    // Lines of about 350 bytes, and every seventh one of about 5 KB: pages of 1 KiB hold two or three small
    // decisions, and a big one alone.
    const log = await openLog(dir, { maxPageBytes: 1024 });
    const records = Array.from({ length: 60 }, (_, i) => decision(i, i % 7 === 0 ? { input: { pad: 'y'.repeat(5000) } } : {}));
    for (let batch = 0; batch < 6; batch++) await log.record(records.slice(batch * 10, batch * 10 + 10));
    expect(log.stats().segments).toBeGreaterThan(1);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await log.query({ limit: 500, cursor });
      pages.push(page.records.map((record) => record.decisionId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages.flat()).toEqual(Array.from({ length: 60 }, (_, i) => `d-${59 - i}`));
    expect(pages.length).toBeGreaterThan(20);
    for (const page of pages) {
      const bytes = page.reduce((sum, id) => sum + JSON.stringify(records[Number(id.slice(2))]).length, 0);
      if (page.length > 1) expect(bytes).toBeLessThanOrEqual(1024);
      else expect(page).toHaveLength(1);
    }
    expect(pages.filter((page) => page.length === 1 && Number(page[0]!.slice(2)) % 7 === 0)).toHaveLength(9);
  });

  test('a query skips the closed segments whose index rules them out (an unreadable one is never opened)', async () => {
    const dir = tempDirForTest();
    const log = await openLog(dir);
    await log.record(Array.from({ length: 60 }, (_, i) => decision(i, { agentId: 'early', labels: { id: 'early' } })));
    await log.record(Array.from({ length: 60 }, (_, i) => decision(1000 + i, { agentId: 'late', labels: { id: 'late' } })));
    await log.record([decision(5000, { agentId: 'late', labels: { id: 'late' } })]);
    // The segment of the "early" decisions is replaced by a directory: reading it would fail.
    const early = segmentPath(dir, 1);
    rmSync(early);
    mkdirSync(early);
    expect((await all(log, { agentId: 'late' }, 100)).length).toBe(61);
    expect(await all(log, { decisionId: 'd-1005' })).toEqual(['d-1005']);
    await expect(log.query({ agentId: 'early', limit: 10 })).rejects.toThrow(/EISDIR/);
  });

  test('a write cut short by a crash (lines without their commit line) is dropped on open; acknowledged batches stay', async () => {
    const dir = tempDirForTest();
    const log = await openLog(dir, { segmentBytes: 1024 * 1024 });
    await log.record([decision(1), decision(2)]);
    await log.close();
    const path = segmentPath(dir, 1);
    const acknowledged = statSync(path).size;
    appendFileSync(path, `${JSON.stringify({ decisionId: 'torn-1', timestamp: '2026-12-01T10:00:00Z', path: 'p', agentId: 'a', receivedAt: '2026-12-01T10:00:00Z', labels: {}, bundles: {} })}\n{"decisionId":"torn-2","timest`);
    const reopened = await openLog(dir, { segmentBytes: 1024 * 1024 });
    expect(statSync(path).size).toBe(acknowledged);
    expect(await all(reopened, {})).toEqual(['d-2', 'd-1']);
    await reopened.record([decision(3)]);
    expect(await all(reopened, {})).toEqual(['d-3', 'd-2', 'd-1']);
  });

  test('a missing index of a closed segment is rebuilt on open', async () => {
    const dir = tempDirForTest();
    const log = await openLog(dir);
    for (let batch = 0; batch < 5; batch++) await log.record(Array.from({ length: 20 }, (_, i) => decision(batch * 20 + i)));
    await log.close();
    rmSync(join(dir, 'segment-000000000001.index.json'));
    const reopened = await openLog(dir);
    expect(readdirSync(dir)).toContain('segment-000000000001.index.json');
    expect((await all(reopened, { revision: 'r1' }, 50)).length).toBe(100);
  });

  test('retention deletes the oldest closed segments beyond maxBytes, and those older than maxAgeMs', async () => {
    const dir = tempDirForTest();
    let now = Date.UTC(2026, 11, 1, 12);
    const log = await openLog(dir, { maxBytes: 64 * 1024, maxAgeMs: DAY, now: () => now });
    for (let batch = 0; batch < 40; batch++) await log.record(Array.from({ length: 10 }, (_, i) => decision(batch * 10 + i)));
    // Within maxBytes, but for at most the one batch that filled a segment (10 decisions of ~400 bytes).
    expect(log.stats().bytes).toBeLessThanOrEqual(64 * 1024 + 5000);
    expect(log.stats().segmentsDeleted).toBeGreaterThan(0);
    const kept = await all(log, {}, 500);
    expect(kept[0]).toBe('d-399');
    expect(kept.length).toBeLessThan(400);
    // Two days later, everything is past maxAgeMs: the open segment is closed and deleted too.
    now += 2 * DAY;
    await log.enforceRetention();
    expect(await all(log, {})).toEqual([]);
    expect(log.stats().records).toBe(0);
  });

  test('a decision over maxEventBytes refuses the whole batch and stores nothing', async () => {
    const dir = tempDirForTest();
    const log = await openLog(dir, { maxEventBytes: 2048 });
    await log.record([decision(1)]);
    await expect(log.record([decision(2), decision(3, { input: { big: 'y'.repeat(4096) } })])).rejects.toMatchObject({ code: 'decision_too_large', details: { field: '[1]' } });
    expect(await all(log, {})).toEqual(['d-1']);
    expect(readFileSync(segmentPath(dir, 1), 'utf8')).not.toContain('d-2');
  });
});

import { describe, expect, test } from 'vitest';
import { decisionFilterOf } from './decision-filter.js';
import type { DecisionRecord } from './decision-log.js';
import { SegmentSummaryBuilder, segmentMayMatch, segmentSummaryFrom } from './segment-summary.js';

function record(index: number, overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    decisionId: `decision-${index}`, timestamp: new Date(Date.UTC(2026, 11, 1, 10, 0, index)).toISOString(), path: 'rbac/allow', agentId: `agent-${index % 3}`,
    labels: { id: `agent-${index % 3}` }, bundles: { rbac: { revision: 'r1' } }, result: index % 2 === 0, receivedAt: '2026-12-01T10:01:00Z', ...overrides,
  };
}

function summaryOf(records: DecisionRecord[]) {
  const builder = new SegmentSummaryBuilder();
  for (const r of records) builder.add(r, Date.parse(r.timestamp), Date.parse(r.receivedAt));
  return { builder, summary: segmentSummaryFrom(JSON.parse(JSON.stringify(builder.build())))! };
}

describe('segment summaries', () => {
  const records = Array.from({ length: 500 }, (_, i) => record(i));
  const { builder, summary } = summaryOf(records);

  test.each([
    ['a decision id it holds', { decisionId: 'decision-42' }, true],
    ['an agent it holds', { agentId: 'agent-2' }, true],
    ['a result it holds', { result: false }, true],
    ['a time inside its range', { since: new Date('2026-12-01T10:03:00Z'), until: new Date('2026-12-01T10:04:00Z') }, true],
    ['an agent it does not hold', { agentId: 'agent-9' }, false],
    ['a path it does not hold', { path: 'datasets/allow' }, false],
    ['a revision it does not hold', { revision: 'r2' }, false],
    ['a result it does not hold', { result: 'maybe' }, false],
    ['a time after its range', { since: new Date('2026-12-02T00:00:00Z') }, false],
    ['a time before its range', { until: new Date('2026-11-30T00:00:00Z') }, false],
  ])('for %s: may match = %s (closed and open segment alike)', (_name, query, expected) => {
    const filter = decisionFilterOf({ limit: 10, ...query });
    expect(segmentMayMatch(summary, filter)).toBe(expected);
    expect(builder.mayMatch(filter)).toBe(expected);
  });

  test('rules out decision ids it does not hold, but for about 1% of them (Bloom filter)', () => {
    let maybe = 0;
    for (let i = 0; i < 2000; i++) if (segmentMayMatch(summary, decisionFilterOf({ limit: 1, decisionId: `other-${i}` }))) maybe++;
    expect(maybe).toBeLessThan(60);
    for (const r of records) expect(segmentMayMatch(summary, decisionFilterOf({ limit: 1, decisionId: r.decisionId }))).toBe(true);
  });

  test('past 64 distinct values a field is listed as "many", so any value may match', () => {
    const many = summaryOf(Array.from({ length: 100 }, (_, i) => record(i, { agentId: `agent-${i}` }))).summary;
    expect(many.agents).toBeNull();
    expect(segmentMayMatch(many, decisionFilterOf({ limit: 1, agentId: 'agent-x' }))).toBe(true);
  });
});

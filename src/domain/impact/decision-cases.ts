import type { DecisionLog, DecisionQuery, DecisionRecord } from '../decisions/decision-log.js';

/** One decision to replay: the data reference, the input, and the recorded decision it comes from. */
export interface ImpactCase {
  query: string;
  input: unknown;
  decision?: { decisionId: string; agentId: string; timestamp: string };
}

/** Recorded decisions as cases, and how many could not be replayed, by reason. */
export interface RecordedCases {
  cases: ImpactCase[];
  /** Records matched by the filter (replayed or skipped). */
  matched: number;
  /** More records matched than `limit`: the newest `limit` were taken. */
  truncated: boolean;
  skipped: Record<string, number>;
}

const SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_PAGES = 10_000;

/**
 * Reads up to `limit` recorded decisions, newest first, page by page, and turns each into a case: the
 * query is the path OPA logged (`rbac/allow` → `data.rbac.allow`). A decision without its input
 * (erased by the agent's mask policy) or at a path that is not a plain data reference is skipped and
 * counted (`no_input`, `unsupported_path`).
 */
export async function recordedCases(log: DecisionLog, filter: Omit<DecisionQuery, 'cursor'>): Promise<RecordedCases> {
  const skipped: Record<string, number> = Object.create(null) as Record<string, number>;
  const cases: ImpactCase[] = [];
  let matched = 0;
  let cursor: string | undefined;
  let truncated = false;
  for (let page = 0; page < MAX_PAGES && matched < filter.limit; page++) {
    const result = await log.query({ ...filter, limit: filter.limit - matched, ...(cursor === undefined ? {} : { cursor }) });
    for (const record of result.records.slice(0, filter.limit - matched)) {
      matched++;
      const reason = skipReason(record);
      if (reason) skipped[reason] = (skipped[reason] ?? 0) + 1;
      else cases.push({ query: `data.${record.path.split('/').join('.')}`, input: record.input, decision: { decisionId: record.decisionId, agentId: record.agentId, timestamp: record.timestamp } });
    }
    cursor = result.nextCursor;
    if (cursor === undefined || result.records.length === 0) break;
    truncated = matched >= filter.limit;
  }
  return { cases, matched, truncated, skipped };
}

function skipReason(record: DecisionRecord): string | undefined {
  if (record.input === undefined) return 'no_input';
  const segments = record.path.split('/');
  if (segments.length > 16 || !segments.every((segment) => SEGMENT.test(segment))) return 'unsupported_path';
  return undefined;
}

import { dictionary } from '../../domain/dictionary.js';
import type { DecisionRecord } from '../../domain/decisions/decision-log.js';
import type { DecisionFilter } from '../../domain/decisions/decision-filter.js';

/**
 * One decision per line of a segment file, its keys in a fixed order (`decisionId`, `timestamp`, `path`,
 * `agentId` first), and after every group of lines written together a commit line, `{"commit":<n>}`:
 * lines after the last commit line are a write a crash cut short (never acknowledged), dropped on open.
 */
const COMMIT_PREFIX = '{"commit":';

export function encodeDecisionLine(record: DecisionRecord): string {
  const ordered: Record<string, unknown> = {
    decisionId: record.decisionId,
    timestamp: record.timestamp,
    path: record.path,
    agentId: record.agentId,
    receivedAt: record.receivedAt,
    ...(record.partition === undefined ? {} : { partition: record.partition }),
    ...(record.identity === undefined ? {} : { identity: record.identity }),
    labels: record.labels,
    bundles: record.bundles,
    ...(record.query === undefined ? {} : { query: record.query }),
    ...(record.input === undefined ? {} : { input: record.input }),
    ...(record.result === undefined ? {} : { result: record.result }),
    ...(record.erased === undefined ? {} : { erased: record.erased }),
    ...(record.masked === undefined ? {} : { masked: record.masked }),
    ...(record.error === undefined ? {} : { error: record.error }),
    ...(record.ndBuiltinCache === undefined ? {} : { ndBuiltinCache: record.ndBuiltinCache }),
  };
  return JSON.stringify(ordered);
}

export function commitLine(sequence: number): string {
  return `${COMMIT_PREFIX}${sequence}}`;
}

export function isCommitLine(line: string): boolean {
  return line.startsWith(COMMIT_PREFIX);
}

/** A stored line read back as a record (labels and bundles as null-prototype objects); undefined when it is not one. */
export function decodeDecisionLine(line: string): DecisionRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as DecisionRecord;
  if (typeof record.decisionId !== 'string' || typeof record.timestamp !== 'string' || typeof record.path !== 'string' || typeof record.agentId !== 'string' || typeof record.receivedAt !== 'string') return undefined;
  if (record.identity !== undefined && typeof record.identity !== 'string') return undefined;
  if (typeof record.labels !== 'object' || record.labels === null || typeof record.bundles !== 'object' || record.bundles === null) return undefined;
  return { ...record, labels: dictionary(Object.entries(record.labels)), bundles: dictionary(Object.entries(record.bundles)) };
}

/**
 * Substrings every line matching `filter` must contain (the fixed key order makes them exact), so most
 * lines are ruled out without parsing them. A line that contains them all is parsed and checked exactly.
 */
export function lineNeedles(filter: DecisionFilter): string[] {
  const needles: string[] = [];
  if (filter.decisionId !== undefined) needles.push(`{"decisionId":${JSON.stringify(filter.decisionId)},`);
  if (filter.agentId !== undefined) needles.push(`,"agentId":${JSON.stringify(filter.agentId)},`);
  if (filter.identity !== undefined) needles.push(`,"identity":${JSON.stringify(filter.identity)},`);
  if (filter.path !== undefined) needles.push(`,"path":${JSON.stringify(filter.path)},`);
  if (filter.revision !== undefined) needles.push(`{"revision":${JSON.stringify(filter.revision)}}`);
  return needles;
}

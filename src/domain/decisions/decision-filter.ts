import type { DecisionQuery, DecisionRecord } from './decision-log.js';

/** A {@link DecisionQuery}'s filters in the form they are checked in: times in ms, `result` as its canonical JSON. */
export interface DecisionFilter {
  sinceMs?: number;
  untilMs?: number;
  path?: string;
  revision?: string;
  agentId?: string;
  identity?: string;
  decisionId?: string;
  /** {@link canonicalJson} of the wanted `result`. */
  result?: string;
}

export function decisionFilterOf(query: DecisionQuery): DecisionFilter {
  return {
    sinceMs: query.since?.getTime(),
    untilMs: query.until?.getTime(),
    path: query.path,
    revision: query.revision,
    agentId: query.agentId,
    identity: query.identity,
    decisionId: query.decisionId,
    result: query.result === undefined ? undefined : canonicalJson(query.result),
  };
}

/** Whether `record` passes every filter (AND); `timeMs` is its `timestamp` in ms, parsed once by the caller. */
export function matchesDecision(record: DecisionRecord, timeMs: number, filter: DecisionFilter): boolean {
  if (filter.sinceMs !== undefined && timeMs < filter.sinceMs) return false;
  if (filter.untilMs !== undefined && timeMs > filter.untilMs) return false;
  if (filter.path !== undefined && record.path !== filter.path) return false;
  if (filter.agentId !== undefined && record.agentId !== filter.agentId) return false;
  if (filter.decisionId !== undefined && record.decisionId !== filter.decisionId) return false;
  if (filter.identity !== undefined && record.identity !== filter.identity) return false;
  if (filter.revision !== undefined && !Object.values(record.bundles).some((bundle) => bundle.revision === filter.revision)) return false;
  if (filter.result !== undefined && (record.result === undefined || canonicalJson(record.result) !== filter.result)) return false;
  return true;
}

/** JSON with object keys sorted, so two equal values compare equal as text whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

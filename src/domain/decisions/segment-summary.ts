import { bloomMayContain, buildBloomFilter, hashPair, type BloomFilterData } from './bloom-filter.js';
import { canonicalJson, type DecisionFilter } from './decision-filter.js';
import type { DecisionRecord } from './decision-log.js';

/**
 * What a segment of the decision log holds, in a few kilobytes: the range of decision times and of
 * receipt times, and the distinct agents, paths, revisions and results when there are few of them
 * (`null` = too many to list, so any may be there), and a Bloom filter of the decision ids. A query
 * reads a segment only when its summary says it may hold a match.
 */
export interface SegmentSummary {
  records: number;
  minTimeMs: number;
  maxTimeMs: number;
  firstReceivedMs: number;
  lastReceivedMs: number;
  agents: string[] | null;
  paths: string[] | null;
  revisions: string[] | null;
  /** Canonical JSON of the results (`undefined` for decisions without one). */
  results: string[] | null;
  decisionIds: BloomFilterData;
}

/**
 * What a segment summary needs of one record: a few short strings and numbers, never its payloads, so a
 * batch waiting for its write keeps this instead of the parsed record.
 */
export interface SummaryEntry {
  idHashes: readonly [number, number];
  agentId: string;
  path: string;
  revisions: readonly string[];
  /** Canonical JSON of the result (`'undefined'` without one), or null when it is too long to list. */
  resultText: string | null;
  timeMs: number;
  receivedMs: number;
}

export function summaryEntryOf(record: DecisionRecord, timeMs: number, receivedMs: number): SummaryEntry {
  const text = record.result === undefined ? 'undefined' : canonicalJson(record.result);
  return {
    idHashes: hashPair(record.decisionId), agentId: record.agentId, path: record.path, revisions: Object.values(record.bundles).map((bundle) => bundle.revision),
    resultText: text.length > MAX_RESULT_TEXT ? null : text, timeMs, receivedMs,
  };
}

/** Distinct values listed per field before the summary says "many". */
const MAX_DISTINCT = 64;
/** Results longer than this (as canonical JSON) are not listed: the summary says "many". */
const MAX_RESULT_TEXT = 128;

/** Builds a {@link SegmentSummary} record by record, and answers for the segment being written. */
export class SegmentSummaryBuilder {
  private records = 0;
  private minTimeMs = Infinity;
  private maxTimeMs = -Infinity;
  private firstReceivedMs = Infinity;
  private lastReceivedMs = -Infinity;
  private agents: Set<string> | null = new Set();
  private paths: Set<string> | null = new Set();
  private revisions: Set<string> | null = new Set();
  private results: Set<string> | null = new Set();
  /** Decision ids as hash pairs, keyed by their first hash: exact enough for the open segment. */
  private readonly ids = new Map<number, number[]>();

  get count(): number {
    return this.records;
  }

  /** When the first and the last record were received (ms); undefined while the segment is empty. */
  get receivedRange(): { first: number; last: number } | undefined {
    return this.records === 0 ? undefined : { first: this.firstReceivedMs, last: this.lastReceivedMs };
  }

  add(record: DecisionRecord, timeMs: number, receivedMs: number): void {
    this.addEntry(summaryEntryOf(record, timeMs, receivedMs));
  }

  /** Adds a record by its {@link SummaryEntry} (what a batch waiting to be written keeps of each record). */
  addEntry(entry: SummaryEntry): void {
    this.records++;
    if (entry.timeMs < this.minTimeMs) this.minTimeMs = entry.timeMs;
    if (entry.timeMs > this.maxTimeMs) this.maxTimeMs = entry.timeMs;
    if (entry.receivedMs < this.firstReceivedMs) this.firstReceivedMs = entry.receivedMs;
    if (entry.receivedMs > this.lastReceivedMs) this.lastReceivedMs = entry.receivedMs;
    this.agents = addCapped(this.agents, entry.agentId);
    this.paths = addCapped(this.paths, entry.path);
    for (const revision of entry.revisions) this.revisions = addCapped(this.revisions, revision);
    if (this.results) this.results = entry.resultText === null ? null : addCapped(this.results, entry.resultText);
    const [h1, h2] = entry.idHashes;
    const same = this.ids.get(h1);
    if (same) same.push(h2);
    else this.ids.set(h1, [h2]);
  }

  build(): SegmentSummary {
    const pairs: Array<[number, number]> = [];
    for (const [h1, h2s] of this.ids) for (const h2 of h2s) pairs.push([h1, h2]);
    return {
      records: this.records,
      minTimeMs: this.minTimeMs,
      maxTimeMs: this.maxTimeMs,
      firstReceivedMs: this.firstReceivedMs,
      lastReceivedMs: this.lastReceivedMs,
      agents: listed(this.agents),
      paths: listed(this.paths),
      revisions: listed(this.revisions),
      results: listed(this.results),
      decisionIds: buildBloomFilter(pairs, pairs.length),
    };
  }

  /** Whether the segment being written may hold a match (exact on decision ids). */
  mayMatch(filter: DecisionFilter): boolean {
    if (this.records === 0) return false;
    if (filter.decisionId !== undefined) {
      const [h1, h2] = hashPair(filter.decisionId);
      if (!this.ids.get(h1)?.includes(h2)) return false;
    }
    return mayMatchFields({
      minTimeMs: this.minTimeMs, maxTimeMs: this.maxTimeMs, agents: listed(this.agents), paths: listed(this.paths), revisions: listed(this.revisions), results: listed(this.results),
    }, filter);
  }
}

/** Whether a closed segment may hold a record passing `filter`; false only when it certainly does not. */
export function segmentMayMatch(summary: SegmentSummary, filter: DecisionFilter): boolean {
  if (summary.records === 0) return false;
  if (filter.decisionId !== undefined && !bloomMayContain(summary.decisionIds, hashPair(filter.decisionId))) return false;
  return mayMatchFields(summary, filter);
}

/** A summary read back from a segment's index file, checked field by field; undefined when it is not one. */
export function segmentSummaryFrom(value: unknown): SegmentSummary | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const numbers = ['records', 'minTimeMs', 'maxTimeMs', 'firstReceivedMs', 'lastReceivedMs'] as const;
  if (numbers.some((key) => typeof v[key] !== 'number')) return undefined;
  const lists = ['agents', 'paths', 'revisions', 'results'] as const;
  if (lists.some((key) => v[key] !== null && !(Array.isArray(v[key]) && (v[key] as unknown[]).every((item) => typeof item === 'string')))) return undefined;
  const bloom = v.decisionIds as Record<string, unknown> | null | undefined;
  if (!bloom || typeof bloom.m !== 'number' || typeof bloom.k !== 'number' || typeof bloom.bits !== 'string') return undefined;
  return value as SegmentSummary;
}

type FieldSummary = Pick<SegmentSummary, 'minTimeMs' | 'maxTimeMs' | 'agents' | 'paths' | 'revisions' | 'results'>;

function mayMatchFields(summary: FieldSummary, filter: DecisionFilter): boolean {
  if (filter.sinceMs !== undefined && summary.maxTimeMs < filter.sinceMs) return false;
  if (filter.untilMs !== undefined && summary.minTimeMs > filter.untilMs) return false;
  if (filter.agentId !== undefined && summary.agents && !summary.agents.includes(filter.agentId)) return false;
  if (filter.path !== undefined && summary.paths && !summary.paths.includes(filter.path)) return false;
  if (filter.revision !== undefined && summary.revisions && !summary.revisions.includes(filter.revision)) return false;
  if (filter.result !== undefined && summary.results && !summary.results.includes(filter.result)) return false;
  return true;
}

function addCapped(set: Set<string> | null, value: string): Set<string> | null {
  if (!set) return null;
  set.add(value);
  return set.size > MAX_DISTINCT ? null : set;
}

function listed(set: Set<string> | null): string[] | null {
  return set ? [...set] : null;
}

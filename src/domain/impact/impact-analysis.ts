import { createHash } from 'node:crypto';
import type { DecisionLog } from '../decisions/decision-log.js';
import { UnavailableError } from '../errors.js';
import type { EvaluatedDecision, EvaluationGroup, PolicyEvaluator } from '../policies/policy-inspector.js';
import type { Revision } from '../store/policy-store.js';
import { recordedCases, type ImpactCase } from './decision-cases.js';
import type { ImpactRequest } from './impact-request.js';

/** Files OPA evaluates (modules and data, specs compiled). */
export type EvaluableFiles = ReadonlyArray<{ path: string; content: Buffer }>;

/** How one decision turned out on one side: OPA's value, or undefined. */
export type ImpactOutcome = EvaluatedDecision;

/** A kind of change and how often it happened: e.g. `data.rbac.allow` went from true to false 12 times. */
export interface ImpactTransition {
  query: string;
  from: ImpactOutcome;
  to: ImpactOutcome;
  count: number;
}

export interface ImpactExample {
  /** Position of the input in the request (inputs), or of the decision among those replayed. */
  index: number;
  query: string;
  input: unknown;
  from: ImpactOutcome;
  to: ImpactOutcome;
  /** The recorded decision it replays (decisions). */
  decision?: ImpactCase['decision'];
}

/** What changes between two sides for a set of decisions. */
export interface DecisionChanges {
  evaluated: number;
  changed: number;
  unchanged: number;
  /** Most frequent first, at most {@link MAX_TRANSITIONS}; `otherTransitions` counts the kinds left out. */
  transitions: ImpactTransition[];
  otherTransitions: number;
  examples: ImpactExample[];
  /** Milliseconds OPA took for both sides (they run at once). */
  evaluateMs: number;
}

export interface ImpactReport extends DecisionChanges {
  from: Revision;
  to: Revision;
  source: 'inputs' | 'decisions';
  /** The data reference evaluated (inputs). */
  query?: string;
  /** Decisions: the filter, how many matched, whether more matched than the limit, and what could not be replayed. */
  decisions?: { since?: string; until?: string; path?: string; limit: number; matched: number; truncated: boolean; skipped: Record<string, number> };
  durationMs: number;
}

export interface ImpactAnalysisOptions {
  /** Resolves `head`, `active`, SHAs, branches and tags. */
  resolve(ref: string): Promise<Revision>;
  /** The evaluable files of a revision (a spec that does not compile is refused). */
  filesAt(revision: Revision): Promise<EvaluableFiles>;
  evaluator: PolicyEvaluator;
  /** Where recorded decisions come from; without it, `decisions` requests answer `decision_log_unavailable`. */
  decisions?: DecisionLog;
}

export const MAX_TRANSITIONS = 20;
/** A value in a transition or example larger than this (as JSON) is shown by its digest. */
const MAX_SHOWN_VALUE = 4096;

/**
 * Impact analysis: which decisions would change between two policy trees. Every decision (an input given
 * in the request, or one the fleet recorded) is evaluated on both sides by real OPA, one process per side
 * for all of them (the runner's interactive priority, budget, memory and output limits), and the
 * answers are compared. Bounded by construction: the request's inputs or the decision filter's limit
 * (`impact.maxInputs`), at most `impact.maxExamples` examples and {@link MAX_TRANSITIONS} kinds of change.
 */
export class ImpactAnalysis {
  private constructor(private readonly options: ImpactAnalysisOptions) {}

  static create(options: ImpactAnalysisOptions): ImpactAnalysis {
    return new ImpactAnalysis(options);
  }

  /** Whether recorded decisions can be replayed (a decision log is configured). */
  get hasDecisionLog(): boolean {
    return this.options.decisions !== undefined;
  }

  async analyze(request: ImpactRequest): Promise<ImpactReport> {
    const started = performance.now();
    const [from, to] = await Promise.all([this.options.resolve(request.from), this.options.resolve(request.to)]);
    const { source } = request;
    let cases: ImpactCase[];
    let decisions: ImpactReport['decisions'];
    if (source.kind === 'inputs') {
      cases = source.inputs.map((input) => ({ query: source.query, input }));
    } else {
      const recorded = await this.recorded({ since: source.since, until: source.until, path: source.path, limit: source.limit });
      cases = recorded.cases;
      decisions = {
        ...(source.since ? { since: source.since.toISOString() } : {}), ...(source.until ? { until: source.until.toISOString() } : {}),
        ...(source.path ? { path: source.path } : {}), limit: source.limit, matched: recorded.matched, truncated: recorded.truncated, skipped: recorded.skipped,
      };
    }
    const [fromFiles, toFiles] = await Promise.all([this.options.filesAt(from), this.options.filesAt(to)]);
    const changes = await this.compare(fromFiles, toFiles, cases, request.examples);
    return {
      from, to, source: source.kind, ...(source.kind === 'inputs' ? { query: source.query } : {}), ...(decisions ? { decisions } : {}),
      ...changes, durationMs: Math.round(performance.now() - started),
    };
  }

  /** Recorded decisions matching `filter` as cases (`decision_log_unavailable` without a decision log). */
  async recorded(filter: { since?: Date; until?: Date; path?: string; limit: number }) {
    const log = this.options.decisions;
    if (!log) {
      throw new UnavailableError('decision_log_unavailable', 'recorded decisions cannot be replayed: this Regent keeps no decision logs (give the inputs instead)', { field: 'decisions' });
    }
    return recordedCases(log, filter);
  }

  /** Evaluates every case on both sides (one OPA process each) and reports what changed. */
  async compare(fromFiles: EvaluableFiles, toFiles: EvaluableFiles, cases: readonly ImpactCase[], maxExamples: number): Promise<DecisionChanges> {
    const started = performance.now();
    const { groups, positions } = groupByQuery(cases);
    const [before, after] = cases.length === 0
      ? [[], []]
      : await Promise.all([this.options.evaluator.evaluateBatch(fromFiles, groups), this.options.evaluator.evaluateBatch(toFiles, groups)]);
    const evaluateMs = Math.round(performance.now() - started);
    const transitions = new Map<string, ImpactTransition>();
    const examples: ImpactExample[] = [];
    let changed = 0;
    cases.forEach((one, index) => {
      const [group, at] = positions[index]!;
      const from = before[group]![at]!;
      const to = after[group]![at]!;
      const [fromJson, toJson] = [stableJson(from), stableJson(to)];
      if (fromJson === toJson) return;
      changed++;
      const key = `${one.query}\0${fromJson}\0${toJson}`;
      const known = transitions.get(key);
      if (known) known.count++;
      else transitions.set(key, { query: one.query, from: shown(from), to: shown(to), count: 1 });
      if (examples.length < maxExamples) examples.push({ index, query: one.query, input: one.input, from: shown(from), to: shown(to), ...(one.decision ? { decision: one.decision } : {}) });
    });
    const ranked = [...transitions.values()].sort((a, b) => b.count - a.count);
    return {
      evaluated: cases.length, changed, unchanged: cases.length - changed,
      transitions: ranked.slice(0, MAX_TRANSITIONS), otherTransitions: Math.max(0, ranked.length - MAX_TRANSITIONS), examples, evaluateMs,
    };
  }
}

/** Cases grouped by query (one data reference per group in the batch), and where each case landed. */
function groupByQuery(cases: readonly ImpactCase[]): { groups: EvaluationGroup[]; positions: Array<[number, number]> } {
  const indexOf = new Map<string, number>();
  const groups: Array<{ query: string; inputs: unknown[] }> = [];
  const positions = cases.map((one): [number, number] => {
    let group = indexOf.get(one.query);
    if (group === undefined) {
      group = groups.push({ query: one.query, inputs: [] }) - 1;
      indexOf.set(one.query, group);
    }
    return [group, groups[group]!.inputs.push(one.input) - 1];
  });
  return { groups, positions };
}

/** JSON with object keys sorted, so equal values compare equal whatever order OPA wrote their keys in. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${stableJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** An outcome as reported: large values by their size and digest. */
function shown(outcome: ImpactOutcome): ImpactOutcome {
  if (!outcome.defined) return outcome;
  const json = stableJson(outcome.result);
  if (json.length <= MAX_SHOWN_VALUE) return outcome;
  return { defined: true, result: { omitted: true, bytes: json.length, sha256: createHash('sha256').update(json).digest('hex') } };
}

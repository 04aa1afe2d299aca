import type { BlobReader } from '../bundles/bundle-builder.js';
import { candidateTreeOf } from '../candidates/candidate-tree.js';
import { evaluableFiles, type CompiledTree } from '../candidates/compiled-tree.js';
import { planMergeOnto, toFileChanges } from '../change-requests/change-request-merge.js';
import { isRegentError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PolicyStore, Revision, TreeEntry } from '../store/policy-store.js';
import type { DecisionChanges, ImpactAnalysis } from './impact-analysis.js';

/** A change request's impact on the fleet's recent decisions, or why there is none to show. */
export type ChangeRequestImpactView =
  | ({
    state: 'ready';
    /** The head the change request was merged onto, and its tip. */
    head: Revision;
    tip: Revision;
    /** The decisions replayed: made between `since` and `until`, at most `limit` (the newest). */
    since: string;
    until: string;
    limit: number;
    matched: number;
    truncated: boolean;
    skipped: Record<string, number>;
    computedAt: string;
  } & DecisionChanges)
  | { state: 'unavailable'; reason: string; message: string }
  | { state: 'not_applicable'; reason: 'merge_conflict' | 'closed' };

export interface ChangeRequestImpactOptions {
  store: PolicyStore;
  /** The compile steps (the candidate check's): what OPA evaluates is the compiled tree. */
  compile(entries: readonly TreeEntry[], readBlobs: BlobReader): Promise<CompiledTree>;
  analysis: ImpactAnalysis;
  /** The decisions replayed: those of the last `hours`, at most `maxDecisions`; `examples` shown at most. */
  window: { hours: number; maxDecisions: number; examples: number };
  logger: Logger;
  now?: () => Date;
}

const CACHE_ENTRIES = 32;
const CACHE_MS = 5 * 60_000;

/**
 * What a change request would do to the decisions the fleet made in the last day: the request merged
 * onto the current head (as it would be merged) against head itself, replayed by real OPA on both. Shown
 * with the request (`GET /api/change-requests/<id>`), computed on demand and kept for a few minutes per
 * (head, tip), so reading a request often costs one analysis. Never fails the read: without a decision
 * log, or when OPA is busy, the view says why (`unavailable`).
 */
export class ChangeRequestImpact {
  private readonly cache = new Map<string, { at: number; view: Promise<ChangeRequestImpactView> }>();

  private constructor(private readonly options: ChangeRequestImpactOptions) {}

  static create(options: ChangeRequestImpactOptions): ChangeRequestImpact {
    return new ChangeRequestImpact(options);
  }

  /** The impact of an open change request (`open`: not merged or rejected) on the current head. */
  async of(request: { baseRevision: Revision; tip: Revision; open: boolean }): Promise<ChangeRequestImpactView> {
    if (!request.open) return { state: 'not_applicable', reason: 'closed' };
    if (!this.options.analysis.hasDecisionLog) {
      return { state: 'unavailable', reason: 'decision_log_unavailable', message: 'this Regent keeps no decision logs, so there are no recorded decisions to replay' };
    }
    const head = await this.options.store.head();
    if (!head) return { state: 'unavailable', reason: 'revision_not_found', message: 'the store is empty' };
    const key = `${head}:${request.tip}`;
    const now = Date.now();
    const known = this.cache.get(key);
    if (known && now - known.at < CACHE_MS) return known.view;
    const view = this.compute(request, head);
    this.cache.delete(key);
    this.cache.set(key, { at: now, view });
    if (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    const settled = await view;
    // Only an analysis is kept: a failure to make one (OPA busy) is tried again at the next read.
    if (settled.state === 'unavailable') this.cache.delete(key);
    return settled;
  }

  private async compute(request: { baseRevision: Revision; tip: Revision }, head: Revision): Promise<ChangeRequestImpactView> {
    const { store, compile, analysis, window } = this.options;
    try {
      const plan = await planMergeOnto(store, request.baseRevision, request.tip, head);
      if (plan.conflicts.length > 0) return { state: 'not_applicable', reason: 'merge_conflict' };
      const changes = await toFileChanges(store, plan);
      const until = (this.options.now ?? (() => new Date()))();
      const since = new Date(until.getTime() - window.hours * 3_600_000);
      const candidate = await candidateTreeOf(store, head, changes);
      const [headFiles, candidateFiles, recorded] = await Promise.all([
        store.listTree(head).then((entries) => compile(entries, (ids) => store.readBlobs(ids))).then(evaluableFiles),
        compile(candidate.entries, candidate.readBlobs).then(evaluableFiles),
        analysis.recorded({ since, until, limit: window.maxDecisions }),
      ]);
      const compared = await analysis.compare(headFiles, candidateFiles, recorded.cases, window.examples);
      return {
        state: 'ready', head, tip: request.tip, since: since.toISOString(), until: until.toISOString(), limit: window.maxDecisions,
        matched: recorded.matched, truncated: recorded.truncated, skipped: recorded.skipped, computedAt: new Date().toISOString(), ...compared,
      };
    } catch (error) {
      const reason = isRegentError(error) ? error.code : 'internal_error';
      if (reason === 'internal_error') this.options.logger.error({ err: error, tip: request.tip, head }, 'change request impact failed');
      return { state: 'unavailable', reason, message: isRegentError(error) ? error.message : 'the impact could not be computed; see the server log' };
    }
  }
}

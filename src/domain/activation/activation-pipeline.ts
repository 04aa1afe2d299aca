import type { BuiltBundle, BundleBuilder } from '../bundles/bundle-builder.js';
import { CandidateCheckUnavailable, type CandidateCheck } from '../candidates/candidate-check.js';
import { builderProblem } from '../candidates/candidate-findings.js';
import type { GateProblem } from '../candidates/policy-gate.js';
import { BuildError, isRegentError, UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Revision } from '../store/policy-store.js';
import type { ActivationStateStore } from './activation-state-store.js';
import type { BundlePublisher, PublishedRevision } from './bundle-publisher.js';
import { RetryBackoff } from './retry-backoff.js';
import type { RevisionSource } from './revision-source.js';

export type ActivationStep = 'snapshot' | 'compile' | 'gate' | 'build' | 'publish';

export interface ActivationFailure {
  revision: Revision;
  step: ActivationStep;
  code: string;
  /** True for a verdict on the revision (OPA's or the builder's findings); false when none could be had. */
  verdict: boolean;
  /** When no verdict could be had: the attempt that failed and when the next one starts. */
  retry?: { attempt: number; at: string };
  message: string;
  details?: Record<string, unknown>;
  problems?: GateProblem[];
  at: string;
}

export interface ActivationSuccess {
  revision: Revision;
  at: string;
  timings: Record<'snapshotMs' | 'gateMs' | 'buildMs' | 'publishMs' | 'totalMs', number>;
  bundles: string[];
}

/** What became of a revision a writer waits for (see {@link ActivationPipeline.awaitOutcome}). */
export interface ActivationOutcome {
  state: 'active' | 'rejected' | 'retrying' | 'superseded' | 'pending';
  failure?: ActivationFailure;
}

/**
 * `activated` is sent once the catalog swap served the revision (the commit point); it carries the
 * bundles served, for whatever runs after it (publishing to S3 and OCI sinks), which reports its own
 * state and never changes the revision's verdict.
 */
export type ActivationEvent = { type: 'activated'; result: ActivationSuccess; published: PublishedRevision } | { type: 'rejected'; failure: ActivationFailure };

export interface ActivationStatus {
  /** The revision the source names (HEAD of the tracked branch, or an environment's ref) as last seen. */
  head?: Revision;
  /** The revision being served. */
  active?: Revision;
  activatedAt?: string;
  /** True when head is not the active revision (failing, or still activating). */
  headDiffersFromActive: boolean;
  inProgress?: Revision;
  lastFailure?: ActivationFailure;
  lastSuccess?: ActivationSuccess;
}

export interface ActivationPipelineOptions {
  /** Backoff of retries after an infrastructure failure: first delay, doubling up to the maximum. */
  retry?: { initialMs: number; maxMs: number };
  /** Where revisions come from: the tracked branch, or an environment's ref. */
  store: RevisionSource;
  /** Compile steps, real OPA and the builder's check: the verdict on a revision. */
  check: CandidateCheck;
  /** Packages what passed: signs, packs and self-verifies every bundle. */
  builder: BundleBuilder;
  /**
   * The in-memory catalog that serves `/bundles/...`: its swap is the commit point. Sinks outside the
   * process (S3, OCI) are not publishers here: they follow the `activated` event.
   */
  catalog: BundlePublisher;
  state: ActivationStateStore;
  logger: Logger;
}

class StepFailure extends Error {
  constructor(readonly step: ActivationStep, readonly failure: unknown, readonly problems?: GateProblem[]) {
    super(`activation step ${step} failed`);
  }
}

/**
 * Moves the fleet to a new head: snapshot the tree, check it (compile specs, real OPA beside the
 * builder's check: {@link CandidateCheck}), package and sign every bundle of what passed, self-verify,
 * remember it as last good, publish atomically. One activation runs at a time; heads that
 * arrive meanwhile coalesce, so the newest head is activated next and stale intermediates are skipped.
 * A revision that fails any step is not served: the last good revision stays, and the failure is
 * reported in the status and the log (and to listeners, e.g. the audit log).
 */
export class ActivationPipeline {
  private head: Revision | undefined;
  private active: PublishedRevision | undefined;
  private inProgress: Revision | undefined;
  private pending: Revision | undefined;
  private running: Promise<void> | undefined;
  private lastFailure: ActivationFailure | undefined;
  private lastSuccess: ActivationSuccess | undefined;
  private readonly rejected = new Set<Revision>();
  private readonly retries: RetryBackoff;
  /** The last good revision from before a restart: activated first, and again while nothing is served. */
  private startRevision: Revision | undefined;
  /** The start revision is wanted (nothing is served); kept apart from `pending`, which only holds heads. */
  private fallbackWanted = false;
  private readonly fallbackRetries: RetryBackoff;
  private readonly listeners = new Set<(event: ActivationEvent) => void>();
  private unsubscribe: (() => void) | undefined;

  private constructor(private readonly options: ActivationPipelineOptions) {
    this.retries = new RetryBackoff(options.retry ?? { initialMs: 1000, maxMs: 30_000 });
    this.fallbackRetries = new RetryBackoff(options.retry ?? { initialMs: 1000, maxMs: 30_000 });
  }

  static create(options: ActivationPipelineOptions): ActivationPipeline {
    return new ActivationPipeline(options);
  }

  /**
   * Activates the last good revision from before a restart (so serving resumes even when head fails),
   * then the current head, and follows head from then on.
   */
  async start(): Promise<void> {
    this.unsubscribe = this.options.store.onHeadChange((head) => {
      if (head) this.schedule(head);
    });
    const saved = await this.options.state.load();
    this.head = await this.options.store.head();
    if (saved.lastGoodRevision && saved.lastGoodRevision !== this.head) {
      this.startRevision = saved.lastGoodRevision;
      this.wantFallback();
      await this.idle();
    }
    if (this.head) this.schedule(this.head);
    await this.idle();
  }

  stop(): void {
    this.unsubscribe?.();
    this.retries.cancel();
    this.fallbackRetries.cancel();
  }

  onEvent(listener: (event: ActivationEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when nothing is activating or queued. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Waits until `revision` is active, was rejected, could not be checked (`retrying`: no verdict yet, it
   * is tried again with backoff), or was superseded by a newer head; `pending` when none of these
   * happened within `timeoutMs`.
   */
  async awaitOutcome(revision: Revision, timeoutMs: number): Promise<ActivationOutcome> {
    const now = (): ActivationOutcome | undefined => {
      if (this.active?.revision === revision) return { state: 'active' };
      const failure = this.lastFailure?.revision === revision ? this.lastFailure : undefined;
      if (this.rejected.has(revision)) return { state: 'rejected', failure };
      if (failure && !failure.verdict) return { state: 'retrying', failure };
      return undefined;
    };
    const settled = now();
    if (settled) return settled;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        unsubscribe();
        resolve({ state: 'pending' });
      }, timeoutMs);
      const unsubscribe = this.onEvent((event) => {
        const result = now() ?? (event.type === 'activated' && this.head !== revision ? { state: 'superseded' as const } : undefined);
        if (result) {
          clearTimeout(timer);
          unsubscribe();
          resolve(result);
        }
      });
    });
  }

  status(): ActivationStatus {
    return {
      head: this.head,
      active: this.active?.revision,
      activatedAt: this.active?.publishedAt.toISOString(),
      headDiffersFromActive: this.head !== this.active?.revision,
      inProgress: this.inProgress,
      lastFailure: this.lastFailure,
      lastSuccess: this.lastSuccess,
    };
  }

  /** Queues `revision` for activation (the newest queued wins). */
  schedule(revision: Revision, options: { isHead?: boolean } = {}): void {
    if (options.isHead ?? true) this.head = revision;
    this.retries.supersede(revision);
    this.pending = revision;
    this.kick();
  }

  /** Asks for the start revision while nothing is served, without displacing a queued head. */
  private wantFallback(): void {
    if (this.active || !this.startRevision || this.rejected.has(this.startRevision)) return;
    this.fallbackWanted = true;
    this.kick();
  }

  private kick(): void {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** The next revision to try: the start revision first while nothing is served, then the newest head. */
  private next(): Revision | undefined {
    if (this.fallbackWanted && !this.active && this.startRevision) {
      this.fallbackWanted = false;
      return this.startRevision;
    }
    this.fallbackWanted = false;
    const revision = this.pending;
    this.pending = undefined;
    return revision;
  }

  private async drain(): Promise<void> {
    for (let revision = this.next(); revision !== undefined; revision = this.next()) {
      if (revision === this.active?.revision || this.rejected.has(revision)) continue;
      this.inProgress = revision;
      try {
        await this.activate(revision);
      } finally {
        this.inProgress = undefined;
      }
    }
  }

  private async activate(revision: Revision): Promise<void> {
    const { store, check, builder, catalog, logger } = this.options;
    const log = logger.child({ revision });
    const started = performance.now();
    let mark = started;
    const lap = (): number => {
      const now = performance.now();
      const elapsed = now - mark;
      mark = now;
      return Math.round(elapsed * 10) / 10;
    };
    try {
      const entries = await this.step('snapshot', () => store.listTree(revision));
      const listMs = lap();
      // A verdict from any part of the check rejects the revision (root cause first); without a verdict
      // from OPA (and no refusal from the compile step or the builder) nothing is served.
      const report = await check.check({ entries, readBlobs: (ids) => store.readBlobs(ids), priority: 'activation', revision }).catch((error: unknown) => {
        throw error instanceof CandidateCheckUnavailable ? new StepFailure(error.step, error.reason) : new StepFailure('build', error);
      });
      if (!report.ok) {
        const refusal = report.refusal!;
        throw new StepFailure(refusal.step, refusal.error ?? new Error(`OPA rejected revision ${revision}`), report.problems);
      }
      // snapshot: listing, reading and compiling; gate: OPA's part; build: the rest of the check and packaging.
      const snapshotMs = Math.round((listMs + report.timings.readMs) * 10) / 10;
      const checkMs = lap() - report.timings.readMs;
      const gateMs = report.gate?.durationMs ?? 0;
      const built = await this.step('build', () => builder.package(revision, report.checked!));
      const buildMs = Math.round((checkMs + lap()) * 10) / 10;
      const published: PublishedRevision = {
        revision,
        bundles: new Map(built.map((bundle: BuiltBundle) => [bundle.name, bundle])),
        publishedAt: new Date(),
      };
      // Remembered as last good before it is served: a state directory that cannot be written fails the
      // activation before the fleet sees the revision, and it is retried like any infrastructure failure.
      await this.step('publish', async () => {
        try {
          await this.options.state.save({ lastGoodRevision: revision });
        } catch (error) {
          throw new UnavailableError('state_unwritable', `cannot record revision ${revision} as last good: ${(error as Error).message}`, {}, { cause: error });
        }
        await catalog.publish(published);
        this.active = published;
      });
      const publishMs = lap();
      const result: ActivationSuccess = {
        revision,
        at: published.publishedAt.toISOString(),
        timings: { snapshotMs, gateMs, buildMs, publishMs, totalMs: Math.round((performance.now() - started) * 10) / 10 },
        bundles: [...published.bundles.keys()],
      };
      this.lastSuccess = result;
      this.retries.forget(revision);
      // A failure stays on show only while it explains why head is not active.
      if (this.lastFailure && (this.lastFailure.revision === revision || this.lastFailure.revision !== this.head)) this.lastFailure = undefined;
      log.info({ ...result.timings, gateCached: report.gate?.cached === true, generated: report.generated.length, bundles: result.bundles, etags: built.map((b) => b.etag) }, 'revision activated');
      this.emit({ type: 'activated', result, published });
    } catch (error) {
      const failure = this.describeFailure(revision, error);
      if (failure.verdict) {
        // Gate and build verdicts are deterministic for a revision: it is not tried again.
        this.rejected.add(revision);
        this.retries.forget(revision);
      } else if (revision === this.startRevision && revision !== this.head) {
        // The last good revision could not be checked at start: retried on its own backoff while nothing
        // is served, whatever happens to head meanwhile.
        const retry = this.fallbackRetries.plan(revision, slowCause(failure));
        failure.retry = { attempt: retry.attempt, at: new Date(Date.now() + retry.delayMs).toISOString() };
        retry.start(() => this.wantFallback());
      } else {
        // No verdict (OPA missing, silent, crashed, busy; state not writable): never served, never
        // remembered as a verdict, and tried again with backoff while it is still the revision to activate.
        const retry = this.retries.plan(revision, slowCause(failure));
        failure.retry = { attempt: retry.attempt, at: new Date(Date.now() + retry.delayMs).toISOString() };
        retry.start(() => {
          if (revision === this.head) this.schedule(revision);
        });
      }
      // Nothing served (OPA was down at start, head is refused or cannot be checked): fall back to the
      // last good revision, which passed the gate before the restart.
      if (revision !== this.startRevision) this.wantFallback();
      this.lastFailure = failure;
      log.error({ step: failure.step, code: failure.code, reason: failure.message, problems: failure.problems, details: failure.details, retry: failure.retry, active: this.active?.revision }, failure.verdict ? 'revision rejected; the last good revision stays active' : 'revision not activated: no verdict; the last good revision stays active and the check is retried');
      this.emit({ type: 'rejected', failure });
    }
  }

  private async step<T>(step: ActivationStep, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw error instanceof StepFailure ? error : new StepFailure(step, error);
    }
  }

  /**
   * A verdict is OPA's findings or the builder's: deterministic for the revision. Everything else is an
   * infrastructure failure: `gate_unavailable` when the gate gave no verdict (with OPA's own reason in
   * `details.cause`), or the error's own code.
   */
  private describeFailure(revision: Revision, error: unknown): ActivationFailure {
    const stepFailure = error instanceof StepFailure ? error : new StepFailure('build', error);
    const cause = stepFailure.failure;
    const at = new Date().toISOString();
    if (stepFailure.problems && (stepFailure.step === 'build' || stepFailure.step === 'compile') && isRegentError(cause)) {
      return { revision, step: stepFailure.step, code: cause.code, verdict: true, message: cause.message, details: cause.details, problems: stepFailure.problems, at };
    }
    if (stepFailure.problems) {
      const first = stepFailure.problems[0];
      return { revision, step: 'gate', code: 'gate_failed', verdict: true, message: first ? `${first.file ?? ''}${first.line ? `:${first.line}` : ''} ${first.message}`.trim() : 'OPA rejected the revision', problems: stepFailure.problems, at };
    }
    if (cause instanceof BuildError) {
      return { revision, step: stepFailure.step, code: cause.code, verdict: true, message: cause.message, details: cause.details, problems: [builderProblem(cause)], at };
    }
    const message = (cause as Error)?.message ?? String(cause);
    if (stepFailure.step === 'gate') {
      return { revision, step: 'gate', code: 'gate_unavailable', verdict: false, message, details: { cause: isRegentError(cause) ? cause.code : 'internal_error', ...(isRegentError(cause) ? cause.details : {}) }, at };
    }
    if (isRegentError(cause)) {
      return { revision, step: stepFailure.step, code: cause.code, verdict: false, message, details: cause.details, at };
    }
    return { revision, step: stepFailure.step, code: 'internal_error', verdict: false, message, at };
  }

  private emit(event: ActivationEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.logger.error({ err: error }, 'activation listener failed');
      }
    }
  }
}

/**
 * A check that ran out of time or memory is retried with a ten times longer backoff ceiling: it will most
 * likely run out again, and each attempt holds an OPA slot for its whole budget.
 */
function slowCause(failure: ActivationFailure): number {
  const cause = failure.details?.cause;
  return cause === 'opa_timeout' || cause === 'opa_memory_limit' ? 10 : 1;
}

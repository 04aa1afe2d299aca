import type { PublishedRevision } from '../activation/bundle-publisher.js';
import { RetryBackoff } from '../activation/retry-backoff.js';
import { isRegentError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Revision } from '../store/policy-store.js';
import type { BundleSink, SinkKind } from './bundle-sink.js';

/** The default bundle set (the tracked branch's), as opposed to an environment's. */
export const DEFAULT_SET = '';

export interface SinkPublisherOptions {
  sink: BundleSink;
  /** Backoff after a failed attempt: first delay, doubling up to the maximum (jitter 50–100 %). */
  retry: { initialMs: number; maxMs: number };
  /** One bundle's publish (upload and "latest" move) is abandoned after this long, and retried. */
  timeoutMs: number;
  logger: Logger;
  random?: () => number;
}

export interface SinkError {
  code: string;
  message: string;
  /** The bundle (`rbac`, `prod/rbac`) and revision being published when it failed. */
  bundle: string;
  revision: Revision;
  at: string;
}

/** One bundle set's state at a sink. */
export interface SinkSetStatus {
  /** The revision whose bundles are all the sink's "latest", and when that was done. */
  lastPublished: { revision: Revision; at: string; bundles: string[] } | null;
  /** The revision waiting to be published (the newest activated; older ones are skipped), or null. */
  pending: Revision | null;
  /** Since when the set has been behind what is served. */
  pendingSince: string | null;
}

/** What `GET /status` shows for a sink (`sinks[]`); environments' sets under `environments`. */
export interface SinkStatus extends SinkSetStatus {
  name: string;
  kind: SinkKind;
  target: string;
  /** The last failure, until the next attempt that succeeds. */
  lastError: SinkError | null;
  /** Failed attempts in a row (0 after a success). */
  attempts: number;
  nextAttemptAt: string | null;
  environments?: Record<string, SinkSetStatus>;
}

/** Counters for metrics (monotonic unless said otherwise). */
export interface SinkStats {
  name: string;
  kind: SinkKind;
  /** Bundles written (revision object and latest), and their bytes. */
  bundlesPublished: number;
  bytesPublished: number;
  /** Failed attempts, all time. */
  failures: number;
  /** Gauge: failed attempts in a row. */
  attempts: number;
  /** Gauge: bundle sets behind what is served. */
  pendingSets: number;
  /** Gauge: seconds the oldest pending set has been behind (0 when none). */
  pendingSeconds: number;
  /** Epoch milliseconds of the last set completed, or undefined. */
  lastPublishedAt?: number;
  /** How long the last completed set took, in seconds. */
  lastPublishSeconds?: number;
}

interface SetProgress {
  wanted: PublishedRevision;
  done?: { revision: Revision; at: Date; bundles: string[] };
  /** SHA-256 of the bundles of `wanted` already written, so a retry resumes after them. */
  written: Set<string>;
  pendingSince?: Date;
}

/**
 * Publishes every activated bundle set to one sink, after the catalog swap and outside the activation:
 * a sink that is slow or down never delays serving, and its failure never touches a revision's verdict.
 * It works through one set at a time, always towards the newest activated revision (revisions
 * activated while it was busy or down are skipped, never published out of order), retrying with
 * backoff until the sink takes it. It keeps at most the revision being written and the newest one
 * per set: what it holds is bounded whatever the number of commits while the sink is down.
 */
export class SinkPublisher {
  private readonly sets = new Map<string, SetProgress>();
  private readonly retries: RetryBackoff;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private waitingForRetry = false;
  private stopped = false;
  private lastError: SinkError | undefined;
  private attempts = 0;
  private nextAttemptAt: Date | undefined;
  private readonly counters = { bundlesPublished: 0, bytesPublished: 0, failures: 0, lastPublishedAt: undefined as number | undefined, lastPublishSeconds: undefined as number | undefined };

  private constructor(private readonly options: SinkPublisherOptions) {
    this.retries = new RetryBackoff(options.retry, options.random);
  }

  static create(options: SinkPublisherOptions): SinkPublisher {
    return new SinkPublisher(options);
  }

  get name(): string {
    return this.options.sink.name;
  }

  /** A set's revision was activated (`set` is an environment's name, or {@link DEFAULT_SET}). */
  offer(set: string, published: PublishedRevision): void {
    if (this.stopped) return;
    const progress = this.sets.get(set);
    if (progress) {
      progress.wanted = published;
      if (progress.done?.revision !== published.revision) progress.pendingSince ??= new Date();
    } else {
      this.sets.set(set, { wanted: published, written: new Set(), pendingSince: new Date() });
    }
    this.kick();
  }

  /** Stops retrying and abandons a publish in flight (nothing half-written becomes "latest"). */
  stop(): void {
    this.stopped = true;
    this.retries.cancel();
    this.abort.abort(new Error('Regent is stopping'));
  }

  /** Resolves when no publish is running (a retry may still be due). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  status(): SinkStatus {
    const { sink } = this.options;
    const environments: Record<string, SinkSetStatus> = {};
    for (const set of [...this.sets.keys()].sort()) if (set !== DEFAULT_SET) environments[set] = setStatus(this.sets.get(set)!);
    const main = this.sets.get(DEFAULT_SET);
    return {
      name: sink.name,
      kind: sink.kind,
      target: sink.target,
      ...(main ? setStatus(main) : { lastPublished: null, pending: null, pendingSince: null }),
      lastError: this.lastError ?? null,
      attempts: this.attempts,
      nextAttemptAt: this.waitingForRetry && this.nextAttemptAt ? this.nextAttemptAt.toISOString() : null,
      ...(Object.keys(environments).length > 0 ? { environments } : {}),
    };
  }

  stats(): SinkStats {
    const { sink } = this.options;
    const pending = [...this.sets.values()].filter((progress) => progress.done?.revision !== progress.wanted.revision);
    const oldest = Math.min(...pending.map((progress) => progress.pendingSince?.getTime() ?? Date.now()));
    return {
      name: sink.name,
      kind: sink.kind,
      bundlesPublished: this.counters.bundlesPublished,
      bytesPublished: this.counters.bytesPublished,
      failures: this.counters.failures,
      attempts: this.attempts,
      pendingSets: pending.length,
      pendingSeconds: pending.length > 0 ? Math.max(0, (Date.now() - oldest) / 1000) : 0,
      ...(this.counters.lastPublishedAt !== undefined ? { lastPublishedAt: this.counters.lastPublishedAt, lastPublishSeconds: this.counters.lastPublishSeconds } : {}),
    };
  }

  private kick(): void {
    if (this.running || this.waitingForRetry || this.stopped) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
  }

  private async drain(): Promise<void> {
    const { sink, logger } = this.options;
    for (;;) {
      const next = [...this.sets.entries()].find(([, progress]) => progress.done?.revision !== progress.wanted.revision);
      if (!next || this.stopped) return;
      const [set, progress] = next;
      const target = progress.wanted;
      const started = performance.now();
      const bundles = [...target.bundles.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      let current = '';
      try {
        for (const bundle of bundles) {
          // A newer revision of this set was activated meanwhile: go straight to it.
          if (progress.wanted !== target || this.stopped) break;
          const sha256 = bundle.etag.replaceAll('"', '');
          if (progress.written.has(sha256)) continue;
          current = set === DEFAULT_SET ? bundle.name : `${set}/${bundle.name}`;
          const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.timeoutMs)]);
          await sink.publish({ path: current, revision: target.revision, bytes: bundle.tarball, sha256 }, signal);
          progress.written.add(sha256);
          this.counters.bundlesPublished += 1;
          this.counters.bytesPublished += bundle.tarball.length;
        }
      } catch (error) {
        if (this.stopped) return;
        this.fail(error, current, target.revision);
        return;
      }
      // To the back of the queue, done or superseded: a set that keeps changing cannot starve the others.
      this.sets.delete(set);
      this.sets.set(set, progress);
      if (progress.wanted !== target || this.stopped) continue;
      const seconds = (performance.now() - started) / 1000;
      progress.done = { revision: target.revision, at: new Date(), bundles: bundles.map((bundle) => (set === DEFAULT_SET ? bundle.name : `${set}/${bundle.name}`)) };
      progress.written = new Set();
      progress.pendingSince = undefined;
      this.counters.lastPublishedAt = progress.done.at.getTime();
      this.counters.lastPublishSeconds = seconds;
      if (this.attempts > 0) logger.info({ sink: sink.name, kind: sink.kind, attempts: this.attempts }, 'sink reachable again');
      this.attempts = 0;
      this.lastError = undefined;
      this.retries.forget('publish');
      logger.info({ sink: sink.name, kind: sink.kind, environment: set || undefined, revision: target.revision, bundles: progress.done.bundles, ms: Math.round(seconds * 1000) }, 'bundles published to sink');
    }
  }

  private fail(error: unknown, bundle: string, revision: Revision): void {
    const { sink, logger } = this.options;
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    const code = isRegentError(error) ? error.code : timedOut ? 'sink_timeout' : 'sink_unavailable';
    const message = timedOut ? `publishing ${bundle} took longer than ${this.options.timeoutMs} ms` : (error as Error)?.message ?? String(error);
    this.lastError = { code, message, bundle, revision, at: new Date().toISOString() };
    this.attempts += 1;
    this.counters.failures += 1;
    const retry = this.retries.plan('publish');
    this.nextAttemptAt = new Date(Date.now() + retry.delayMs);
    this.waitingForRetry = true;
    retry.start(() => {
      this.waitingForRetry = false;
      this.kick();
    });
    logger.warn({ sink: sink.name, kind: sink.kind, code, reason: message, bundle, revision, attempt: this.attempts, retryInMs: retry.delayMs }, 'publishing to sink failed; serving is not affected, retrying');
  }
}

function setStatus(progress: SetProgress): SinkSetStatus {
  const done = progress.done;
  const behind = done?.revision !== progress.wanted.revision;
  return {
    lastPublished: done ? { revision: done.revision, at: done.at.toISOString(), bundles: done.bundles } : null,
    pending: behind ? progress.wanted.revision : null,
    pendingSince: behind && progress.pendingSince ? progress.pendingSince.toISOString() : null,
  };
}

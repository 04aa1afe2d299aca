import type { Logger } from '../logger.js';

/** Why a sync was asked for. */
export type SyncTrigger = 'start' | 'cron' | 'webhook' | 'admin' | 'retry';

export interface SyncSchedulerOptions {
  /** One sync; rejects on failure (retried with backoff). */
  run: () => Promise<void>;
  /** First retry delay after a failure (ms); doubles per consecutive failure. */
  backoffInitialMs: number;
  /** Cap on the retry delay (ms). */
  backoffMaxMs: number;
  logger: Logger;
  /** Jitter source in [0, 1); `Math.random` by default. */
  random?: () => number;
}

export interface SyncSchedulerState {
  running: boolean;
  queued: boolean;
  /** Syncs started so far. */
  runs: number;
  consecutiveFailures: number;
  /** When the next automatic retry is due, after a failure. */
  nextRetryAt?: Date;
  requests: Record<SyncTrigger, number>;
}

/**
 * Runs syncs one at a time: at most one in flight plus one queued, however many webhooks, cron ticks and
 * admins ask meanwhile (the queued one coalesces them all, and runs after the current one so that a
 * change announced mid-fetch is not missed). A failed sync is retried on its own after an exponential
 * backoff with jitter (half to full delay), capped; any request in the meantime runs at once.
 */
export class SyncScheduler {
  private running: Promise<void> | undefined;
  private queued = false;
  private stopped = false;
  private runs = 0;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private nextRetryAt: Date | undefined;
  private readonly requests: Record<SyncTrigger, number> = { start: 0, cron: 0, webhook: 0, admin: 0, retry: 0 };

  private constructor(private readonly options: SyncSchedulerOptions) {}

  static create(options: SyncSchedulerOptions): SyncScheduler {
    return new SyncScheduler(options);
  }

  /** Asks for a sync; returns at once. */
  request(trigger: SyncTrigger): void {
    if (this.stopped) return;
    this.requests[trigger] += 1;
    if (this.running) {
      this.queued = true;
      return;
    }
    this.launch();
  }

  /** Asks for a sync and resolves once a sync that started after this call has finished (never rejects). */
  async requestAndWait(trigger: SyncTrigger): Promise<void> {
    // The run that answers this call: the one launched now, or, when one is in flight, the queued one
    // after it. Later runs (more webhooks, cron ticks) are not waited for, so a stream of requests
    // cannot keep the caller waiting.
    const target = this.runs + 1;
    this.request(trigger);
    while (this.running && this.runs <= target) await this.running;
  }

  state(): SyncSchedulerState {
    return {
      running: this.running !== undefined,
      queued: this.queued,
      runs: this.runs,
      consecutiveFailures: this.failures,
      nextRetryAt: this.nextRetryAt,
      requests: { ...this.requests },
    };
  }

  /** No new syncs; resolves when the one in flight has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queued = false;
    clearTimeout(this.retryTimer);
    while (this.running) await this.running;
  }

  private launch(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.nextRetryAt = undefined;
    this.runs += 1;
    this.running = this.options.run().then(
      () => {
        this.failures = 0;
      },
      (error: unknown) => {
        this.failures += 1;
        this.options.logger.warn({ err: error, consecutiveFailures: this.failures }, 'remote sync failed');
      },
    ).finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.queued) {
        this.queued = false;
        this.launch();
      } else if (this.failures > 0) {
        this.scheduleRetry();
      }
    });
  }

  private scheduleRetry(): void {
    const { backoffInitialMs, backoffMaxMs } = this.options;
    const full = Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.min(this.failures - 1, 30));
    const delay = Math.round(full * (0.5 + 0.5 * (this.options.random ?? Math.random)()));
    this.nextRetryAt = new Date(Date.now() + delay);
    this.retryTimer = setTimeout(() => this.request('retry'), delay);
    this.retryTimer.unref();
  }
}

import type { BuiltBundle } from '../../domain/bundles/bundle-builder.js';
import type { Logger } from '../../domain/logger.js';

/** A held long-poll request. Exactly one of `release`/`expire` is called, unless it was cancelled. */
export interface Waiter {
  bundle: string;
  /** The ETag the agent already has. */
  etag: string;
  release(next: BuiltBundle): void;
  expire(): void;
}

interface Entry extends Waiter {
  timer: NodeJS.Timeout;
  settled: boolean;
}

export interface LongPollWaitersOptions {
  /** Waiters answered per event-loop turn when a bundle changes. */
  batchSize: number;
  logger: Logger;
}

/**
 * Requests held until their bundle changes or their wait runs out. When a new revision is published the
 * matching waiters are answered in batches, one batch per event-loop turn, so ten thousand agents do
 * not block the loop (and health checks, and other bundles) for seconds.
 */
export class LongPollWaiters {
  private readonly byBundle = new Map<string, Set<Entry>>();
  private count = 0;
  /** Held requests since start, by how they ended (read by `/metrics`). */
  readonly outcomes = { held: 0, released: 0, expired: 0, cancelled: 0 };

  private constructor(private readonly options: LongPollWaitersOptions) {}

  static create(options: LongPollWaitersOptions): LongPollWaiters {
    return new LongPollWaiters(options);
  }

  get size(): number {
    return this.count;
  }

  /** Holds `waiter` for `holdMs`; returns a cancel function for when the client goes away. */
  hold(waiter: Waiter, holdMs: number): () => void {
    const entry = waiter as Entry;
    entry.settled = false;
    let set = this.byBundle.get(waiter.bundle);
    if (!set) {
      set = new Set();
      this.byBundle.set(waiter.bundle, set);
    }
    set.add(entry);
    this.count++;
    this.outcomes.held++;
    entry.timer = setTimeout(() => {
      if (this.settle(entry)) {
        this.outcomes.expired++;
        entry.expire();
      }
    }, holdMs);
    return () => {
      if (this.settle(entry)) this.outcomes.cancelled++;
    };
  }

  /** Answers every waiter of the changed bundles whose ETag differs from the new one. */
  release(changed: readonly BuiltBundle[]): void {
    const due: Array<{ entry: Entry; bundle: BuiltBundle }> = [];
    for (const bundle of changed) {
      const set = this.byBundle.get(bundle.name);
      if (!set) continue;
      for (const entry of set) if (entry.etag !== bundle.etag) due.push({ entry, bundle });
    }
    if (due.length === 0) return;
    const started = performance.now();
    const { batchSize, logger } = this.options;
    let index = 0;
    const next = (): void => {
      const end = Math.min(index + batchSize, due.length);
      for (; index < end; index++) {
        const { entry, bundle } = due[index]!;
        if (this.settle(entry)) {
          this.outcomes.released++;
          entry.release(bundle);
        }
      }
      if (index < due.length) setImmediate(next);
      else logger.info({ released: due.length, ms: Math.round(performance.now() - started) }, 'long-poll waiters released');
    };
    next();
  }

  /** Answers every waiter now as expired (graceful shutdown). */
  expireAll(): void {
    for (const set of this.byBundle.values()) {
      for (const entry of [...set]) {
        if (this.settle(entry)) {
          this.outcomes.expired++;
          entry.expire();
        }
      }
    }
  }

  private settle(entry: Entry): boolean {
    if (entry.settled) return false;
    entry.settled = true;
    clearTimeout(entry.timer);
    const set = this.byBundle.get(entry.bundle);
    set?.delete(entry);
    if (set && set.size === 0) this.byBundle.delete(entry.bundle);
    this.count--;
    return true;
  }
}

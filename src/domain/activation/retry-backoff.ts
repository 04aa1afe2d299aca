/**
 * Retries of one revision after infrastructure failures: the delay starts at `initialMs` and doubles up
 * to `maxMs`, with jitter (50–100 %) so replicas and environments do not retry in step. A different
 * revision supersedes the one being retried (its timer is cancelled and the count starts over).
 */
export class RetryBackoff {
  private revision: string | undefined;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: { initialMs: number; maxMs: number }, private readonly random: () => number = Math.random) {}

  /** Counts a failed attempt of `revision` and says when the next one is due; `start` arms the timer. */
  plan(revision: string, ceilingFactor = 1): { attempt: number; delayMs: number; start(run: () => void): void } {
    if (this.revision !== revision) {
      this.cancel();
      this.revision = revision;
      this.attempt = 0;
    }
    this.attempt += 1;
    const ceiling = Math.min(this.options.maxMs * ceilingFactor, this.options.initialMs * 2 ** Math.min(this.attempt - 1, 30));
    const delayMs = Math.round(ceiling * (0.5 + this.random() * 0.5));
    return {
      attempt: this.attempt,
      delayMs,
      start: (run) => {
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = undefined;
          run();
        }, delayMs);
        this.timer.unref?.();
      },
    };
  }

  /** A revision is scheduled: unless it is the one being retried, the retry is dropped. */
  supersede(revision: string): void {
    if (this.revision !== undefined && this.revision !== revision) this.forget(this.revision);
  }

  /** `revision` got a verdict or was activated: no more retries for it. */
  forget(revision: string): void {
    if (this.revision !== revision) return;
    this.cancel();
    this.revision = undefined;
    this.attempt = 0;
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * What the bundle endpoint answered, as plain numbers: the hot path adds one to a field (the unchanged
 * answer, 304, is the fleet's heartbeat), and `/metrics` reads them when scraped. No labels, no maps, no
 * allocation per request.
 */
export class BundleCounters {
  /** 304 answers (immediate or after holding a long poll). */
  notModified = 0;
  /** 200 answers (GET and HEAD). */
  ok = 0;
  /** Body bytes of the 200 answers (the bundles sent). */
  bytesSent = 0;
  /** Every other status (400, 404, 405, 503, 499 for a client gone while held), by status. */
  readonly others = new Map<number, number>();

  count(status: number, bytes: number): void {
    if (status === 304) this.notModified++;
    else if (status === 200) {
      this.ok++;
      this.bytesSent += bytes;
    } else this.others.set(status, (this.others.get(status) ?? 0) + 1);
  }

  /** What was counted since the last call, and the counters start again from zero (a worker's report). */
  drain(): BundleCountersDelta {
    const delta: BundleCountersDelta = { notModified: this.notModified, ok: this.ok, bytesSent: this.bytesSent, others: [...this.others] };
    this.notModified = 0;
    this.ok = 0;
    this.bytesSent = 0;
    this.others.clear();
    return delta;
  }

  /** Adds what another process counted (a worker's {@link drain}). */
  add(delta: BundleCountersDelta): void {
    this.notModified += delta.notModified;
    this.ok += delta.ok;
    this.bytesSent += delta.bytesSent;
    for (const [status, count] of delta.others) this.others.set(status, (this.others.get(status) ?? 0) + count);
  }
}

/** Counts of one process since its last report, as plain data (sent over IPC). */
export interface BundleCountersDelta {
  notModified: number;
  ok: number;
  bytesSent: number;
  others: Array<[status: number, count: number]>;
}

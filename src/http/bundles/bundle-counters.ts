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
}

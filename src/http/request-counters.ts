/** Requests answered by one Express route with one status, and their body bytes. */
export interface RouteCount {
  route: string;
  status: number;
  requests: number;
  bytes: number;
}

/** Routes × statuses kept at most; beyond, new pairs are counted under `route: '(other)'`. */
const MAX_PAIRS = 2000;

/**
 * Requests by matched route template (`/api/policies/*path`, never the raw path, so what a client sends
 * cannot grow the set) and status, counted as they complete and read by `/metrics` when scraped.
 */
export class RequestCounters {
  private readonly counts = new Map<string, RouteCount>();

  count(route: string, status: number, bytes: number): void {
    const key = `${status} ${route}`;
    let entry = this.counts.get(key);
    if (!entry) {
      const capped = this.counts.size >= MAX_PAIRS ? '(other)' : route;
      const cappedKey = `${status} ${capped}`;
      entry = this.counts.get(cappedKey);
      if (!entry) {
        entry = { route: capped, status, requests: 0, bytes: 0 };
        this.counts.set(cappedKey, entry);
      }
    }
    entry.requests++;
    entry.bytes += bytes;
  }

  entries(): Iterable<RouteCount> {
    return this.counts.values();
  }
}

export interface RefetchTrackerOptions {
  /** The first hold of a re-fetch; each further one in a row doubles it. */
  initialHoldMs: number;
  /** No hold is longer than this (the request's own `wait=` caps it further). */
  maxHoldMs: number;
  /** Clients (client × bundle) remembered at most; the one sent a bundle longest ago is forgotten first. */
  maxClients: number;
  /** A client that was sent nothing for this long is forgotten. */
  forgetAfterMs: number;
  /**
   * On another connection, a request counts as a re-fetch only this soon after the last download of the
   * client, and only when it names the same stale ETag as the request that got it (an OPA that fails to
   * activate a bundle and does not drain the body opens a new connection for every attempt).
   */
  newConnectionWindowMs: number;
  now?: () => number;
}

interface Sent {
  etag: string;
  /** The If-None-Match of the request that got it (`''` without one): what a failing client keeps sending. */
  stale: string;
  /** The connection it went out on: a re-fetch comes back on the same one (OPA keeps its connection open). */
  connection: number;
  sentAtMs: number;
  /** Re-fetches of this ETag held in a row: the next hold is `initialHoldMs * 2^level`. */
  level: number;
}

export interface RefetchStats {
  /** Re-fetches held since start. */
  held: number;
  /** Clients × bundles remembered. */
  clients: number;
  /** Of those, how many re-fetched the bundle they were sent at least once: clients failing to activate it. */
  refetching: number;
}

/**
 * Recognises an agent that keeps downloading the revision it was just sent. OPA that fails to activate
 * a bundle asks again at once with its old ETag (long polling skips the poll delay), and a plain answer
 * would be another full download, hundreds a second per failing agent. A client here is an agent
 * identity (or address and user agent) and a bundle; a request is a re-fetch when that client was sent
 * the current ETag and asks again without it: on the same connection (OPA keeps its connection when it
 * can), or on a new one within `newConnectionWindowMs` of the last download naming the same stale ETag
 * as before (an OPA that gives up on a body it could not use opens a new connection each time). Such a
 * request is held, the first time `initialHoldMs`, doubling each time in a row, up to `maxHoldMs`; a new
 * revision ends the hold at once. A client's first download is never held. Several agents sharing one
 * client (one token, or one address and OPA version behind NAT) can look like one: a second agent asking
 * for the same revision from the same stale state within the window is held too; one token per agent
 * avoids it.
 */
export class RefetchTracker {
  private readonly sent = new Map<string, Sent>();
  private heldCount = 0;

  private constructor(private readonly options: RefetchTrackerOptions) {}

  static create(options: RefetchTrackerOptions): RefetchTracker {
    return new RefetchTracker(options);
  }

  /**
   * How long to hold a request of `client` for `bundle` whose current ETag is `etag` and which the client
   * does not have (0: answer now). Counts the re-fetch when it holds.
   */
  holdFor(client: string, bundle: string, etag: string, connection: number, stale = ''): number {
    const key = `${client}\0${bundle}`;
    const entry = this.sent.get(key);
    if (!entry || entry.etag !== etag) return 0;
    const sinceMs = this.now() - entry.sentAtMs;
    if (sinceMs > this.options.forgetAfterMs) {
      this.sent.delete(key);
      return 0;
    }
    if (entry.connection !== connection && (entry.stale !== stale || sinceMs > this.options.newConnectionWindowMs)) return 0;
    const holdMs = Math.min(this.options.initialHoldMs * 2 ** Math.min(entry.level, 30), this.options.maxHoldMs);
    entry.level++;
    this.heldCount++;
    return holdMs;
  }

  /**
   * Records that `client` was sent `bundle` at `etag` on `connection` (a full download), asked for with
   * If-None-Match `stale` (`''` without one).
   */
  recordSent(client: string, bundle: string, etag: string, connection: number, stale = ''): void {
    const key = `${client}\0${bundle}`;
    const previous = this.sent.get(key);
    const level = previous && previous.etag === etag ? previous.level : 0;
    this.sent.delete(key);
    this.sent.set(key, { etag, stale, connection, sentAtMs: this.now(), level });
    while (this.sent.size > this.options.maxClients) this.sent.delete(this.sent.keys().next().value as string);
  }

  /** `client` asked again with the ETag it was sent: it took the bundle, so it is not failing any more. */
  confirmed(client: string, bundle: string, etag: string): void {
    const entry = this.sent.get(`${client}\0${bundle}`);
    if (entry && entry.etag === etag) entry.level = 0;
  }

  stats(): RefetchStats {
    let refetching = 0;
    for (const entry of this.sent.values()) if (entry.level > 0) refetching++;
    return { held: this.heldCount, clients: this.sent.size, refetching };
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}

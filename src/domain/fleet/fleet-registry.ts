import type { AgentRecord } from './agent-record.js';
import type { AgentStatusReport, ReportedBundle } from './agent-status-report.js';
import { failingAgents, type FailingAgentBundle } from './failing-agents.js';
import { summarizeConvergence, type FleetSummary, type ServedBundle, type TalliedAgent } from './fleet-convergence.js';

export type { AgentRecord } from './agent-record.js';
export type { BundleConvergence, ConvergenceTimes, FleetSummary, ServedBundle } from './fleet-convergence.js';
export type { FailingAgentBundle } from './failing-agents.js';

/**
 * Which served bundle an agent's bundle counts against: given what it reported (name, revision), the
 * partition it reports to and what the same agent's bundle was counted against last time. Undefined:
 * the name it reported.
 */
export type CountedAs = (bundle: ReportedBundle, partition: string | undefined, previous: string | undefined) => string | undefined;

/** An agent that does not enforce a bundle's served revision, and why, as far as it says. */
export interface Laggard {
  agentId: string;
  activeRevision?: string;
  code?: string;
  message?: string;
}

export type AgentView = AgentRecord & { stale: boolean };

export interface AgentPage {
  /** Agents in ascending `agentId` order, after the one named in the request. */
  agents: AgentView[];
  /** Agents remembered in all. */
  total: number;
  /** The last agent id of this page when more follow (pass it as `after` for the next page). */
  next?: string;
}

export interface FleetRegistryOptions {
  /** Agents remembered at most; the one heard from least recently is forgotten first. */
  maxAgents: number;
  /**
   * Bytes of agent records remembered at most, measured as their JSON in the snapshot file (each
   * record plus its separator): the snapshot is never larger than this plus its 26-byte frame. The
   * agent heard from least recently is forgotten first.
   */
  maxStoredBytes: number;
  /** An agent silent for longer is shown as stale and left out of the convergence figures. */
  staleAfterMs: number;
  /** Tells environments apart (see {@link CountedAs}); without it every bundle counts under its reported name. */
  countedAs?: CountedAs;
  now?: () => Date;
}

interface StoredAgent extends TalliedAgent {
  /** `JSON.stringify(record)` in UTF-8 bytes, plus one for the separator. */
  bytes: number;
}

/** How long a summary is reused while nothing was reported and Regent serves the same revisions. */
const SUMMARY_REUSE_MS = 1000;

/**
 * The fleet as its OPA agents report it (`POST /status`): per agent, the revision of each bundle it
 * enforces, when it last downloaded and activated, its last error; per bundle, how much of the fleet
 * runs what Regent serves and how long convergence took. Reports are claims by the agents, not proofs.
 * Bounded in agents and in bytes; read in pages ordered by agent id (stable while agents report), so
 * no answer grows with the fleet. {@link snapshot}/{@link restore} let the caller keep it on disk.
 */
export class FleetRegistry {
  /** By agent id, least recently reported first (the eviction order). */
  private readonly agents = new Map<string, StoredAgent>();
  /** Every agent id, sorted: the paging order. */
  private readonly ids: string[] = [];
  private storedBytes = 0;
  private changed = false;
  /** Counts every change to the stored agents, for the summary's reuse. */
  private version = 0;
  private lastSummary: { version: number; at: number; summary: FleetSummary; publishedAtMs: Map<string, number | undefined> } | undefined;

  private constructor(private readonly options: FleetRegistryOptions) {}

  static create(options: FleetRegistryOptions): FleetRegistry {
    return new FleetRegistry(options);
  }

  /** Agents remembered, and the bytes their records take in the snapshot (at most `maxStoredBytes`). */
  get size(): { agents: number; bytes: number } {
    return { agents: this.agents.size, bytes: this.storedBytes };
  }

  /** Stores an agent's report; `identity` is the agent credential it came with (its name), when one was required. */
  record(report: AgentStatusReport, identity?: string): void {
    const now = this.now().toISOString();
    const previous = this.agents.get(report.agentId);
    const countedAs = this.options.countedAs;
    const bundles = countedAs
      ? report.bundles.map((bundle) => {
        const before = previous?.record.bundles.find((old) => old.name === bundle.name);
        const as = countedAs(bundle, report.partition, before?.countedAs ?? before?.name);
        return as === undefined || as === bundle.name ? bundle : { ...bundle, countedAs: as };
      })
      : report.bundles;
    this.put({ ...report, bundles, ...(identity === undefined ? {} : { identity }), firstSeenAt: previous?.record.firstSeenAt ?? now, reportedAt: now });
    this.changed = true;
  }

  /** Agents remembered, live (reported within `staleAfterMs`) and stale. */
  counts(): { live: number; stale: number } {
    const liveSince = this.now().getTime() - this.options.staleAfterMs;
    let live = 0;
    for (const agent of this.agents.values()) if (agent.reportedAtMs >= liveSince) live++;
    return { live, stale: this.agents.size - live };
  }

  /**
   * Live agents counted against `bundle` that do not enforce `revision`, with their last error: at most
   * `limit`, those heard from longest ago first.
   */
  laggards(bundle: string, revision: string, limit: number): Laggard[] {
    const liveSince = this.now().getTime() - this.options.staleAfterMs;
    const found: Laggard[] = [];
    for (const { record, reportedAtMs } of this.agents.values()) {
      if (reportedAtMs < liveSince) continue;
      const reported = record.bundles.find((candidate) => (candidate.countedAs ?? candidate.name) === bundle);
      if (!reported || reported.activeRevision === revision) continue;
      found.push({ agentId: record.agentId, activeRevision: reported.activeRevision, code: reported.code, message: reported.message });
      if (found.length === limit) break;
    }
    return found;
  }

  /** Up to `limit` agents with ids after `after` (from the first when absent), in id order. */
  page(options: { limit: number; after?: string }): AgentPage {
    const start = options.after === undefined ? 0 : this.indexAfter(options.after);
    const ids = this.ids.slice(start, start + options.limit);
    const liveSince = this.now().getTime() - this.options.staleAfterMs;
    const agents = ids.map((id) => {
      const { record, reportedAtMs } = this.agents.get(id)!;
      return { ...record, stale: reportedAtMs < liveSince };
    });
    const more = start + ids.length < this.ids.length;
    return { agents, total: this.ids.length, ...(more && ids.length > 0 ? { next: ids.at(-1)! } : {}) };
  }

  /**
   * Per bundle, over every agent that is not stale: how much of the fleet runs what Regent serves (see
   * `summarizeConvergence`). One pass over the fleet, reused for up to a second while no agent reported
   * and the served revisions are the same, so paging through a large fleet costs one pass, not one per page.
   */
  summary(served: (bundle: string) => ServedBundle | undefined): FleetSummary {
    const now = this.now().getTime();
    const memo = this.lastSummary;
    if (memo && memo.version === this.version && now - memo.at < SUMMARY_REUSE_MS && now >= memo.at && memo.summary.bundles.every((bundle) => sameServed(served(bundle.name), bundle.servedRevision, memo.publishedAtMs.get(bundle.name)))) {
      return memo.summary;
    }
    const summary = summarizeConvergence(this.agents.values(), served, now - this.options.staleAfterMs);
    this.lastSummary = { version: this.version, at: now, summary, publishedAtMs: new Map(summary.bundles.map((bundle) => [bundle.name, served(bundle.name)?.publishedAt.getTime()])) };
    return summary;
  }

  /** Live agents whose last report has a bundle error, newest first, at most `limit`; `total` counts them all. */
  failing(limit: number): { failing: FailingAgentBundle[]; total: number } {
    return failingAgents(this.agents.values(), this.now().getTime() - this.options.staleAfterMs, limit);
  }

  /**
   * The OPA versions live agents run (`labels.version` of every agent that is not stale), with how many
   * agents report each: what the gate checks new revisions against (the oldest of them).
   */
  liveVersions(): Map<string, number> {
    const liveSince = this.now().getTime() - this.options.staleAfterMs;
    const versions = new Map<string, number>();
    for (const { record, reportedAtMs } of this.agents.values()) {
      const version = record.labels.version;
      if (reportedAtMs >= liveSince && version !== undefined) versions.set(version, (versions.get(version) ?? 0) + 1);
    }
    return versions;
  }

  /** The agents, oldest report first, and whether anything changed since the last call. */
  snapshot(): { agents: AgentRecord[]; changed: boolean } {
    const changed = this.changed;
    this.changed = false;
    return { agents: [...this.agents.values()].map((agent) => agent.record), changed };
  }

  /** Loads agents saved by {@link snapshot} (at start-up, before any report), within the same bounds. */
  restore(agents: readonly AgentRecord[]): void {
    for (const agent of agents) this.put(agent);
  }

  /** Stores `record` as the most recent one, then forgets the least recent agents beyond the bounds. */
  private put(record: AgentRecord): void {
    const id = record.agentId;
    const bytes = Buffer.byteLength(JSON.stringify(record)) + 1;
    const previous = this.agents.get(id);
    if (previous) {
      this.agents.delete(id);
      this.storedBytes -= previous.bytes;
    } else {
      this.ids.splice(this.indexAfter(id), 0, id);
    }
    const activatedAtMs = record.bundles.map((bundle) => Date.parse(bundle.lastSuccessfulActivation ?? '') || 0);
    this.agents.set(id, { record, bytes, reportedAtMs: Date.parse(record.reportedAt) || 0, activatedAtMs });
    this.version++;
    this.storedBytes += bytes;
    while (this.agents.size > this.options.maxAgents || this.storedBytes > this.options.maxStoredBytes) {
      const [oldest, stored] = this.agents.entries().next().value as [string, StoredAgent];
      this.agents.delete(oldest);
      this.storedBytes -= stored.bytes;
      this.ids.splice(this.indexAfter(oldest) - 1, 1);
    }
  }

  /** The index of the first id greater than `id` (binary search over the sorted ids). */
  private indexAfter(id: string): number {
    let low = 0;
    let high = this.ids.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.ids[middle]! <= id) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }
}

function sameServed(current: ServedBundle | undefined, revision: string | undefined, publishedAtMs: number | undefined): boolean {
  return current?.revision === revision && current?.publishedAt.getTime() === publishedAtMs;
}

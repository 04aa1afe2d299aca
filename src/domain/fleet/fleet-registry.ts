import { dictionary } from '../dictionary.js';
import type { AgentRecord } from './agent-record.js';
import type { AgentStatusReport } from './agent-status-report.js';

export type { AgentRecord } from './agent-record.js';

/** What Regent serves for a bundle name right now (the catalog's view). */
export interface ServedBundle {
  revision: string;
  publishedAt: Date;
}

export interface BundleConvergence {
  name: string;
  /** The revision Regent serves under this name, if it serves it. */
  servedRevision?: string;
  /** Agents (not stale) reporting this bundle. */
  agents: number;
  /** Of those, how many enforce the served revision. */
  onServedRevision: number;
  /** Of those, how many reported an error on their last attempt. */
  withErrors: number;
  /** Agents per enforced revision (`none` for agents that have not activated any). A null-prototype object. */
  revisions: Record<string, number>;
  /**
   * When every agent enforces the served revision: milliseconds from Regent publishing it to the last
   * agent activating it, as the agents report. Absent while the fleet has not converged.
   */
  convergenceMs?: number;
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
  now?: () => Date;
}

interface StoredAgent {
  record: AgentRecord;
  /** `JSON.stringify(record)` in UTF-8 bytes, plus one for the separator. */
  bytes: number;
}

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

  private constructor(private readonly options: FleetRegistryOptions) {}

  static create(options: FleetRegistryOptions): FleetRegistry {
    return new FleetRegistry(options);
  }

  /** Agents remembered, and the bytes their records take in the snapshot (at most `maxStoredBytes`). */
  get size(): { agents: number; bytes: number } {
    return { agents: this.agents.size, bytes: this.storedBytes };
  }

  record(report: AgentStatusReport): void {
    const now = this.now().toISOString();
    const previous = this.agents.get(report.agentId);
    this.put({ ...report, firstSeenAt: previous?.record.firstSeenAt ?? now, reportedAt: now });
    this.changed = true;
  }

  /** Up to `limit` agents with ids after `after` (from the first when absent), in id order. */
  page(options: { limit: number; after?: string }): AgentPage {
    const start = options.after === undefined ? 0 : this.indexAfter(options.after);
    const ids = this.ids.slice(start, start + options.limit);
    const now = this.now().getTime();
    const agents = ids.map((id) => {
      const { record } = this.agents.get(id)!;
      return { ...record, stale: this.isStale(record, now) };
    });
    const more = start + ids.length < this.ids.length;
    return { agents, total: this.ids.length, ...(more && ids.length > 0 ? { next: ids.at(-1)! } : {}) };
  }

  /** Per bundle name, over every agent that is not stale: how much of the fleet runs what Regent serves. */
  convergence(served: (bundle: string) => ServedBundle | undefined): BundleConvergence[] {
    const now = this.now().getTime();
    const byBundle = new Map<string, BundleConvergence & { lastActivation: number }>();
    for (const { record: agent } of this.agents.values()) {
      if (this.isStale(agent, now)) continue;
      for (const bundle of agent.bundles) {
        let entry = byBundle.get(bundle.name);
        const current = served(bundle.name);
        if (!entry) {
          entry = { name: bundle.name, servedRevision: current?.revision, agents: 0, onServedRevision: 0, withErrors: 0, revisions: dictionary(), lastActivation: 0 };
          byBundle.set(bundle.name, entry);
        }
        entry.agents++;
        const revision = bundle.activeRevision ?? 'none';
        entry.revisions[revision] = (entry.revisions[revision] ?? 0) + 1;
        if (bundle.code) entry.withErrors++;
        if (current && bundle.activeRevision === current.revision) {
          entry.onServedRevision++;
          entry.lastActivation = Math.max(entry.lastActivation, Date.parse(bundle.lastSuccessfulActivation ?? '') || 0);
        }
      }
    }
    return [...byBundle.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(({ lastActivation, ...entry }) => {
      const publishedAt = entry.servedRevision ? served(entry.name)?.publishedAt.getTime() : undefined;
      const converged = entry.agents > 0 && entry.onServedRevision === entry.agents && publishedAt !== undefined && lastActivation >= publishedAt;
      return converged ? { ...entry, convergenceMs: lastActivation - publishedAt } : entry;
    });
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
    this.agents.set(id, { record, bytes });
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

  private isStale(agent: AgentRecord, now: number): boolean {
    return now - Date.parse(agent.reportedAt) > this.options.staleAfterMs;
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }
}

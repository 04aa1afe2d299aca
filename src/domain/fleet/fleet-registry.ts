import type { AgentStatusReport } from './agent-status-report.js';

/** An agent as last heard from. */
export interface AgentRecord extends AgentStatusReport {
  firstSeenAt: string;
  reportedAt: string;
}

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
  /** Agents per enforced revision (`none` for agents that have not activated any). */
  revisions: Record<string, number>;
  /**
   * When every agent enforces the served revision: milliseconds from Regent publishing it to the last
   * agent activating it, as the agents report. Absent while the fleet has not converged.
   */
  convergenceMs?: number;
}

export interface FleetView {
  agents: Array<AgentRecord & { stale: boolean }>;
  bundles: BundleConvergence[];
}

export interface FleetRegistryOptions {
  /** Agents remembered at most; the one heard from least recently is forgotten first. */
  maxAgents: number;
  /** An agent silent for longer is shown as stale and left out of the convergence figures. */
  staleAfterMs: number;
  now?: () => Date;
}

/**
 * The fleet as its OPA agents report it (`POST /status`): per agent, the revision of each bundle it
 * enforces, when it last downloaded and activated, its last error; per bundle, how much of the fleet
 * runs what Regent serves and how long convergence took. Reports are claims by the agents, not proofs.
 * Bounded in memory; {@link snapshot}/{@link restore} let the caller keep it in the data directory.
 */
export class FleetRegistry {
  private readonly agents = new Map<string, AgentRecord>();
  private changed = false;

  private constructor(private readonly options: FleetRegistryOptions) {}

  static create(options: FleetRegistryOptions): FleetRegistry {
    return new FleetRegistry(options);
  }

  record(report: AgentStatusReport): void {
    const now = this.now().toISOString();
    const previous = this.agents.get(report.agentId);
    this.agents.delete(report.agentId);
    this.agents.set(report.agentId, { ...report, firstSeenAt: previous?.firstSeenAt ?? now, reportedAt: now });
    while (this.agents.size > this.options.maxAgents) this.agents.delete(this.agents.keys().next().value as string);
    this.changed = true;
  }

  view(served: (bundle: string) => ServedBundle | undefined): FleetView {
    const now = this.now().getTime();
    const agents = [...this.agents.values()].reverse().map((agent) => ({ ...agent, stale: now - Date.parse(agent.reportedAt) > this.options.staleAfterMs }));
    const byBundle = new Map<string, BundleConvergence & { lastActivation: number }>();
    for (const agent of agents) {
      if (agent.stale) continue;
      for (const bundle of agent.bundles) {
        const current = served(bundle.name);
        let entry = byBundle.get(bundle.name);
        if (!entry) {
          entry = { name: bundle.name, servedRevision: current?.revision, agents: 0, onServedRevision: 0, withErrors: 0, revisions: {}, lastActivation: 0 };
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
    const bundles = [...byBundle.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(({ lastActivation, ...entry }) => {
      const publishedAt = entry.servedRevision ? served(entry.name)?.publishedAt.getTime() : undefined;
      const converged = entry.agents > 0 && entry.onServedRevision === entry.agents && publishedAt !== undefined && lastActivation >= publishedAt;
      return converged ? { ...entry, convergenceMs: lastActivation - publishedAt } : entry;
    });
    return { agents, bundles };
  }

  /** The agents, oldest report first, and whether anything changed since the last call. */
  snapshot(): { agents: AgentRecord[]; changed: boolean } {
    const changed = this.changed;
    this.changed = false;
    return { agents: [...this.agents.values()], changed };
  }

  /** Loads agents saved by {@link snapshot} (at start-up, before any report). */
  restore(agents: readonly AgentRecord[]): void {
    for (const agent of agents.slice(-this.options.maxAgents)) this.agents.set(agent.agentId, agent);
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }
}

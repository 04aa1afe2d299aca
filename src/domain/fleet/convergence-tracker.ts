import type { BundleConvergence, Laggard } from './fleet-registry.js';

/** How one served revision of one bundle spread through the fleet. */
export interface RevisionConvergence {
  /** The served bundle (`rbac`, or `prod/rbac` for an environment's). */
  bundle: string;
  revision: string;
  /** When Regent first published it under this name (kept across restarts). */
  publishedAt: string;
  /** Live agents counted against the bundle when last observed (or when it converged). */
  agents: number;
  /** Milliseconds from publication until 50%, 90%, 100% of the live agents enforced it; set once reached. */
  p50Ms?: number;
  p90Ms?: number;
  p100Ms?: number;
  /** `converging` until every live agent enforces it; `stuck` once `stuckAfterMs` passed first; `converged`. */
  state: 'converging' | 'converged' | 'stuck';
  convergedAt?: string;
  stuckAt?: string;
}

/** What the tracker reports (to the audit log): a revision reached every live agent, or did not in time. */
export type ConvergenceEvent =
  | { type: 'converged'; convergence: RevisionConvergence }
  | { type: 'stuck'; convergence: RevisionConvergence; laggards: Laggard[]; moreLaggards: boolean };

export interface ConvergenceTrackerOptions {
  /** A revision not on every live agent this long after publication is reported `stuck` (once). */
  stuckAfterMs: number;
  /** Past revisions remembered per bundle. */
  historyPerBundle?: number;
  /** Agents named in a `stuck` event at most. */
  maxLaggards?: number;
  now?: () => number;
}

const DEFAULT_HISTORY = 10;
const DEFAULT_LAGGARDS = 20;

/**
 * Follows each served bundle's current revision through the fleet summary, observed periodically:
 * freezes the 50/90/100% times the first time each is reached, and reports once per bundle and revision
 * that it converged (every live agent enforces it) or is stuck (not within `stuckAfterMs`; it may still
 * converge later, which is reported too). Remembers the last revisions per bundle, and can be saved and
 * restored so a restart neither reports a revision again nor restarts its clock.
 */
export class ConvergenceTracker {
  /** By bundle: the served revision's record first, then older ones. */
  private readonly byBundle = new Map<string, RevisionConvergence[]>();
  private changed = false;

  private constructor(private readonly options: ConvergenceTrackerOptions) {}

  static create(options: ConvergenceTrackerOptions): ConvergenceTracker {
    return new ConvergenceTracker(options);
  }

  /**
   * When `revision` was first published as `bundle`'s current revision, if the tracker follows it already
   * (so a restart, which publishes it again, does not restart its clock). A rollback to an older
   * revision is a new publication.
   */
  firstPublished(bundle: string, revision: string): Date | undefined {
    const current = this.byBundle.get(bundle)?.[0];
    return current?.revision === revision ? new Date(current.publishedAt) : undefined;
  }

  /**
   * Takes the current summary (bundles with their served revision, publication time and times), and
   * `laggards` for the agents to name in a `stuck` event. Returns what happened since the last call.
   */
  observe(bundles: readonly BundleConvergence[], publishedAt: (bundle: string) => Date | undefined, laggards: (bundle: string, revision: string, limit: number) => Laggard[]): ConvergenceEvent[] {
    const now = (this.options.now ?? Date.now)();
    const events: ConvergenceEvent[] = [];
    for (const bundle of bundles) {
      const revision = bundle.servedRevision;
      const published = publishedAt(bundle.name);
      if (revision === undefined || published === undefined) continue;
      const entry = this.current(bundle.name, revision, published);
      if (entry.state === 'converged') continue;
      const times = bundle.convergence;
      if (bundle.agents > 0) entry.agents = bundle.agents;
      for (const key of ['p50Ms', 'p90Ms', 'p100Ms'] as const) {
        if (entry[key] === undefined && times?.[key] !== undefined) {
          entry[key] = times[key];
          this.changed = true;
        }
      }
      if (times?.p100Ms !== undefined && bundle.agents > 0 && bundle.onServedRevision === bundle.agents) {
        entry.state = 'converged';
        entry.convergedAt = new Date(now).toISOString();
        this.changed = true;
        events.push({ type: 'converged', convergence: { ...entry } });
      } else if (entry.state === 'converging' && bundle.agents > 0 && now - Date.parse(entry.publishedAt) >= this.options.stuckAfterMs) {
        entry.state = 'stuck';
        entry.stuckAt = new Date(now).toISOString();
        this.changed = true;
        const limit = this.options.maxLaggards ?? DEFAULT_LAGGARDS;
        const found = laggards(bundle.name, revision, limit + 1);
        events.push({ type: 'stuck', convergence: { ...entry }, laggards: found.slice(0, limit), moreLaggards: found.length > limit });
      }
    }
    return events;
  }

  /** Every bundle's revisions, newest first per bundle, bundles by name. */
  list(): RevisionConvergence[] {
    return [...this.byBundle.keys()].sort().flatMap((bundle) => this.byBundle.get(bundle)!.map((entry) => ({ ...entry })));
  }

  /** The records to save, and whether anything changed since the last call. */
  snapshot(): { entries: RevisionConvergence[]; changed: boolean } {
    const changed = this.changed;
    this.changed = false;
    return { entries: this.list(), changed };
  }

  /** Loads saved records (at start-up, before the first observation). */
  restore(entries: readonly RevisionConvergence[]): void {
    for (const entry of entries) {
      const list = this.byBundle.get(entry.bundle) ?? [];
      if (list.length < (this.options.historyPerBundle ?? DEFAULT_HISTORY)) list.push({ ...entry });
      this.byBundle.set(entry.bundle, list);
    }
  }

  private current(bundle: string, revision: string, published: Date): RevisionConvergence {
    const list = this.byBundle.get(bundle) ?? [];
    const index = list.findIndex((entry) => entry.revision === revision);
    if (index === 0) return list[0]!;
    // A revision served again (a rollback to it) starts a new record; an older record of it is dropped.
    if (index > 0) list.splice(index, 1);
    const entry: RevisionConvergence = { bundle, revision, publishedAt: published.toISOString(), agents: 0, state: 'converging' };
    list.unshift(entry);
    list.length = Math.min(list.length, this.options.historyPerBundle ?? DEFAULT_HISTORY);
    this.byBundle.set(bundle, list);
    this.changed = true;
    return entry;
  }
}

/** A saved record read back, checked field by field; undefined when it is not one. */
export function revisionConvergenceFrom(value: unknown): RevisionConvergence | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.bundle !== 'string' || typeof v.revision !== 'string' || typeof v.publishedAt !== 'string' || typeof v.agents !== 'number') return undefined;
  if (v.state !== 'converging' && v.state !== 'converged' && v.state !== 'stuck') return undefined;
  for (const key of ['p50Ms', 'p90Ms', 'p100Ms']) if (v[key] !== undefined && typeof v[key] !== 'number') return undefined;
  for (const key of ['convergedAt', 'stuckAt']) if (v[key] !== undefined && typeof v[key] !== 'string') return undefined;
  return v as unknown as RevisionConvergence;
}

import { dictionary } from '../dictionary.js';
import type { AgentRecord } from './agent-record.js';

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
  /**
   * Milliseconds from Regent publishing the served revision until 50%, 90% and 100% of the live agents
   * counted here had activated it (by their reported activation times; 0 for agents that already ran
   * it). Each is present once that share of the agents enforces it.
   */
  convergence?: ConvergenceTimes;
}

/** Time from publication until a share of the live agents enforced a revision. */
export interface ConvergenceTimes {
  p50Ms?: number;
  p90Ms?: number;
  p100Ms?: number;
}

export interface FleetSummary {
  /** Every bundle Regent serves that a live agent reports, and the names it does not serve reported by most agents; by name. */
  bundles: BundleConvergence[];
  /** Bundle names reported but left out (names Regent does not serve, beyond {@link MAX_UNSERVED_BUNDLES_SHOWN}). */
  omittedBundles: number;
}

/** An agent as the summary reads it: times parsed once, when its report was stored. */
export interface TalliedAgent {
  record: AgentRecord;
  reportedAtMs: number;
  /** Each bundle's `lastSuccessfulActivation` in ms (0 when absent). */
  activatedAtMs: readonly number[];
}

/**
 * Names Regent does not serve are the agents' own (another bundle server's, or made up): at most this
 * many are summarized, those reported by most agents, so made-up names cannot grow every answer.
 */
export const MAX_UNSERVED_BUNDLES_SHOWN = 50;

interface Tally {
  agents: number;
  withErrors: number;
  revisions: Map<string, number>;
  servedRevision: string | undefined;
  publishedAtMs: number | undefined;
  lastActivation: number;
  /** Activation times of the agents on the served revision. */
  activations: number[];
}

/**
 * Per bundle name, over every agent reported at or after `liveSince` (the others are stale): how much
 * of the fleet runs what Regent serves, and how long convergence took. One pass, no parsing. An agent's
 * bundle counts under the name it is served as (`countedAs`: `prod/rbac` for an agent of environment
 * `prod` that calls the bundle `rbac`), or the name it reported.
 */
export function summarizeConvergence(agents: Iterable<TalliedAgent>, served: (bundle: string) => ServedBundle | undefined, liveSince: number): FleetSummary {
  const byBundle = new Map<string, Tally>();
  for (const { record, reportedAtMs, activatedAtMs } of agents) {
    if (reportedAtMs < liveSince) continue;
    const { bundles } = record;
    for (let i = 0; i < bundles.length; i++) {
      const bundle = bundles[i]!;
      const name = bundle.countedAs ?? bundle.name;
      let tally = byBundle.get(name);
      if (!tally) {
        const current = served(name);
        tally = { agents: 0, withErrors: 0, revisions: new Map(), servedRevision: current?.revision, publishedAtMs: current?.publishedAt.getTime(), lastActivation: 0, activations: [] };
        byBundle.set(name, tally);
      }
      tally.agents++;
      const revision = bundle.activeRevision ?? 'none';
      tally.revisions.set(revision, (tally.revisions.get(revision) ?? 0) + 1);
      if (bundle.code) tally.withErrors++;
      if (tally.servedRevision !== undefined && bundle.activeRevision === tally.servedRevision) {
        if (activatedAtMs[i]! > tally.lastActivation) tally.lastActivation = activatedAtMs[i]!;
        tally.activations.push(activatedAtMs[i]!);
      }
    }
  }
  const servedNames = [...byBundle].filter(([, tally]) => tally.servedRevision !== undefined);
  const unserved = [...byBundle].filter(([, tally]) => tally.servedRevision === undefined).sort(([a, x], [b, y]) => y.agents - x.agents || (a < b ? -1 : 1));
  const shown = [...servedNames, ...unserved.slice(0, MAX_UNSERVED_BUNDLES_SHOWN)].sort(([a], [b]) => (a < b ? -1 : 1));
  return { bundles: shown.map(([name, tally]) => convergenceOf(name, tally)), omittedBundles: Math.max(0, unserved.length - MAX_UNSERVED_BUNDLES_SHOWN) };
}

function convergenceOf(name: string, tally: Tally): BundleConvergence {
  const onServedRevision = tally.servedRevision === undefined ? 0 : tally.revisions.get(tally.servedRevision) ?? 0;
  const entry: BundleConvergence = {
    name, servedRevision: tally.servedRevision, agents: tally.agents, onServedRevision, withErrors: tally.withErrors, revisions: dictionary(tally.revisions),
  };
  const converged = tally.agents > 0 && onServedRevision === tally.agents && tally.publishedAtMs !== undefined && tally.lastActivation >= tally.publishedAtMs;
  const times = convergenceTimes(tally);
  const withTimes = times ? { ...entry, convergence: times } : entry;
  return converged ? { ...withTimes, convergenceMs: tally.lastActivation - tally.publishedAtMs! } : withTimes;
}

/**
 * For each share (50%, 90%, 100%) of the live agents, once at least that many enforce the served
 * revision: the activation time of the agent that completed the share, minus the publication time (0
 * when it ran the revision already). Undefined when no share is reached.
 */
function convergenceTimes(tally: Tally): ConvergenceTimes | undefined {
  const { publishedAtMs, agents, activations } = tally;
  if (publishedAtMs === undefined || agents === 0 || activations.length === 0) return undefined;
  activations.sort((a, b) => a - b);
  const at = (share: number): number | undefined => {
    const needed = Math.ceil(share * agents);
    return activations.length >= needed ? Math.max(0, activations[needed - 1]! - publishedAtMs) : undefined;
  };
  const times: ConvergenceTimes = {};
  const p50 = at(0.5);
  if (p50 === undefined) return undefined;
  times.p50Ms = p50;
  const p90 = at(0.9);
  if (p90 !== undefined) times.p90Ms = p90;
  const p100 = at(1);
  if (p100 !== undefined) times.p100Ms = p100;
  return times;
}

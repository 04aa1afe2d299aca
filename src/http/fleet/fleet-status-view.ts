import type { ConvergenceTracker } from '../../domain/fleet/convergence-tracker.js';
import type { FleetRegistry, FleetSummary } from '../../domain/fleet/fleet-registry.js';

/**
 * `GET /status` → `fleet`: agents live and stale, and per served bundle (`rbac`, `prod/rbac`) the served
 * revision, how many live agents enforce it, and the time from its publication until 50%, 90% and 100% of
 * them did (`state`: converging, converged, stuck).
 */
export function fleetStatus(fleet: { registry: FleetRegistry; tracker: ConvergenceTracker; summary(): FleetSummary }): Record<string, unknown> {
  const tracked = new Map(fleet.tracker.list().map((entry) => [`${entry.bundle}@${entry.revision}`, entry]));
  return {
    agents: fleet.registry.counts(),
    bundles: fleet.summary().bundles.filter((bundle) => bundle.servedRevision !== undefined).map((bundle) => {
      const entry = tracked.get(`${bundle.name}@${bundle.servedRevision}`);
      return {
        name: bundle.name,
        servedRevision: bundle.servedRevision,
        agents: bundle.agents,
        onServedRevision: bundle.onServedRevision,
        withErrors: bundle.withErrors,
        state: entry?.state ?? (bundle.agents === 0 ? 'no_agents' : 'converging'),
        p50Ms: entry?.p50Ms ?? bundle.convergence?.p50Ms ?? null,
        p90Ms: entry?.p90Ms ?? bundle.convergence?.p90Ms ?? null,
        p100Ms: entry?.p100Ms ?? bundle.convergence?.p100Ms ?? null,
      };
    }),
  };
}

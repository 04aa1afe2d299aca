import type { ReportedBundle } from './agent-status-report.js';
import type { ServedBundle } from './fleet-convergence.js';

/** The bundle sets Regent serves: the tracked branch's (`rbac`) and each environment's (`prod/rbac`). */
export interface ServedSets {
  environments: readonly string[];
  served(name: string): ServedBundle | undefined;
}

/**
 * Which served bundle an agent's bundle counts against. OPA's status report names a bundle by the key
 * of the agent's config (`rbac`), not by the resource it downloads (`bundles/prod/rbac`), so an agent of
 * environment `prod` and an agent of the tracked branch both report `rbac`. In this order:
 *
 * 1. a reported name that starts with an environment (`prod/rbac`, an agent whose bundle key is the path)
 *    is that environment's bundle;
 * 2. an agent that reports to `POST /status/<environment>` (OPA's `status.partition_name: prod`) counts
 *    against that environment: the one sure way, which `opa-config/config.prod.yaml` uses;
 * 3. otherwise by revision: the set that serves the revision the agent enforces, when exactly one does;
 *    when several do (an environment on the same revision as the branch), or none (the agent is behind),
 *    the set it was counted against before, else the tracked branch.
 *
 * Returns undefined for "the name it reported".
 */
export function countBundleAs(sets: ServedSets, bundle: ReportedBundle, partition: string | undefined, previous: string | undefined): string | undefined {
  const { name } = bundle;
  const slash = name.indexOf('/');
  if (slash > 0 && sets.environments.includes(name.slice(0, slash))) return undefined;
  const declared = partition?.split('/', 1)[0];
  if (declared !== undefined && sets.environments.includes(declared)) return `${declared}/${name}`;
  const candidates = [name, ...sets.environments.map((environment) => `${environment}/${name}`)].filter((candidate) => sets.served(candidate) !== undefined);
  if (candidates.length === 0) return undefined;
  const matching = candidates.filter((candidate) => sets.served(candidate)!.revision === bundle.activeRevision);
  let chosen: string;
  if (matching.length === 1) chosen = matching[0]!;
  else if (previous !== undefined && (matching.length > 0 ? matching : candidates).includes(previous)) chosen = previous;
  else if (matching.length > 1) chosen = matching.includes(name) ? name : matching[0]!;
  else chosen = candidates.includes(name) ? name : candidates[0]!;
  return chosen === name ? undefined : chosen;
}

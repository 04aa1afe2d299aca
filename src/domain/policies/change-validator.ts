import type { GateProblem, PolicyGate } from '../activation/policy-gate.js';
import type { BundleBuilder } from '../bundles/bundle-builder.js';
import type { FileChange, PolicyStore, Revision } from '../store/policy-store.js';
import type { WorkPriority } from '../work-priority.js';
import { checkCandidate } from './candidate-check.js';
import { applyChanges } from './candidate-tree.js';

export interface ValidationReport {
  ok: boolean;
  problems: GateProblem[];
  tests: { passed: number; failed: number; errored: number };
  /** Bundles the candidate would produce (when it builds). */
  bundles: string[];
}

const CANDIDATE_REVISION = '0'.repeat(40);

/**
 * Validates a change before it is committed, with the same checks the activation gate applies to
 * every head: real OPA (check against the restricted capabilities, and the Rego tests) and a dry-run
 * of the bundle builder (roots, package locations, data), on the tree the change would produce.
 */
export class ChangeValidator {
  private constructor(private readonly store: PolicyStore, private readonly gate: PolicyGate, private readonly builder: BundleBuilder) {}

  static create(options: { store: PolicyStore; gate: PolicyGate; builder: BundleBuilder }): ChangeValidator {
    return new ChangeValidator(options.store, options.gate, options.builder);
  }

  /**
   * Validates the tree of `base` with `changes` applied. `priority` says who waits (an admin write by
   * default): it orders the OPA work. Throws when OPA gives no verdict (`gate_unavailable`, `opa_busy`,
   * `opa_timeout`, ...), unless the builder alone already refuses the change ({@link checkCandidate}).
   */
  async validate(base: Revision, changes: readonly FileChange[], priority: WorkPriority = 'write'): Promise<ValidationReport> {
    const candidate = applyChanges(await this.store.listTree(base), changes);
    const readBlobs = async (ids: readonly string[]): Promise<Map<string, Buffer>> => {
      const fromStore = ids.filter((id) => !candidate.added.has(id));
      const found = fromStore.length > 0 ? await this.store.readBlobs([...new Set(fromStore)]) : new Map<string, Buffer>();
      for (const id of ids) if (candidate.added.has(id)) found.set(id, candidate.added.get(id)!);
      return found;
    };
    const result = await checkCandidate({ gate: this.gate, builder: this.builder }, { revision: CANDIDATE_REVISION, entries: candidate.entries, readBlobs, priority });
    return { ok: result.ok, problems: result.problems, tests: result.tests, bundles: result.bundles.map((bundle) => bundle.name) };
  }
}

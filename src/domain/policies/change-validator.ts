import type { GateProblem, PolicyGate } from '../activation/policy-gate.js';
import type { BundleBuilder } from '../bundles/bundle-builder.js';
import { policyFileKind } from '../bundles/policy-file.js';
import { BuildError } from '../errors.js';
import type { FileChange, PolicyStore, Revision } from '../store/policy-store.js';
import type { WorkPriority } from '../work-priority.js';
import { rankFindings } from './candidate-findings.js';
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
   * `opa_timeout`, ...), unless the builder alone already refuses the change.
   */
  async validate(base: Revision, changes: readonly FileChange[], priority: WorkPriority = 'write'): Promise<ValidationReport> {
    const candidate = applyChanges(await this.store.listTree(base), changes);
    const readBlobs = async (ids: readonly string[]): Promise<Map<string, Buffer>> => {
      const fromStore = ids.filter((id) => !candidate.added.has(id));
      const found = fromStore.length > 0 ? await this.store.readBlobs([...new Set(fromStore)]) : new Map<string, Buffer>();
      for (const id of ids) if (candidate.added.has(id)) found.set(id, candidate.added.get(id)!);
      return found;
    };
    const policyEntries = candidate.entries.filter((entry) => policyFileKind(entry.path) !== 'other' && entry.kind !== 'submodule');
    const contents = await readBlobs(policyEntries.map((entry) => entry.blobId));
    const files = policyEntries.map((entry) => ({ path: entry.path, content: contents.get(entry.blobId)! }));
    const [gate, build] = await Promise.allSettled([
      this.gate.check({ files, priority }),
      this.builder.build(CANDIDATE_REVISION, candidate.entries, readBlobs),
    ]);
    // The builder's refusal is a verdict by itself and leads (rankFindings); without it, no answer from
    // OPA means no verdict at all.
    const refusal = build.status === 'rejected' && build.reason instanceof BuildError ? build.reason : undefined;
    if (gate.status === 'rejected' && !refusal) throw gate.reason;
    if (build.status === 'rejected' && !refusal) throw build.reason;
    const gateProblems = gate.status === 'fulfilled' ? gate.value.problems : [];
    const problems = rankFindings(refusal, gateProblems);
    const bundles = build.status === 'fulfilled' ? build.value.map((bundle) => bundle.name) : [];
    const tests = gate.status === 'fulfilled' ? gate.value.tests : { passed: 0, failed: 0, errored: 0 };
    return { ok: problems.length === 0, problems, tests, bundles };
  }
}

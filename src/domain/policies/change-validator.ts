import { CandidateCheckUnavailable, type CandidateCheck } from '../candidates/candidate-check.js';
import { candidateTreeOf } from '../candidates/candidate-tree.js';
import type { GateProblem } from '../candidates/policy-gate.js';
import type { FileChange, PolicyStore, Revision } from '../store/policy-store.js';
import type { WorkPriority } from '../work-priority.js';

export interface ValidationReport {
  ok: boolean;
  problems: GateProblem[];
  tests: { passed: number; failed: number; errored: number };
  /** Bundles the candidate would produce (when the builder's check passes). */
  bundles: string[];
  /** Modules compiled from specs (`*.policy.yaml`), with their sources. */
  generated: Array<{ path: string; source: string }>;
}

/**
 * Validates a change before it is committed, with the same {@link CandidateCheck} the activation applies
 * to every head (compile steps, real OPA, the bundle builder's check), on the tree the change would
 * produce. Nothing is signed or packed.
 */
export class ChangeValidator {
  private constructor(private readonly store: PolicyStore, private readonly candidates: CandidateCheck) {}

  static create(options: { store: PolicyStore; check: CandidateCheck }): ChangeValidator {
    return new ChangeValidator(options.store, options.check);
  }

  /**
   * Validates the tree of `base` with `changes` applied. `priority` says who waits (an admin write by
   * default): it orders the OPA work. Throws OPA's error when it gives no verdict (`gate_unavailable`,
   * `opa_busy`, `opa_timeout`, ...), unless the compile step or the builder alone already refuses the change.
   */
  async validate(base: Revision, changes: readonly FileChange[], priority: WorkPriority = 'write'): Promise<ValidationReport> {
    const { entries, readBlobs } = await candidateTreeOf(this.store, base, changes);
    try {
      const report = await this.candidates.check({ entries, readBlobs, priority });
      return { ok: report.ok, problems: report.problems, tests: report.tests, bundles: report.bundles, generated: report.generated };
    } catch (error) {
      throw error instanceof CandidateCheckUnavailable ? error.reason : error;
    }
  }
}

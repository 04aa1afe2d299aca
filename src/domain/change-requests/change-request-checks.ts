import type { ChangeValidator } from '../policies/change-validator.js';
import type { FileChange, PolicyStore, Revision } from '../store/policy-store.js';
import type { WorkPriority } from '../work-priority.js';
import type { ChangeRequestRecord, ChangeRequestValidation } from './change-request.js';
import { planMergeOnto, toFileChanges } from './change-request-merge.js';

/** A merge of a change request onto a head, ready to commit: the file changes, validated. */
export interface PreparedMerge {
  validation: ChangeRequestValidation;
  /** The change request's changes as operations on `validation.head` (empty when conflicting). */
  changes: FileChange[];
}

/**
 * Validates a change request the way the activation gate would judge it once merged: its file changes
 * are merged onto the current head (file level; a conflict is reported as such and nothing is run), and
 * the resulting tree goes through the same {@link ChangeValidator} as every direct write (real OPA check
 * and tests, and the bundle builder).
 */
export class ChangeRequestChecks {
  private constructor(private readonly store: PolicyStore, private readonly validator: ChangeValidator, private readonly now: () => Date) {}

  static create(options: { store: PolicyStore; validator: ChangeValidator; now?: () => Date }): ChangeRequestChecks {
    return new ChangeRequestChecks(options.store, options.validator, options.now ?? (() => new Date()));
  }

  /** True when the record's validation is of its current tip on `head`. */
  static isCurrent(record: ChangeRequestRecord, head: Revision | undefined): boolean {
    return record.validation !== undefined && record.validation.tip === record.tip && record.validation.head === head;
  }

  /**
   * Merges the change request onto `head` and validates the result. `known` (a validation of the same
   * tip on the same head) is reused as it is, without running the checks again.
   */
  async prepare(record: Pick<ChangeRequestRecord, 'baseRevision' | 'tip'>, head: Revision, known?: ChangeRequestValidation, priority: WorkPriority = 'write'): Promise<PreparedMerge> {
    const at = this.now().toISOString();
    const plan = await planMergeOnto(this.store, record.baseRevision, record.tip, head);
    if (known && known.head === head && known.tip === record.tip && known.conflicts.length === plan.conflicts.length) {
      return { validation: known, changes: plan.conflicts.length > 0 ? [] : await toFileChanges(this.store, plan) };
    }
    if (plan.conflicts.length > 0) {
      return {
        changes: [],
        validation: {
          head, tip: record.tip, ok: false, conflicts: plan.conflicts, tests: { passed: 0, failed: 0, errored: 0 }, bundles: [], at,
          problems: plan.conflicts.map((file) => ({ code: 'merge_conflict', message: `${file} was changed on the branch since the change request's base, differently`, file })),
        },
      };
    }
    const changes = await toFileChanges(this.store, plan);
    const report = await this.validator.validate(head, changes, priority);
    return { changes, validation: { head, tip: record.tip, ok: report.ok, conflicts: [], problems: report.problems, tests: report.tests, bundles: report.bundles, at } };
  }
}

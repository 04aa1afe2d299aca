import type { Logger } from '../logger.js';
import type { PolicyStore } from '../store/policy-store.js';
import type { ChangeRequestRecord } from './change-request.js';
import { ChangeRequestChecks } from './change-request-checks.js';
import type { KeyedLock } from './keyed-lock.js';

export interface ChangeRequestRevalidatorOptions {
  store: PolicyStore;
  checks: ChangeRequestChecks;
  /** The service's per-request lock: a revalidation never interleaves with a write to the same request. */
  locks: KeyedLock<number>;
  records: () => ChangeRequestRecord[];
  save: (record: ChangeRequestRecord) => Promise<void>;
  /** Records a merge found on the branch (a crash between the merge and its record, or a merge outside Regent). */
  recordDetectedMerge: (record: ChangeRequestRecord, head: string) => Promise<void>;
  now: () => string;
  logger: Logger;
}

/**
 * Keeps open change requests' validations current: whenever the tracked branch moves (a write, a merge,
 * a push from outside), each open request is merged onto the new head and validated again, one at a
 * time (OPA is not cheap) and coalesced (heads that arrive during a pass trigger one more pass, not one
 * each). A validation names the head and tip it was made on, so until the new one lands the old one
 * reads as not current. A request whose tip is already in the branch's history (merged from outside
 * Regent, or merged just before a crash that lost the record's update) is marked merged.
 */
export class ChangeRequestRevalidator {
  private wanted = false;
  private running: Promise<void> | undefined;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  private constructor(private readonly options: ChangeRequestRevalidatorOptions) {}

  static create(options: ChangeRequestRevalidatorOptions): ChangeRequestRevalidator {
    return new ChangeRequestRevalidator(options);
  }

  start(): void {
    this.unsubscribe = this.options.store.onHeadChange(() => this.schedule());
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    while (this.running) await this.running;
  }

  /** Validates one request now, under its lock, unless its validation is current. Failures to run the checks are logged. */
  async revalidate(id: number): Promise<void> {
    const { store, checks, locks, logger } = this.options;
    await locks.run(id, async () => {
      const record = this.options.records().find((candidate) => candidate.id === id);
      if (!record || record.status !== 'open') return;
      const head = await store.head();
      if (!head || ChangeRequestChecks.isCurrent(record, head)) return;
      try {
        if (await store.isAncestor(record.tip, head)) {
          await this.options.save({ ...record, status: 'merged', merge: { subject: 'system', name: 'Regent', at: this.options.now(), revision: head, strategy: 'detected' }, updatedAt: this.options.now() });
          await this.options.recordDetectedMerge(record, head);
          logger.info({ changeRequest: id, head }, 'change request found merged into the branch');
          return;
        }
        const { validation } = await checks.prepare(record, head, undefined, 'background');
        await this.options.save({ ...record, validation });
        logger.info({ changeRequest: id, head, tip: record.tip, ok: validation.ok, conflicts: validation.conflicts.length }, 'change request validated');
      } catch (error) {
        logger.warn({ err: error, changeRequest: id, head }, 'cannot validate a change request; it is retried when head next moves');
      }
    });
  }

  private schedule(): void {
    this.wanted = true;
    if (this.running || this.stopped) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  private async loop(): Promise<void> {
    while (this.wanted && !this.stopped) {
      this.wanted = false;
      const open = this.options.records().filter((record) => record.status === 'open').map((record) => record.id);
      for (const id of open) {
        if (this.stopped) return;
        await this.revalidate(id);
      }
    }
  }
}

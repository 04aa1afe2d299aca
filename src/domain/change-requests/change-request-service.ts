import type { ActivationPipeline } from '../activation/activation-pipeline.js';
import type { AuditAction, AuditLog } from '../audit/audit-log.js';
import { markAudited } from '../audit/audited-error.js';
import type { Principal } from '../auth/principal.js';
import { BuildError, ConflictError, InputError, isRegentError, NotAllowedError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import { checkFileChanges } from '../policies/change-limits.js';
import type { ChangeLimits, ChangeResult } from '../policies/policy-change-service.js';
import { validateCommitMessage } from '../policies/commit-message.js';
import type { FileChange, PolicyStore, Revision } from '../store/policy-store.js';
import {
  currentApprovals, stateOf,
  type ChangeRequestBranches, type ChangeRequestRecord, type Comment, type ChangeRequestRepository, type ChangeRequestState, type MergeStrategy,
} from './change-request.js';
import { ChangeRequestChecks } from './change-request-checks.js';
import { ChangeRequestRevalidator } from './change-request-revalidator.js';
import { checkText, checkTitle, TEXT_LIMITS, toSummary, type ChangeRequestDetail, type ChangeRequestSummary } from './change-request-views.js';
import { KeyedLock } from './keyed-lock.js';
import { parseTrailers, trailerValue } from '../store/commit-trailers.js';

/** Open change requests at most (each is revalidated by OPA when head moves). */
export const MAX_OPEN_CHANGE_REQUESTS = 100;

export interface ChangeRequestContext {
  principal: Principal;
  requestId: string;
}

export interface CreateChangeRequest extends ChangeRequestContext {
  title: string;
  description?: string;
  /** Commit message of the proposed commit; the title when absent. */
  message?: string;
  changes: readonly FileChange[];
  /** The tracked branch's revision to propose against (head by default); must be in its history. */
  baseRevision?: Revision;
}

export interface AddCommit extends ChangeRequestContext {
  message: string;
  changes: readonly FileChange[];
  /** The tip the change was made on: refused with `change_request_moved` when the request moved since. */
  expectedTip?: Revision;
}

export interface MergeResult {
  changeRequest: ChangeRequestSummary;
  revision: Revision;
  strategy: MergeStrategy;
  activation: ChangeResult['activation'];
}

export interface ChangeRequestServiceOptions {
  store: PolicyStore;
  branches: ChangeRequestBranches;
  repository: ChangeRequestRepository;
  checks: ChangeRequestChecks;
  activation: Pick<ActivationPipeline, 'awaitOutcome'>;
  audit: AuditLog;
  limits: ChangeLimits;
  mergeStrategy: MergeStrategy;
  logger: Logger;
  now?: () => Date;
}

/**
 * Change requests (four-eyes review inside Regent). An editor or admin proposes commits on a change
 * request's own ref, on top of a revision of the tracked branch; the proposal is validated as it would
 * be once merged onto the current head (real OPA, tests, bundle builder) and revalidated whenever head
 * moves; an admin who put no commit on it approves it (approvals count for the tip they saw only); an
 * admin merges it (approved and valid on the current head) through the store's compare-and-swap, as a
 * fast-forward or a merge commit. Authors come from verified tokens only, and every action, refusals
 * included, is in the audit log before the caller hears of it.
 */
export class ChangeRequestService {
  private readonly records = new Map<number, ChangeRequestRecord>();
  private readonly locks = new KeyedLock<number>();
  private nextId = 1;
  private readonly revalidator: ChangeRequestRevalidator;

  private constructor(private readonly options: ChangeRequestServiceOptions) {
    this.revalidator = ChangeRequestRevalidator.create({
      store: options.store, checks: options.checks, locks: this.locks, logger: options.logger,
      records: () => [...this.records.values()],
      save: (record) => this.save(record),
      recordDetectedMerge: (record, head) => this.options.audit.append({
        action: 'change_request.merged', outcome: 'success', subject: 'system', revision: head, changeRequest: String(record.id), message: record.title,
        detail: 'found merged into the branch (the merge was not recorded: Regent stopped right after it, or it was merged outside Regent)',
      }).then(() => undefined),
      now: () => this.now(),
    });
  }

  static create(options: ChangeRequestServiceOptions): ChangeRequestService {
    return new ChangeRequestService(options);
  }

  /** Loads the records, then validates stale ones and follows head from then on. */
  async start(): Promise<void> {
    const [records, refIds] = await Promise.all([this.options.repository.loadAll(), this.options.branches.ids()]);
    for (const record of records) this.records.set(record.id, record);
    // A ref written just before a crash, without its record, still holds its number.
    this.nextId = Math.max(0, ...records.map((record) => record.id), ...refIds) + 1;
    for (const record of records) if (record.status === 'open') await this.recoverTip(record);
    this.revalidator.start();
  }

  async stop(): Promise<void> {
    await this.revalidator.stop();
    await this.locks.idle();
  }

  list(state?: ChangeRequestState): Promise<ChangeRequestSummary[]> {
    return this.options.store.head().then((head) => [...this.records.values()]
      .filter((record) => state === undefined || stateOf(record) === state)
      .sort((a, b) => b.id - a.id)
      .map((record) => toSummary(record, head)));
  }

  async show(id: number): Promise<ChangeRequestDetail> {
    const record = this.find(id);
    const { store } = this.options;
    const [head, diff, history] = await Promise.all([store.head(), store.diff(record.baseRevision, record.tip), store.log({ from: record.tip, limit: 100 })]);
    const end = history.findIndex((version) => version.revision === record.baseRevision);
    const commits = (end >= 0 ? history.slice(0, end) : history).map((version) => ({ revision: version.revision, author: version.author, message: version.message }));
    return { ...toSummary(record, head), description: record.description, comments: record.comments, commits, diff: { from: diff.from, to: diff.to, files: diff.files, patch: diff.patch } };
  }

  async create(request: CreateChangeRequest): Promise<ChangeRequestSummary> {
    return this.audited('change_request.created', request, undefined, async () => {
      const title = checkTitle(request.title);
      const description = checkText(request.description, 'description', TEXT_LIMITS.description) ?? '';
      const message = validateCommitMessage(request.message ?? title, request.message === undefined ? 'title' : 'message');
      checkFileChanges(request.changes, this.options.limits);
      // Every open request is revalidated with real OPA whenever head moves: their number is bounded.
      const open = [...this.records.values()].filter((record) => record.status === 'open').length;
      if (open >= MAX_OPEN_CHANGE_REQUESTS) {
        throw new ConflictError('too_many_open_change_requests', `${open} change requests are open, the most Regent keeps; merge or reject some first`, { field: 'changes' });
      }
      const id = this.nextId++;
      return this.locks.run(id, () => this.createRecord(id, request, { title, description, message }));
    }).then((record) => this.validateNow(record.id));
  }

  private async createRecord(id: number, request: CreateChangeRequest, text: { title: string; description: string; message: string }): Promise<{ record: ChangeRequestRecord; revision: Revision; paths: string[] }> {
    const { store, branches } = this.options;
    const { title, description, message } = text;
    const head = await store.head();
    if (!head) throw new ConflictError('no_head', `branch ${store.branch} has no commits to propose against`, { field: 'baseRevision' });
    const base = request.baseRevision ?? head;
    if (base !== head && !(await store.isAncestor(base, head))) {
      throw new InputError('invalid_base_revision', `${base} is not in the history of ${store.branch}`, { field: 'baseRevision' });
    }
    const { principal } = request;
    const tip = await branches.commit({
      id, parent: base, expectedTip: null, changes: request.changes, message, author: identityOf(principal), trailers: this.trailers(request, id),
    });
    const at = this.now();
    const record: ChangeRequestRecord = {
      id, title, description, author: { subject: principal.subject, name: principal.name, email: principal.email, role: principal.role },
      contributors: [principal.subject], baseRevision: base, tip, status: 'open', createdAt: at, updatedAt: at, approvals: [], comments: [],
    };
    await this.save(record);
    return { record, revision: tip, paths: request.changes.map((change) => change.path) };
  }

  async addCommit(id: number, request: AddCommit): Promise<ChangeRequestSummary> {
    return this.audited('change_request.updated', request, id, () => this.locks.run(id, async () => {
      const record = this.openRecord(id);
      const { principal } = request;
      if (principal.subject !== record.author.subject && principal.role !== 'admin') {
        throw new NotAllowedError('not_change_request_author', `only ${record.author.subject} (the author) or an admin may add commits to change request ${id}`, { field: 'id' });
      }
      if (request.expectedTip !== undefined && request.expectedTip !== record.tip) throw this.moved(record);
      const message = validateCommitMessage(request.message);
      checkFileChanges(request.changes, this.options.limits);
      const tip = await this.options.branches.commit({
        id, parent: record.tip, expectedTip: record.tip, changes: request.changes, message, author: identityOf(principal), trailers: this.trailers(request, id),
      });
      const contributors = record.contributors.includes(principal.subject) ? record.contributors : [...record.contributors, principal.subject];
      // New commits are not what anyone approved: approvals are reset.
      const updated: ChangeRequestRecord = { ...record, tip, contributors, approvals: [], updatedAt: this.now() };
      await this.save(updated);
      return { record: updated, revision: tip, paths: request.changes.map((change) => change.path) };
    })).then((record) => this.validateNow(record.id));
  }

  async comment(id: number, request: ChangeRequestContext & { body: string }): Promise<Comment> {
    const record = await this.audited('change_request.commented', request, id, () => this.locks.run(id, async () => {
      const current = this.find(id);
      const body = checkText(request.body, 'body', TEXT_LIMITS.comment, true)!;
      if (current.comments.length >= TEXT_LIMITS.comments) throw new InputError('too_many_comments', `change request ${id} has ${TEXT_LIMITS.comments} comments; no more are taken`, { field: 'body' });
      const comment = { id: current.comments.length + 1, subject: request.principal.subject, name: request.principal.name, body, at: this.now() };
      const updated = { ...current, comments: [...current.comments, comment], updatedAt: this.now() };
      await this.save(updated);
      return { record: updated };
    }));
    return record.comments[record.comments.length - 1]!;
  }

  async approve(id: number, request: ChangeRequestContext & { comment?: string; expectedTip?: Revision }): Promise<ChangeRequestSummary> {
    const record = await this.audited('change_request.approved', request, id, () => this.locks.run(id, async () => {
      const current = this.openRecord(id);
      const { principal } = request;
      if (principal.role !== 'admin') throw new NotAllowedError('missing_role', `approving needs the 'admin' role; the token has '${principal.role}'`, { requiredRole: 'admin', role: principal.role });
      if (current.contributors.includes(principal.subject)) {
        throw new NotAllowedError('self_approval', `${principal.subject} put commits on change request ${id}; another admin must approve it (four-eyes)`, { field: 'id' });
      }
      if (request.expectedTip !== undefined && request.expectedTip !== current.tip) throw this.moved(current);
      const comment = checkText(request.comment, 'comment', TEXT_LIMITS.comment);
      const approval = { subject: principal.subject, name: principal.name, revision: current.tip, at: this.now(), ...(comment ? { comment } : {}) };
      const updated = { ...current, approvals: [...current.approvals.filter((other) => other.subject !== principal.subject), approval], updatedAt: this.now() };
      await this.save(updated);
      return { record: updated, revision: current.tip };
    }));
    return toSummary(record, await this.options.store.head());
  }

  async reject(id: number, request: ChangeRequestContext & { reason?: string }): Promise<ChangeRequestSummary> {
    const record = await this.audited('change_request.rejected', request, id, () => this.locks.run(id, async () => {
      const current = this.openRecord(id);
      const { principal } = request;
      if (principal.role !== 'admin' && principal.subject !== current.author.subject) {
        throw new NotAllowedError('not_change_request_author', `only an admin or ${current.author.subject} (the author) may reject change request ${id}`, { field: 'id' });
      }
      const reason = checkText(request.reason, 'reason', TEXT_LIMITS.comment);
      const rejection = { subject: principal.subject, name: principal.name, at: this.now(), ...(reason ? { reason } : {}) };
      const updated: ChangeRequestRecord = { ...current, status: 'rejected', rejection, updatedAt: this.now() };
      await this.save(updated);
      return { record: updated, revision: current.tip };
    }));
    return toSummary(record, await this.options.store.head());
  }

  /**
   * Merges an approved change request that is valid on the current head, as configured: a fast-forward
   * to its tip (only when it sits on the current head) or a merge commit authored by the merging admin
   * with the request's changes applied to head. Either way the branch moves by compare-and-swap, so a
   * concurrent write or merge makes this one fail with `head_moved` and change nothing.
   */
  async merge(id: number, request: ChangeRequestContext): Promise<MergeResult> {
    const { store, branches, checks, mergeStrategy: strategy } = this.options;
    const merged = await this.audited('change_request.merged', request, id, () => this.locks.run(id, async () => {
      const record = this.openRecord(id);
      const { principal } = request;
      if (principal.role !== 'admin') throw new NotAllowedError('missing_role', `merging needs the 'admin' role; the token has '${principal.role}'`, { requiredRole: 'admin', role: principal.role });
      if ((await branches.tip(id)) !== record.tip) throw this.moved(record);
      const approvals = currentApprovals(record);
      if (approvals.length === 0) throw new ConflictError('not_approved', `change request ${id} has no approval of its current tip by an admin other than its authors`, { field: 'id', tip: record.tip });
      const head = await store.head();
      if (!head) throw new ConflictError('no_head', `branch ${store.branch} has no commits`, {});
      // A current validation is reused (its checks ran on exactly this tip merged onto this head).
      const prepared = await checks.prepare(record, head, record.validation);
      if (prepared.validation !== record.validation) await this.save({ ...record, validation: prepared.validation });
      const { validation } = prepared;
      if (validation.conflicts.length > 0) throw new ConflictError('merge_conflict', `change request ${id} conflicts with ${store.branch} in ${validation.conflicts.join(', ')}`, { files: validation.conflicts, problems: validation.problems, head });
      if (!validation.ok) {
        const first = validation.problems[0];
        throw new BuildError('validation_failed', `change request ${id} does not pass validation on ${head}${first ? `: ${first.file ? `${first.file}${first.line ? `:${first.line}` : ''}: ` : ''}${first.message}` : ''}`, { problems: validation.problems, tests: validation.tests, head, file: first?.file, line: first?.line });
      }
      let revision: Revision;
      if (strategy === 'fast-forward') {
        if (!(await store.isAncestor(head, record.tip))) {
          throw new ConflictError('not_fast_forward', `change request ${id} is based on ${record.baseRevision}, but ${store.branch} is at ${head} (hint: a merge commit strategy merges it; or re-propose it on head)`, { head, field: 'id' });
        }
        ({ revision } = await store.fastForward({ revision: record.tip, expectedHead: head }));
      } else {
        const approvedBy = approvals.map((approval) => oneLine(approval.subject)).join(', ');
        ({ revision } = await store.commit({
          changes: prepared.changes, extraParents: [record.tip], expectedHead: head, author: identityOf(principal),
          message: `Merge change request #${id}: ${record.title}`, trailers: { ...this.trailers(request, id), 'Regent-Approved-By': approvedBy },
        }));
      }
      const latest = this.find(id);
      const updated: ChangeRequestRecord = { ...latest, status: 'merged', merge: { subject: principal.subject, name: principal.name, at: this.now(), revision, strategy }, updatedAt: this.now() };
      await this.save(updated);
      return { record: updated, revision, baseRevision: head, paths: prepared.changes.map((change) => change.path) };
    }));
    const activation = await this.options.activation.awaitOutcome(merged.merge!.revision, this.options.limits.activationWaitMs);
    return { changeRequest: toSummary(merged, await store.head()), revision: merged.merge!.revision, strategy, activation };
  }

  /** Validates a change request now (after a write to it), keeping a failure to run the checks for the background revalidation. */
  private async validateNow(id: number): Promise<ChangeRequestSummary> {
    await this.revalidator.revalidate(id);
    return toSummary(this.find(id), await this.options.store.head());
  }

  private find(id: number): ChangeRequestRecord {
    const record = this.records.get(id);
    if (!record) throw new NotFoundError('change_request_not_found', `no change request ${id}`, { field: 'id' });
    return record;
  }

  private openRecord(id: number): ChangeRequestRecord {
    const record = this.find(id);
    if (record.status !== 'open') throw new ConflictError('change_request_closed', `change request ${id} is ${record.status}`, { field: 'id', state: record.status });
    return record;
  }

  private moved(record: ChangeRequestRecord): ConflictError {
    return new ConflictError('change_request_moved', `change request ${record.id} is now at ${record.tip} (hint: review it again)`, { field: 'tip', tip: record.tip });
  }

  /**
   * A commit added to a request just before a crash moved its ref but not its record: the record then
   * names an older tip and every later change would be refused as `change_request_moved`. At start-up a
   * ref that continues the recorded tip is adopted, its author (the `Regent-Actor` trailer) joins the
   * contributors, approvals of the old tip no longer count, and the adoption is audited.
   */
  private async recoverTip(record: ChangeRequestRecord): Promise<void> {
    const { store, branches, audit, logger } = this.options;
    const tip = await branches.tip(record.id);
    if (!tip || tip === record.tip) return;
    if (!(await store.isAncestor(record.tip, tip))) {
      logger.warn({ changeRequest: record.id, recordedTip: record.tip, refTip: tip }, 'change request ref does not continue its recorded tip; left as recorded');
      return;
    }
    const actor = /^(.*) \([a-z]+\)$/.exec(trailerValue(parseTrailers((await store.show(tip)).message), 'Regent-Actor') ?? '')?.[1];
    const contributors = actor && !record.contributors.includes(actor) ? [...record.contributors, actor] : record.contributors;
    await this.save({ ...record, tip, contributors, validation: undefined, updatedAt: this.now() });
    await audit.append({
      action: 'change_request.updated', outcome: 'success', subject: actor ?? 'system', revision: tip, changeRequest: String(record.id), message: record.title,
      detail: `recovered at start-up: the ref had moved from ${record.tip} before Regent stopped`,
    });
    logger.warn({ changeRequest: record.id, from: record.tip, to: tip }, 'change request tip recovered at start-up');
  }

  private async save(record: ChangeRequestRecord): Promise<void> {
    await this.options.repository.save(record);
    this.records.set(record.id, record);
  }

  private trailers(context: ChangeRequestContext, id: number): Record<string, string> {
    return {
      'Regent-Change-Request': String(id),
      'Regent-Request-Id': oneLine(context.requestId),
      'Regent-Actor': `${oneLine(context.principal.subject)} (${context.principal.role})`,
    };
  }

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }

  private async audited(
    action: AuditAction,
    context: ChangeRequestContext,
    id: number | undefined,
    run: () => Promise<{ record: ChangeRequestRecord; revision?: Revision; baseRevision?: Revision; paths?: string[] }>,
  ): Promise<ChangeRequestRecord> {
    const { audit, logger } = this.options;
    const base = { subject: context.principal.subject, role: context.principal.role, requestId: context.requestId, changeRequest: id === undefined ? undefined : String(id) };
    let outcome: Awaited<ReturnType<typeof run>>;
    try {
      outcome = await run();
    } catch (error) {
      const reason = isRegentError(error) ? error.code : 'internal_error';
      await audit.append({ ...base, action: 'change_request.refused', outcome: 'refused', reason, detail: `${action}: ${(error as Error).message}` });
      markAudited(error);
      logger.info({ ...base, action, reason }, 'change request action refused');
      throw error;
    }
    const { record, revision, baseRevision, paths } = outcome;
    base.changeRequest = String(record.id);
    await audit.append({ ...base, action, outcome: 'success', revision, baseRevision, paths: paths?.length ? paths : undefined, message: record.title });
    logger.info({ ...base, action, revision, state: stateOf(record) }, 'change request updated');
    return record;
  }
}

function identityOf(principal: Principal): { name: string; email: string } {
  return { name: principal.name, email: principal.email };
}

function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 200) || '?';
}

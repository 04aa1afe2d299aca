import type { ActivationOutcome, ActivationPipeline } from '../activation/activation-pipeline.js';
import type { AuditAction, AuditLog } from '../audit/audit-log.js';
import { markAudited } from '../audit/audited-error.js';
import type { Principal } from '../auth/principal.js';
import { BuildError, ConflictError, InputError, isRegentError, NotAllowedError, UnprocessableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { FileChange, PolicyStore, Revision } from '../store/policy-store.js';
import type { ChangeValidator, ValidationReport } from './change-validator.js';
import { checkFileChanges } from './change-limits.js';
import { validateCommitMessage } from './commit-message.js';
import { commitRebasingOnRemote } from './remote-rebase.js';

export interface ChangeLimits {
  maxFileBytes: number;
  maxFilesPerChange: number;
  /** How long `apply` waits for the new revision to become active. */
  activationWaitMs: number;
}

export interface ChangeContext {
  principal: Principal;
  requestId: string;
}

export interface ApplyChangeRequest extends ChangeContext {
  changes: readonly FileChange[];
  message: string;
  /** The revision the change was made against; the write is refused (409) if head moved since. */
  baseRevision: Revision;
}

export interface RollbackRequest extends ChangeContext {
  target: Revision;
  baseRevision: Revision;
  message?: string;
}

export interface ChangeResult {
  revision: Revision;
  parent: Revision;
  paths: string[];
  /** Whether the revision is serving yet (`active`), still activating (`pending`), or failed at activation. */
  activation: ActivationOutcome;
  /** Where the time went, in milliseconds (also sent as `Server-Timing`). */
  timings: WriteTimings;
}

export interface WriteTimings {
  /** Real OPA (check, tests) and the bundle builder's dry run on the candidate tree. */
  validateMs: number;
  /** The git commit and compare-and-swap (and in remote mode the push, and any re-creation on a moved remote). */
  commitMs: number;
  /** From the commit until the revision was active (or the wait ended). */
  activateMs: number;
}

async function timed<T>(timings: WriteTimings, step: keyof WriteTimings, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await run();
  } finally {
    timings[step] += Math.round((performance.now() - started) * 10) / 10;
  }
}

export interface PolicyChangeServiceOptions {
  store: PolicyStore;
  validator: ChangeValidator;
  activation: ActivationPipeline;
  audit: AuditLog;
  limits: ChangeLimits;
  logger: Logger;
  /**
   * Four-eyes mode (`changeRequests.requireApproval`): every write here (file writes, multi-file
   * changes, generated modules, rollbacks) is refused with `NotAllowedError` `approval_required`, so
   * the tracked branch only moves through approved change requests (or outside Regent).
   */
  requireApproval?: boolean;
}

/**
 * Every write to the policy store made through Regent: validated by real OPA and the bundle builder
 * before anything is committed, committed as one commit authored by the verified principal (with
 * trailers naming the request and the actor) on top of the revision it was based on (compare-and-swap),
 * recorded in the audit log before the caller hears of it, refused writes included.
 */
export class PolicyChangeService {
  private constructor(private readonly options: PolicyChangeServiceOptions) {}

  static create(options: PolicyChangeServiceOptions): PolicyChangeService {
    return new PolicyChangeService(options);
  }

  /** Dry run: what the checks say about a change, without committing. */
  async validate(baseRevision: Revision, changes: readonly FileChange[]): Promise<ValidationReport> {
    this.checkChanges(changes);
    return this.options.validator.validate(baseRevision, changes, 'interactive');
  }

  async apply(request: ApplyChangeRequest): Promise<ChangeResult> {
    const paths = request.changes.map((change) => change.path);
    return this.audited('policy.write', request, paths, async () => {
      this.checkDirectWritesAllowed();
      const message = validateCommitMessage(request.message);
      this.checkChanges(request.changes);
      await this.checkBase(request.baseRevision);
      const timings: WriteTimings = { validateMs: 0, commitMs: 0, activateMs: 0 };
      await timed(timings, 'validateMs', () => this.checkValid(request.baseRevision, request.changes));
      return this.commit(request, { changes: request.changes, message, paths }, timings);
    });
  }

  /** A new commit whose tree equals `target`'s: history is never rewritten. */
  async rollback(request: RollbackRequest): Promise<ChangeResult> {
    return this.audited('policy.rollback', request, [], async () => {
      this.checkDirectWritesAllowed();
      const { store } = this.options;
      const message = validateCommitMessage(request.message ?? `Roll back to ${request.target}`);
      await this.checkBase(request.baseRevision);
      if (!(await store.isAncestor(request.target, request.baseRevision))) {
        throw new UnprocessableError('revision_not_in_history', `${request.target} is not in the tracked branch's history: a rollback restores an earlier version (hint: propose other trees as a change)`, { field: 'revision' });
      }
      const [targetTree, baseTree] = await Promise.all([store.treeOf(request.target), store.treeOf(request.baseRevision)]);
      if (targetTree === baseTree) throw new InputError('no_changes', `head already has the tree of ${request.target}`, { field: 'revision' });
      const diff = await store.diff(request.baseRevision, request.target);
      const targetEntries = new Map((await store.listTree(request.target)).map((entry) => [entry.path, entry]));
      const blobs = await store.readBlobs([...targetEntries.values()].filter((entry) => diff.files.some((file) => file.path === entry.path)).map((entry) => entry.blobId));
      const changes: FileChange[] = diff.files.flatMap((file): FileChange[] => {
        const entry = targetEntries.get(file.path);
        const removed: FileChange[] = file.oldPath && !targetEntries.has(file.oldPath) ? [{ op: 'delete', path: file.oldPath }] : [];
        return entry ? [...removed, { op: 'put', path: file.path, content: blobs.get(entry.blobId)! }] : [...removed, { op: 'delete', path: file.path }];
      });
      const timings: WriteTimings = { validateMs: 0, commitMs: 0, activateMs: 0 };
      await timed(timings, 'validateMs', () => this.checkValid(request.baseRevision, changes));
      const fullMessage = request.message ? message : `Roll back to ${request.target.slice(0, 12)}\n\nRestores the tree of ${request.target}.`;
      return this.commit(request, { changes: [], tree: targetTree, rebaseChanges: changes, message: fullMessage, paths: diff.files.map((file) => file.path), rollbackOf: request.target }, timings);
    });
  }

  private checkChanges(changes: readonly FileChange[]): void {
    checkFileChanges(changes, this.options.limits);
  }

  private checkDirectWritesAllowed(): void {
    if (this.options.requireApproval) {
      throw new NotAllowedError('approval_required', 'changes to the tracked branch need an approved change request here (hint: POST /api/change-requests)', { field: 'changeRequests.requireApproval' });
    }
  }

  private async checkBase(baseRevision: Revision): Promise<void> {
    const head = await this.options.store.head();
    if (head !== baseRevision) {
      throw new ConflictError('head_moved', `the change was based on ${baseRevision} but head is now ${head}; re-read and retry`, { head, field: 'baseRevision' });
    }
  }

  private async checkValid(baseRevision: Revision, changes: readonly FileChange[]): Promise<void> {
    const report = await this.options.validator.validate(baseRevision, changes);
    if (!report.ok) {
      const first = report.problems[0]!;
      throw new BuildError('validation_failed', `the change does not pass validation: ${first.file ? `${first.file}${first.line ? `:${first.line}` : ''}: ` : ''}${first.message}`, { problems: report.problems, tests: report.tests, file: first.file, line: first.line, column: first.column });
    }
  }

  private async commit(context: ChangeContext & { baseRevision: Revision }, commit: { changes: readonly FileChange[]; tree?: string; rebaseChanges?: readonly FileChange[]; message: string; paths: string[]; rollbackOf?: Revision }, timings: WriteTimings): Promise<ChangeResult> {
    const { store, activation, limits } = this.options;
    const { principal } = context;
    const trailers: Record<string, string> = {
      'Regent-Request-Id': context.requestId,
      'Regent-Actor': `${principal.subject} (${principal.role})`,
    };
    if (commit.rollbackOf) trailers['Regent-Rollback-Of'] = commit.rollbackOf;
    // In remote mode a push the remote refused (it moved) is retried on its new tip when this change's files are untouched there.
    const changes = commit.rebaseChanges ?? commit.changes;
    const result = await timed(timings, 'commitMs', () => commitRebasingOnRemote(store, {
      changes: commit.changes,
      tree: commit.tree,
      message: commit.message,
      author: { name: principal.name, email: principal.email },
      expectedHead: context.baseRevision,
      trailers,
    }, { paths: [...commit.paths, ...changes.map((change) => change.path)], changes, revalidate: (base) => this.checkValid(base, changes) }));
    const outcome = await timed(timings, 'activateMs', () => activation.awaitOutcome(result.revision, limits.activationWaitMs));
    return { revision: result.revision, parent: result.parent ?? context.baseRevision, paths: commit.paths, activation: outcome, timings };
  }

  private async audited(action: AuditAction, context: ChangeContext & { baseRevision: Revision }, paths: string[], run: () => Promise<ChangeResult>): Promise<ChangeResult> {
    const { audit, logger } = this.options;
    const base = { subject: context.principal.subject, role: context.principal.role, requestId: context.requestId, baseRevision: context.baseRevision };
    let result: ChangeResult;
    try {
      result = await run();
    } catch (error) {
      const reason = isRegentError(error) ? error.code : 'internal_error';
      await audit.append({ ...base, action: 'write.refused', outcome: 'refused', paths, reason, detail: (error as Error).message });
      markAudited(error);
      logger.info({ ...base, action, reason }, 'write refused');
      throw error;
    }
    await audit.append({ ...base, action, outcome: 'success', revision: result.revision, paths: result.paths });
    logger.info({ ...base, action, revision: result.revision, paths: result.paths, activation: result.activation.state, ...result.timings }, 'policy change committed');
    return result;
  }
}

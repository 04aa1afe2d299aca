import type { ActivationOutcome, ActivationPipeline, ActivationStatus } from '../activation/activation-pipeline.js';
import type { AuditLog } from '../audit/audit-log.js';
import { markAudited } from '../audit/audited-error.js';
import type { Principal } from '../auth/principal.js';
import { BuildError, InputError, isRegentError, NotFoundError, UnprocessableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ValidationReport } from '../policies/change-validator.js';
import { validateCommitMessage } from '../policies/commit-message.js';
import type { PolicyStore, Revision } from '../store/policy-store.js';
import type { RevisionResolver } from '../store/revision-resolver.js';
import type { EnvironmentRef } from './environment-ref.js';

/** Environment names: lower case, a letter first, at most 32 characters (they are URL path segments). */
export const ENVIRONMENT_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** One environment: its ref and the activation pipeline that serves what the ref names. */
export interface Environment {
  name: string;
  ref: EnvironmentRef;
  activation: Pick<ActivationPipeline, 'status' | 'awaitOutcome'>;
}

export interface EnvironmentServiceOptions {
  environments: readonly Environment[];
  /** The tracked branch: promotions only take revisions of its history. */
  store: Pick<PolicyStore, 'head' | 'isAncestor'>;
  resolver: Pick<RevisionResolver, 'resolve'>;
  /** The checks of every write (real OPA, the builder's dry run), on the revision as it is. */
  validator: { validate(base: Revision, changes: readonly []): Promise<ValidationReport> };
  audit: AuditLog;
  /** How long a promotion waits for the environment to serve the new revision. */
  activationWaitMs: number;
  logger: Logger;
}

export interface PromoteRequest {
  environment: string;
  /** A revision of the tracked branch's history: a SHA, `head`, `active`, or a branch/tag name. */
  revision: string;
  /** The commit the environment names now (If-Match); `null`: it must not exist yet (If-None-Match: *). */
  expected: Revision | null;
  message?: unknown;
  principal: Principal;
  requestId: string;
}

export interface PromoteResult {
  environment: string;
  ref: string;
  from: Revision | null;
  revision: Revision;
  activation: ActivationOutcome;
}

export interface EnvironmentView {
  name: string;
  ref: string;
  kind: 'tag' | 'branch';
  /** The commit the ref names now (null when it does not exist yet). */
  revision: Revision | null;
  activation: ActivationStatus;
}

/**
 * Environments: bundle sets that follow a tag or a branch instead of the tracked branch's head, so
 * promotion is moving the ref and rollback is moving it back. A promotion only takes a revision of the
 * tracked branch's history that passes the same checks as any write (so a revision that failed the gate
 * is refused before it is named), moves the ref by compare-and-swap on the revision the admin saw, is
 * audited (`environment.promoted`, from → to, subject), and answers once the environment serves it.
 * The ref can also be moved from outside (`git tag -f prod <sha>` into the store, or on the remote):
 * the environment's pipeline gates whatever it names, and keeps serving its last good revision if that fails.
 */
export class EnvironmentService {
  private readonly byName: ReadonlyMap<string, Environment>;
  /** Revisions a promotion through Regent is moving each environment to: their ref moves are not "outside". */
  private readonly promoting = new Map<string, Set<Revision>>();

  private constructor(private readonly options: EnvironmentServiceOptions) {
    this.byName = new Map(options.environments.map((environment) => [environment.name, environment]));
  }

  static create(options: EnvironmentServiceOptions): EnvironmentService {
    return new EnvironmentService(options);
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  /** `NotFoundError` `environment_not_found` for a name that is not configured. */
  get(name: string): Environment {
    const environment = this.byName.get(name);
    if (!environment) {
      throw new NotFoundError('environment_not_found', `no environment named '${name.slice(0, 64)}' (configured: ${this.names.join(', ') || 'none'})`, { field: 'environment' });
    }
    return environment;
  }

  async list(): Promise<EnvironmentView[]> {
    return Promise.all([...this.byName.values()].map((environment) => this.view(environment)));
  }

  async view(environment: Environment): Promise<EnvironmentView> {
    return {
      name: environment.name,
      ref: environment.ref.ref,
      kind: environment.ref.kind,
      revision: (await environment.ref.head()) ?? null,
      activation: environment.activation.status(),
    };
  }

  async promote(request: PromoteRequest): Promise<PromoteResult> {
    const environment = this.get(request.environment);
    const base = { subject: request.principal.subject, role: request.principal.role, requestId: request.requestId, environment: environment.name, baseRevision: request.expected ?? undefined };
    let result: PromoteResult;
    try {
      result = await this.promoteChecked(environment, request);
    } catch (error) {
      const reason = isRegentError(error) ? error.code : 'internal_error';
      await this.options.audit.append({ ...base, action: 'environment.refused', outcome: 'refused', reason, detail: (error as Error).message });
      markAudited(error);
      this.options.logger.info({ ...base, reason }, 'promotion refused');
      throw error;
    }
    await this.options.audit.append({ ...base, action: 'environment.promoted', outcome: 'success', revision: result.revision, detail: `${environment.ref.ref}: ${result.from ?? '(none)'} -> ${result.revision}` });
    this.options.logger.info({ ...base, from: result.from, revision: result.revision, activation: result.activation.state }, 'environment promoted');
    return result;
  }

  private async promoteChecked(environment: Environment, request: PromoteRequest): Promise<PromoteResult> {
    const { store, resolver, validator, activationWaitMs } = this.options;
    if (typeof request.revision !== 'string' || request.revision === '') {
      throw new InputError('invalid_revision', "'revision' must name a revision of the tracked branch (a commit SHA, 'head' or 'active')", { field: 'revision' });
    }
    const message = request.message === undefined ? undefined : validateCommitMessage(request.message);
    const target = await resolver.resolve(request.revision).catch((error: unknown) => {
      if (error instanceof NotFoundError) throw new UnprocessableError('revision_not_in_history', `${error.message}; an environment only takes revisions of the tracked branch`, { field: 'revision' }, { cause: error });
      throw error;
    });
    const head = await store.head();
    if (!head || !(await store.isAncestor(target, head))) {
      throw new UnprocessableError('revision_not_in_history', `${target} is not in the tracked branch's history; an environment only takes revisions of it`, { field: 'revision', revision: target });
    }
    const report = await validator.validate(target, []);
    if (!report.ok) {
      const first = report.problems[0]!;
      throw new BuildError('validation_failed', `${target} does not pass validation: ${first.file ? `${first.file}${first.line ? `:${first.line}` : ''}: ` : ''}${first.message}`, { field: 'revision', problems: report.problems, tests: report.tests, file: first.file, line: first.line });
    }
    const promoting = this.promoting.get(environment.name) ?? new Set<Revision>();
    this.promoting.set(environment.name, promoting);
    promoting.add(target);
    try {
      await environment.ref.move({
        to: target,
        expected: request.expected,
        actor: { name: request.principal.name, email: request.principal.email },
        message: message ?? `Promote ${environment.name} to ${target}`,
        trailers: { 'Regent-Request-Id': request.requestId, 'Regent-Actor': `${request.principal.subject} (${request.principal.role})` },
      });
    } catch (error) {
      promoting.delete(target);
      throw error;
    }
    const activation = await environment.activation.awaitOutcome(target, activationWaitMs);
    return { environment: environment.name, ref: environment.ref.ref, from: request.expected, revision: target, activation };
  }

  /**
   * Audits moves of the environments' refs made outside Regent (`git tag -f prod <sha>` into the store,
   * or a push on the remote that a sync brings in): `environment.moved` with the revision, and whether it
   * is in the tracked branch's history; the environment's own pipeline still gates what it serves.
   * Returns the unsubscribe function.
   */
  watchOutsideMoves(): () => void {
    const { store, audit, logger } = this.options;
    const unsubscribes = [...this.byName.values()].map((environment) => environment.ref.onHeadChange((revision) => {
      if (!revision) return;
      const promoting = this.promoting.get(environment.name);
      if (promoting?.delete(revision)) return;
      void (async () => {
        const head = await store.head();
        const inHistory = head !== undefined && await store.isAncestor(revision, head).catch(() => false);
        await audit.append({
          action: 'environment.moved', outcome: 'success', subject: 'outside', environment: environment.name, revision,
          detail: `${environment.ref.ref} moved outside Regent (a push or tag in the store or on the remote)${inHistory ? '' : '; the revision is not in the tracked branch\'s history'}`,
        });
      })().catch((error: unknown) => logger.error({ err: error, environment: environment.name, revision }, 'could not record an outside environment move'));
    }));
    return () => {
      for (const unsubscribe of unsubscribes) unsubscribe();
    };
  }
}

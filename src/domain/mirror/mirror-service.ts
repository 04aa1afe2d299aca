import type { AuditLog } from '../audit/audit-log.js';
import type { Principal } from '../auth/principal.js';
import { ConflictError, isRegentError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Revision } from '../store/policy-store.js';
import type { AcceptResult, RemoteMirror, SyncOutcome, SyncResult } from './remote-mirror.js';
import { SyncScheduler, type SyncTrigger } from './sync-scheduler.js';

export interface MirrorServiceOptions {
  mirror: RemoteMirror;
  audit: AuditLog;
  logger: Logger;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

/** `GET /status` → `mirror`. */
export interface MirrorStatus {
  url: string;
  branch: string;
  /** True when the remote is reached over plain http (`remote.allowInsecureHttp`): nothing on the wire is protected. */
  insecureHttp: boolean;
  /**
   * `fresh`: the last sync succeeded and head follows the remote; `stale`: syncs are failing (`staleSince`);
   * `diverged`: the remote rewrote history and waits for an admin (`diverged`); `missing_ref`: the
   * remote has no such branch; `initializing`: no sync has finished yet.
   */
  state: 'initializing' | 'fresh' | 'stale' | 'diverged' | 'missing_ref';
  lastOutcome: SyncOutcome | null;
  remoteTip: Revision | null;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  /** First failed sync since the last success: the mirror is stale since then. */
  staleSince: string | null;
  lastError: { code: string; message: string; at: string } | null;
  diverged: { remoteTip: Revision; head: Revision | null; since: string } | null;
  syncs: { started: number; inFlight: boolean; queued: boolean; consecutiveFailures: number; nextRetryAt: string | null; requests: Record<SyncTrigger, number> };
}

/**
 * Remote mode's state machine: schedules syncs (cron, webhooks, admins, retries) through a
 * {@link SyncScheduler}, records what they found for `/status`, audits a rewritten remote history once per
 * tip (`mirror.diverged`) while serving continues on the last good head, and lets an admin accept the new
 * history explicitly (`mirror.accepted`).
 */
export class MirrorService {
  private readonly scheduler: SyncScheduler;
  private lastOutcome: SyncOutcome | undefined;
  private remoteTip: Revision | undefined;
  private lastAttemptAt: Date | undefined;
  private lastSuccessAt: Date | undefined;
  private staleSince: Date | undefined;
  private lastError: { code: string; message: string; at: string } | undefined;
  private diverged: { remoteTip: Revision; head: Revision | null; since: string } | undefined;
  private readonly auditedDivergence = new Set<Revision>();
  /** Bumped by an accept: a sync that started before it must not put back the divergence it resolved. */
  private generation = 0;

  private constructor(private readonly options: MirrorServiceOptions) {
    this.scheduler = SyncScheduler.create({
      run: () => this.syncOnce(),
      backoffInitialMs: options.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs,
      logger: options.logger,
    });
  }

  static create(options: MirrorServiceOptions): MirrorService {
    return new MirrorService(options);
  }

  /** Asks for a sync (returns at once; syncs never overlap). */
  request(trigger: SyncTrigger): void {
    this.scheduler.request(trigger);
  }

  /** Asks for a sync and waits until one that started after the call has finished. */
  requestAndWait(trigger: SyncTrigger): Promise<void> {
    return this.scheduler.requestAndWait(trigger);
  }

  /**
   * Moves head to the diverged remote tip an admin has looked at. `ConflictError` `mirror_not_diverged`
   * when there is nothing to accept; `PreconditionFailedError` `remote_tip_changed` when the remote moved
   * again (the admin must look at the new tip). Audited either way.
   */
  async accept(remoteTip: Revision, context: { principal: Principal; requestId: string }): Promise<AcceptResult> {
    const { audit, mirror, logger } = this.options;
    const base = { subject: context.principal.subject, role: context.principal.role, requestId: context.requestId };
    let result: AcceptResult;
    try {
      if (!this.diverged) throw new ConflictError('mirror_not_diverged', 'the remote history has not diverged from head; there is nothing to accept', { field: 'remoteTip' });
      result = await mirror.accept(remoteTip);
    } catch (error) {
      await audit.append({ ...base, action: 'write.refused', outcome: 'refused', revision: remoteTip, reason: isRegentError(error) ? error.code : 'internal_error', detail: `mirror accept: ${(error as Error).message}`.slice(0, 2000) });
      throw error;
    }
    await audit.append({ ...base, action: 'mirror.accepted', outcome: 'success', revision: result.head, baseRevision: result.previousHead, detail: result.archiveRef ? `previous history kept at ${result.archiveRef}` : undefined });
    logger.warn({ ...base, head: result.head, previousHead: result.previousHead, archiveRef: result.archiveRef }, 'remote history accepted by an admin');
    this.generation++;
    this.diverged = undefined;
    this.lastOutcome = 'fast_forwarded';
    this.remoteTip = result.head;
    return result;
  }

  status(): MirrorStatus {
    const scheduler = this.scheduler.state();
    const state: MirrorStatus['state'] = this.staleSince ? 'stale'
      : this.diverged ? 'diverged'
        : this.lastOutcome === 'missing_ref' ? 'missing_ref'
          : this.lastSuccessAt ? 'fresh' : 'initializing';
    return {
      ...this.options.mirror.description,
      state,
      lastOutcome: this.lastOutcome ?? null,
      remoteTip: this.remoteTip ?? null,
      lastAttemptAt: iso(this.lastAttemptAt),
      lastSuccessAt: iso(this.lastSuccessAt),
      staleSince: iso(this.staleSince),
      // /status is public: the first line of the error only (git's stderr can say more than needed).
      lastError: this.lastError ? { ...this.lastError, message: this.lastError.message.split('\n', 1)[0]!.slice(0, 200) } : null,
      diverged: this.diverged ?? null,
      syncs: {
        started: scheduler.runs, inFlight: scheduler.running, queued: scheduler.queued, consecutiveFailures: scheduler.consecutiveFailures,
        nextRetryAt: iso(scheduler.nextRetryAt), requests: scheduler.requests,
      },
    };
  }

  /** Stops scheduling; resolves once the sync in flight has finished. */
  stop(): Promise<void> {
    return this.scheduler.stop();
  }

  private async syncOnce(): Promise<void> {
    const started = new Date();
    const generation = this.generation;
    this.lastAttemptAt = started;
    let result: SyncResult;
    try {
      result = await this.options.mirror.sync();
    } catch (error) {
      this.staleSince ??= started;
      this.lastError = { code: isRegentError(error) ? error.code : 'remote_unavailable', message: (error as Error).message.slice(0, 1000), at: started.toISOString() };
      throw error;
    }
    this.lastSuccessAt = new Date();
    this.staleSince = undefined;
    this.lastError = undefined;
    if (generation !== this.generation) return;
    this.lastOutcome = result.outcome;
    this.remoteTip = result.remoteTip;
    if (result.outcome === 'diverged') {
      await this.recordDivergence(result);
    } else if (result.outcome !== 'missing_ref') {
      this.diverged = undefined;
    }
    if (result.outcome === 'fast_forwarded') this.options.logger.info({ from: result.previousHead, to: result.head }, 'head fast-forwarded from the remote');
    if (result.outcome === 'missing_ref') this.options.logger.warn({ branch: this.options.mirror.description.branch }, 'the remote has no such branch; serving continues');
  }

  private async recordDivergence(result: SyncResult): Promise<void> {
    const remoteTip = result.remoteTip!;
    if (this.diverged?.remoteTip !== remoteTip) this.diverged = { remoteTip, head: result.head ?? null, since: new Date().toISOString() };
    if (this.auditedDivergence.has(remoteTip)) return;
    this.auditedDivergence.add(remoteTip);
    // Bounded: a remote force-pushed over and over must not grow this without end.
    if (this.auditedDivergence.size > 100) this.auditedDivergence.delete(this.auditedDivergence.values().next().value as Revision);
    this.options.logger.error({ remoteTip, head: result.head }, 'remote history diverged from head (force-push?); serving continues on head until an admin accepts it');
    await this.options.audit.append({
      action: 'mirror.diverged', outcome: 'refused', subject: 'system', revision: remoteTip, baseRevision: result.head, reason: 'remote_diverged',
      detail: `the remote branch ${this.options.mirror.description.branch} at ${remoteTip} does not descend from head ${result.head ?? '(none)'}; accept with POST /api/mirror/accept`,
    });
  }
}

function iso(date: Date | undefined): string | null {
  return date ? date.toISOString() : null;
}

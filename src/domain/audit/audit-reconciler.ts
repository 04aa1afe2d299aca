import type { Logger } from '../logger.js';
import { parseTrailers, trailerValue } from '../store/commit-trailers.js';
import type { PolicyStore, Revision, VersionInfo } from '../store/policy-store.js';
import type { AuditAction, AuditLog } from './audit-log.js';

export interface ReconcileOptions {
  store: Pick<PolicyStore, 'log'>;
  audit: AuditLog;
  logger: Logger;
  /** How many recent commits of the tracked branch to look at. */
  depth?: number;
  /**
   * The revisions this store's own commits moved the branch to (its reflog). Only they can be this
   * Regent's unrecorded writes: in remote mode the branch also receives, by fetch, the writes of other
   * replicas, which carry the same trailers and are on record in their own audit logs. Undefined when
   * the store cannot tell: then every commit with Regent trailers counts, as in local mode.
   */
  committedHere?: ReadonlySet<Revision>;
}

/** The actions whose record names the commit the write produced. */
const WRITE_ACTIONS: ReadonlySet<AuditAction> = new Set<AuditAction>(['policy.write', 'policy.rollback', 'change_request.created', 'change_request.updated', 'change_request.merged']);

/** Audit records read to find which recent revisions are on record. */
const AUDIT_WINDOW = 500;

/**
 * Closes the one gap a crash can leave between git and the audit log. Regent commits, then appends the
 * audit record, then answers; a process killed between the first two steps leaves a commit (with its
 * `Regent-Request-Id` and `Regent-Actor` trailers) that the audit log does not mention, although it is on
 * the branch and will be served. At start-up, every such recent commit is recorded, oldest first, with
 * the actor and request id its trailers name and a detail saying it was recorded late. Commits without
 * Regent trailers (a `git push` into the store, a mirrored merge) are not writes made through Regent and
 * are left alone, and so are those this store did not commit itself (`committedHere`: another replica's
 * writes, fetched from the remote). Returns how many records were added.
 */
export async function reconcileAuditWithHistory(options: ReconcileOptions): Promise<number> {
  const { store, audit, logger } = options;
  const versions = await store.log({ limit: options.depth ?? 50 });
  if (versions.length === 0) return 0;
  const { records } = await audit.query({ limit: AUDIT_WINDOW });
  // Only records of the writes that made a commit count: activations, approvals or promotions name
  // revisions too, but say nothing of who wrote them.
  const onRecord = new Set(records.filter((record) => WRITE_ACTIONS.has(record.action)).map((record) => record.revision).filter((revision) => revision !== undefined));
  const missing: VersionInfo[] = [];
  for (const version of versions) {
    if (onRecord.has(version.revision)) break;
    const ours = options.committedHere?.has(version.revision) ?? true;
    if (ours && trailerValue(parseTrailers(version.message), 'Regent-Request-Id') !== undefined) missing.push(version);
  }
  for (const version of missing.reverse()) {
    const trailers = parseTrailers(version.message);
    const actor = /^(.*) \(([a-z]+)\)$/.exec(trailerValue(trailers, 'Regent-Actor') ?? '');
    await audit.append({
      action: actionOf(trailers),
      outcome: 'success',
      subject: actor?.[1],
      role: actor?.[2],
      requestId: trailerValue(trailers, 'Regent-Request-Id'),
      revision: version.revision,
      baseRevision: version.parents[0],
      paths: version.files.map((file) => file.path),
      detail: 'recorded at start-up: Regent stopped after this commit and before its audit record, so the request got no answer',
    });
    logger.warn({ revision: version.revision }, 'audit record added for a commit written just before a crash');
  }
  return missing.length;
}

function actionOf(trailers: ReturnType<typeof parseTrailers>): AuditAction {
  if (trailerValue(trailers, 'Regent-Rollback-Of') !== undefined) return 'policy.rollback';
  if (trailerValue(trailers, 'Regent-Change-Request') !== undefined) return 'change_request.merged';
  return 'policy.write';
}

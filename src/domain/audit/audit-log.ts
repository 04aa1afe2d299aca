import type { Revision } from '../store/policy-store.js';

/** What happened. Closed set: auditors filter on it. */
export type AuditAction =
  | 'policy.write'
  | 'policy.rollback'
  | 'write.refused'
  | 'auth.refused'
  | 'activation.succeeded'
  | 'activation.rejected'
  | 'change_request.created'
  | 'change_request.updated'
  | 'change_request.commented'
  | 'change_request.approved'
  | 'change_request.rejected'
  | 'change_request.merged'
  | 'change_request.refused'
  | 'mirror.diverged'
  | 'mirror.accepted'
  | 'environment.promoted'
  | 'environment.moved'
  | 'environment.refused'
  | 'fleet.converged'
  | 'fleet.stuck';

const ACTIONS: Readonly<Record<AuditAction, true>> = {
  'policy.write': true,
  'policy.rollback': true,
  'write.refused': true,
  'auth.refused': true,
  'activation.succeeded': true,
  'activation.rejected': true,
  'change_request.created': true,
  'change_request.updated': true,
  'change_request.commented': true,
  'change_request.approved': true,
  'change_request.rejected': true,
  'change_request.merged': true,
  'change_request.refused': true,
  'mirror.diverged': true,
  'mirror.accepted': true,
  'environment.promoted': true,
  'environment.moved': true,
  'environment.refused': true,
  'fleet.converged': true,
  'fleet.stuck': true,
};

/** Every {@link AuditAction}, for validating filters and records at the edges (the type stays the source of truth). */
export const AUDIT_ACTIONS: readonly AuditAction[] = Object.freeze(Object.keys(ACTIONS) as AuditAction[]);

export function isAuditAction(value: unknown): value is AuditAction {
  return typeof value === 'string' && Object.hasOwn(ACTIONS, value);
}

export interface AuditRecordInput {
  action: AuditAction;
  /** `success` or `refused` / `failed`. */
  outcome: 'success' | 'refused' | 'failed';
  /** The verified subject, when there is one (`anonymous` for refused authentication). */
  subject?: string;
  role?: string;
  requestId?: string;
  /** Revision produced (writes, rollbacks, activations) or concerned. */
  revision?: Revision;
  /** The revision the change was based on. */
  baseRevision?: Revision;
  /** The change request concerned (`change_request.*` actions). */
  changeRequest?: string;
  /** The environment concerned (`environment.*` actions, and activations of an environment's ref). */
  environment?: string;
  paths?: string[];
  message?: string;
  /** Machine-readable reason for refusals and failures (an error code). */
  reason?: string;
  detail?: string;
}

export interface AuditRecord extends AuditRecordInput {
  /** Monotonic sequence number, from 1. */
  seq: number;
  at: string;
  /** SHA-256 of the previous record's line: the log is a hash chain, so edits show. */
  prev: string;
}

export interface AuditQuery {
  subject?: string;
  path?: string;
  action?: AuditAction;
  since?: string;
  until?: string;
  /** Records with seq < before (paging backwards, newest first). */
  before?: number;
  limit?: number;
}

/** Where a hash chain first fails to hold: this line, or the one before it, is not what was written. */
export interface AuditChainBreak {
  /** The log file, as operators name it (relative to the data directory). */
  file: string;
  /** 1-based line. */
  line: number;
  /** The `seq` written on that line, or null when the line is not a record. */
  seq: number | null;
  reason: string;
}

/** Whether the log's hash chain held when it was opened (`GET /status` → `audit`, `GET /api/audit`). */
export interface AuditChainState {
  chain: 'ok' | 'broken';
  brokenAt: AuditChainBreak | null;
}

/**
 * Append-only audit trail. `append` resolves only once the record is durable (flushed to disk), so
 * an answered request is always on record. A log whose chain is broken appends nothing: `append`
 * rejects with `UnavailableError` `audit_chain_broken`, so no record lands silently after a break.
 */
export interface AuditLog {
  append(record: AuditRecordInput): Promise<AuditRecord>;
  /** Newest first. */
  query(query: AuditQuery): Promise<{ records: AuditRecord[]; nextBefore?: number }>;
  /** The chain's state as found when the log was opened. */
  chain(): AuditChainState;
}

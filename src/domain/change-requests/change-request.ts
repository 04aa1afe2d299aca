import type { GateProblem } from '../candidates/policy-gate.js';
import type { Role } from '../auth/principal.js';
import type { FileChange, Identity, Revision } from '../store/policy-store.js';

/**
 * A change request: proposed commits on their own ref (`refs/regent/change-requests/<id>`) on top of a
 * revision of the tracked branch, reviewed inside Regent (four-eyes) before they merge. The record is
 * what Regent keeps about it in the data directory; the commits are in the store.
 */

/** Stored lifecycle. `approved` is not stored: it is derived (open + an approval of the current tip). */
export type ChangeRequestStatus = 'open' | 'rejected' | 'merged';
/** What clients see and filter on. */
export type ChangeRequestState = 'open' | 'approved' | 'rejected' | 'merged';
export const CHANGE_REQUEST_STATES: readonly ChangeRequestState[] = ['open', 'approved', 'rejected', 'merged'];

export type MergeStrategy = 'fast-forward' | 'merge-commit';

/** Someone who acted on a change request: always from a verified token. */
export interface Actor extends Identity {
  subject: string;
  role: Role;
}

export interface Approval {
  subject: string;
  name: string;
  /** The tip approved: an approval counts only while the change request's tip is still this commit. */
  revision: Revision;
  at: string;
  comment?: string;
}

export interface Comment {
  id: number;
  subject: string;
  name: string;
  body: string;
  at: string;
}

/** The checks of a change request merged onto one head, as the activation gate would run them. */
export interface ChangeRequestValidation {
  /** The tracked branch's head the change was merged onto and validated against. */
  head: Revision;
  /** The change request's tip that was validated. */
  tip: Revision;
  ok: boolean;
  /** Files changed both by the change request and on the branch since its base, differently. */
  conflicts: string[];
  problems: GateProblem[];
  tests: { passed: number; failed: number; errored: number };
  bundles: string[];
  at: string;
}

export interface ChangeRequestRecord {
  id: number;
  title: string;
  description: string;
  author: Actor;
  /** Subjects who put commits on the change request (the author first): none of them may approve it. */
  contributors: string[];
  /** The tracked branch's revision the commits sit on. */
  baseRevision: Revision;
  tip: Revision;
  status: ChangeRequestStatus;
  createdAt: string;
  updatedAt: string;
  approvals: Approval[];
  comments: Comment[];
  validation?: ChangeRequestValidation;
  rejection?: { subject: string; name: string; at: string; reason?: string };
  merge?: { subject: string; name: string; at: string; revision: Revision; strategy: MergeStrategy | 'detected' };
}

/** The state clients see: `approved` while open with an approval of the current tip. */
export function stateOf(record: ChangeRequestRecord): ChangeRequestState {
  if (record.status !== 'open') return record.status;
  return currentApprovals(record).length > 0 ? 'approved' : 'open';
}

export function currentApprovals(record: ChangeRequestRecord): Approval[] {
  return record.approvals.filter((approval) => approval.revision === record.tip && !record.contributors.includes(approval.subject));
}

/** Where the change requests' records live (the data directory). Writes are durable before they resolve. */
export interface ChangeRequestRepository {
  /** Every record, in id order. */
  loadAll(): Promise<ChangeRequestRecord[]>;
  save(record: ChangeRequestRecord): Promise<void>;
}

export interface BranchCommitOptions {
  id: number;
  /** The commit the new commit goes on top of: the base for a new change request, else its tip. */
  parent: Revision;
  /** The ref's current value for the compare-and-swap; `null` when the ref must not exist yet. */
  expectedTip: Revision | null;
  changes: readonly FileChange[];
  message: string;
  author: Identity;
  trailers: Readonly<Record<string, string>>;
}

/**
 * The change requests' refs in the store. Each is moved by compare-and-swap only: a write whose expected
 * tip is stale is refused with `ConflictError` `change_request_moved` and changes nothing.
 */
export interface ChangeRequestBranches {
  /** One commit of `changes` on `parent`, moved onto the change request's ref. */
  commit(options: BranchCommitOptions): Promise<Revision>;
  /** The ref's current commit, or undefined when there is no such ref. */
  tip(id: number): Promise<Revision | undefined>;
  /** Ids of every change request ref (records may be missing for refs written just before a crash). */
  ids(): Promise<number[]>;
}

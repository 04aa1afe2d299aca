import { InputError } from '../errors.js';
import type { Diff, Revision, VersionInfo } from '../store/policy-store.js';
import {
  CHANGE_REQUEST_STATES, currentApprovals, stateOf,
  type Approval, type ChangeRequestRecord, type ChangeRequestState, type ChangeRequestValidation, type Comment,
} from './change-request.js';

/** A change request as clients see it in a listing. */
export interface ChangeRequestSummary {
  id: number;
  title: string;
  state: ChangeRequestState;
  author: { subject: string; name: string; email: string };
  contributors: string[];
  baseRevision: Revision;
  tip: Revision;
  createdAt: string;
  updatedAt: string;
  /** Approvals of the current tip (earlier ones were reset by new commits). */
  approvals: Approval[];
  commentCount: number;
  /** The latest validation; `current` is false once the head or the tip moved since (a new one is on its way). */
  validation: (ChangeRequestValidation & { current: boolean }) | null;
  rejection?: ChangeRequestRecord['rejection'];
  merge?: ChangeRequestRecord['merge'];
}

/** One change request in full: its description, comments, commits and the diff against its base. */
export interface ChangeRequestDetail extends ChangeRequestSummary {
  description: string;
  comments: Comment[];
  commits: Array<{ revision: Revision; author: VersionInfo['author']; message: string }>;
  diff: Pick<Diff, 'from' | 'to' | 'files' | 'patch'>;
}

export function toSummary(record: ChangeRequestRecord, head: Revision | undefined): ChangeRequestSummary {
  const { id, title, author, contributors, baseRevision, tip, createdAt, updatedAt, validation, rejection, merge } = record;
  return {
    id, title, state: stateOf(record), author: { subject: author.subject, name: author.name, email: author.email }, contributors,
    baseRevision, tip, createdAt, updatedAt, approvals: currentApprovals(record), commentCount: record.comments.length,
    validation: validation ? { ...validation, current: validation.tip === tip && validation.head === head } : null,
    ...(rejection ? { rejection } : {}), ...(merge ? { merge } : {}),
  };
}

export const TEXT_LIMITS = Object.freeze({ title: 200, description: 20_000, comment: 4000, comments: 1000 });

/** A one-line title of 1 to 200 characters. */
export function checkTitle(value: string): string {
  const title = value.trim();
  // eslint-disable-next-line no-control-regex
  if (title === '' || title.length > TEXT_LIMITS.title || /[\x00-\x1f\x7f]/.test(title)) {
    throw new InputError('invalid_field', `'title' must be one line of 1 to ${TEXT_LIMITS.title} characters`, { field: 'title' });
  }
  return title;
}

/** Free text (description, comment, reason): at most `max` characters, no NUL; `required` refuses blank. */
export function checkText(value: string | undefined, field: string, max: number, required = false): string | undefined {
  if (value === undefined || value.trim() === '') {
    if (required) throw new InputError('invalid_field', `'${field}' must not be empty`, { field });
    return undefined;
  }
  if (value.length > max || value.includes('\0')) throw new InputError('invalid_field', `'${field}' must be at most ${max} characters without NUL`, { field });
  return value.trim();
}

export function checkState(value: string): ChangeRequestState {
  if (!(CHANGE_REQUEST_STATES as readonly string[]).includes(value)) {
    throw new InputError('invalid_query', `'state' must be one of: ${CHANGE_REQUEST_STATES.join(', ')}`, { field: 'state' });
  }
  return value as ChangeRequestState;
}

/** The id in a URL: a whole number from 1 (`invalid_change_request_id` naming `id` otherwise). */
export function parseChangeRequestId(value: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(value)) throw new InputError('invalid_change_request_id', 'a change request id is a whole number from 1', { field: 'id' });
  return Number(value);
}

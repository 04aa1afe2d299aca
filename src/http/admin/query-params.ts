import { InputError, NotFoundError } from '../../domain/errors.js';
import type { Revision } from '../../domain/store/policy-store.js';
import type { RevisionResolver } from '../../domain/store/revision-resolver.js';

/**
 * Query-string parsing shared by the admin routers. Every failure is an `InputError` `invalid_query`
 * whose `field` names the parameter, so a client sees which one to fix. Works with Express's `simple`
 * parser (repeats become arrays) and its `extended` one (brackets become objects): both are refused.
 */

/** A value safe to quote in an error message: truncated, control characters replaced. */
function quote(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.slice(0, 80).replace(/[\x00-\x1f\x7f]/g, '?');
}

function invalid(field: string, message: string): InputError {
  return new InputError('invalid_query', message, { field: quote(field) });
}

/**
 * The allowed parameters of `query` as strings. Refuses unknown parameters, repeated ones and
 * bracketed ones. An empty value (`?path=`) counts as absent, as HTML forms send it.
 */
export function readQuery<const K extends string>(query: unknown, allowed: readonly K[]): Partial<Record<K, string>> {
  const result: Partial<Record<K, string>> = {};
  if (query === null || typeof query !== 'object') return result;
  for (const [name, value] of Object.entries(query)) {
    if (!(allowed as readonly string[]).includes(name)) {
      const hint = allowed.length === 0 ? 'this endpoint takes none' : `allowed: ${allowed.join(', ')}`;
      throw invalid(name, `unknown query parameter '${quote(name)}' (${hint})`);
    }
    if (Array.isArray(value)) throw invalid(name, `query parameter '${name}' is given more than once`);
    if (typeof value !== 'string') throw invalid(name, `query parameter '${name}' must be a single plain value`);
    if (value !== '') result[name as K] = value;
  }
  return result;
}

/** `value` when present; `invalid_query` naming `field` when not. */
export function required(value: string | undefined, field: string): string {
  if (value === undefined) throw invalid(field, `query parameter '${field}' is required`);
  return value;
}

/** A whole number from 1 to `max` (default: the largest safe integer), written in plain decimal digits. */
export function positiveInteger(value: string, field: string, max = Number.MAX_SAFE_INTEGER): number {
  const number = /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : NaN;
  if (!(number <= max)) throw invalid(field, `'${field}' must be a whole number from 1 to ${max}`);
  return number;
}

/** `value` when it is one of `allowed`. */
export function oneOf<const T extends string>(value: string, field: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw invalid(field, `'${field}' must be one of: ${allowed.join(', ')}`);
  return value as T;
}

/** `value` when it has at most `maxLength` characters and no control characters. */
export function plainText(value: string, field: string, maxLength: number): string {
  // eslint-disable-next-line no-control-regex
  if (value.length > maxLength || /[\x00-\x1f\x7f]/.test(value)) {
    throw invalid(field, `'${field}' must be at most ${maxLength} characters without control characters`);
  }
  return value;
}

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/i;

/**
 * An ISO 8601 date (`2026-01-31`, midnight UTC) or date-time with a zone (`2026-01-31T12:00:00Z`,
 * `...+02:00`), checked field by field (no 31 February), returned as milliseconds since the epoch. A
 * date-time without a zone is refused: the server's local time zone would be a guess.
 */
export function isoTime(value: string, field: string): number {
  const ms = parseIsoTime(value);
  if (ms === undefined) throw invalid(field, `'${field}' must be an ISO 8601 date or date-time with a zone, e.g. 2026-01-31T12:00:00Z`);
  return ms;
}

function parseIsoTime(value: string): number | undefined {
  const match = ISO_8601.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone = 'Z'] = match;
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
  if (d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) return undefined;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== 'Z') {
    const [zh, zm] = zone.slice(1).split(':').map(Number) as [number, number];
    if (zh > 23 || zm > 59) return undefined;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (zh * 60 + zm);
  }
  const utc = new Date(0);
  utc.setUTCFullYear(y, mo - 1, d);
  utc.setUTCHours(h, mi, s, Number(fraction.padEnd(3, '0').slice(0, 3)));
  return utc.getTime() - offsetMinutes * 60_000;
}

/**
 * Resolves a revision named in the query (`head`, `active`, a SHA, a branch or tag) through the
 * resolver, re-labelling its errors (`invalid_revision` 400, `revision_not_found` 404) with `field`.
 */
export async function resolveRevisionParam(resolver: RevisionResolver, ref: string, field: string): Promise<Revision> {
  try {
    return await resolver.resolve(ref);
  } catch (error) {
    if (error instanceof InputError) throw new InputError(error.code, error.message, { ...error.details, field }, { cause: error });
    if (error instanceof NotFoundError) throw new NotFoundError(error.code, error.message, { ...error.details, field }, { cause: error });
    throw error;
  }
}

import { InputError } from '../../domain/errors.js';

const MAX_HEADER_LENGTH = 1024;
const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/;

/** The entity-tags of an `If-None-Match` header (`*` as `['*']`), opaque-tags without `W/`. */
export function parseIfNoneMatch(header: string | undefined): string[] | undefined {
  if (header === undefined) return undefined;
  if (header.length > MAX_HEADER_LENGTH) {
    throw new InputError('invalid_if_none_match', `If-None-Match is longer than ${MAX_HEADER_LENGTH} characters`, { field: 'If-None-Match' });
  }
  const trimmed = header.trim();
  if (trimmed === '*') return ['*'];
  const tags: string[] = [];
  for (const part of trimmed.split(',')) {
    const match = ENTITY_TAG.exec(part.trim());
    if (!match) {
      throw new InputError('invalid_if_none_match', 'If-None-Match must be "*" or a list of entity-tags such as "abc" or W/"abc"', { field: 'If-None-Match' });
    }
    tags.push(`"${match[2]}"`);
  }
  return tags;
}

/** {@link parseIfNoneMatch}, or undefined for a malformed header (which the handler answers 400). */
export function tryParseIfNoneMatch(header: string): string[] | undefined {
  try {
    return parseIfNoneMatch(header);
  } catch (error) {
    if (error instanceof InputError) return undefined;
    throw error;
  }
}

/** Weak comparison (RFC 9110 §13.1.2): does any listed tag name the current representation? */
export function ifNoneMatchHits(tags: readonly string[] | undefined, etag: string): boolean {
  return tags !== undefined && (tags[0] === '*' || tags.includes(etag));
}

export interface LongPollPreference {
  /** Seconds to hold the request, already capped; 0 = answer at once. */
  waitSeconds: number;
  /** True when the client asked for more than the cap. */
  capped: boolean;
  /** Modes the client accepts (`snapshot`, `delta`). */
  modes: string[];
}

/**
 * Reads OPA's `Prefer: modes=snapshot,delta;wait=N`. OPA separates preferences with `;` (not RFC 7240's
 * `,`), so it is parsed the way OPA's own test server does: split on `;`, then on `=`. A `wait` that
 * is not a whole number is refused; one above the cap is held for the cap.
 */
export function parsePrefer(header: string | undefined, maxWaitSeconds: number): LongPollPreference {
  const none: LongPollPreference = { waitSeconds: 0, capped: false, modes: ['snapshot'] };
  if (header === undefined) return none;
  if (header.length > MAX_HEADER_LENGTH) {
    throw new InputError('invalid_prefer', `Prefer is longer than ${MAX_HEADER_LENGTH} characters`, { field: 'Prefer' });
  }
  const result = { ...none };
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim().replace(/^"|"$/g, '');
    if (key === 'wait') {
      // RFC 7240 clients may follow with `, other-preference`; only the number counts.
      const seconds = value.split(',')[0]!.trim();
      if (!/^\d{1,12}$/.test(seconds)) {
        throw new InputError('invalid_prefer', `Prefer wait must be a whole number of seconds, got '${value.slice(0, 32)}'`, { field: 'Prefer' });
      }
      const asked = Number(seconds);
      result.waitSeconds = Math.min(asked, maxWaitSeconds);
      result.capped = asked > maxWaitSeconds;
    } else if (key === 'modes') {
      result.modes = value.split(',').map((mode) => mode.trim()).filter(Boolean);
    }
  }
  return result;
}

/** {@link parsePrefer}, or undefined for a malformed header (which the handler answers 400). */
export function tryParsePrefer(header: string | undefined, maxWaitSeconds: number): LongPollPreference | undefined {
  try {
    return parsePrefer(header, maxWaitSeconds);
  } catch (error) {
    if (error instanceof InputError) return undefined;
    throw error;
  }
}

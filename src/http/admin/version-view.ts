import type { Revision, VersionInfo } from '../../domain/store/policy-store.js';

/** A `Key: value` line from the end of a commit message, such as `Regent-Request-Id: 7f3a...`. */
export interface Trailer {
  key: string;
  value: string;
}

/** One version as the admin API shows it: the commit, its trailers, and whether it is head or active. */
export interface VersionView extends VersionInfo {
  /** First line of the message. */
  subject: string;
  /** In message order; a key may repeat (`Co-authored-by`). */
  trailers: Trailer[];
  /** True for the revision being served. */
  active: boolean;
  /** True for the tip of the tracked branch. */
  head: boolean;
}

const TRAILER = /^([A-Za-z0-9][A-Za-z0-9-]{0,63}):[ \t]*(\S.*)$/;
const CONTINUATION = /^[ \t]+\S/;

/**
 * The trailers of a commit message: its last paragraph, when that is not also the first one (the
 * subject) and every line of it is `Key: value` or an indented continuation of the line before. This is
 * git's `interpret-trailers` rule without its 25 %-of-known-keys leniency.
 */
export function parseTrailers(message: string): Trailer[] {
  const lines = message.replace(/\s+$/, '').split(/\r?\n/);
  let start = lines.length;
  while (start > 0 && (lines[start - 1] ?? '').trim() !== '') start -= 1;
  if (start === 0 || start === lines.length) return [];
  const trailers: Trailer[] = [];
  for (const line of lines.slice(start)) {
    const match = TRAILER.exec(line);
    const last = trailers[trailers.length - 1];
    if (match) trailers.push({ key: match[1] ?? '', value: (match[2] ?? '').trimEnd() });
    else if (last && CONTINUATION.test(line)) last.value = `${last.value} ${line.trim()}`;
    else return [];
  }
  return trailers;
}

/** Adds the subject, trailers and head/active marks to a version read from the store. */
export function toVersionView(version: VersionInfo, marks: { head: Revision | undefined; active: Revision | undefined }): VersionView {
  return {
    revision: version.revision,
    parents: version.parents,
    tree: version.tree,
    author: version.author,
    committer: version.committer,
    message: version.message,
    subject: version.message.split(/\r?\n/, 1)[0] ?? '',
    trailers: parseTrailers(version.message),
    files: version.files,
    active: version.revision === marks.active,
    head: version.revision === marks.head,
  };
}

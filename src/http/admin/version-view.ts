import { parseTrailers, type Trailer } from '../../domain/store/commit-trailers.js';
import type { Revision, VersionInfo } from '../../domain/store/policy-store.js';

export { parseTrailers, type Trailer };

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

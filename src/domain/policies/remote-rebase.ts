import { ConflictError } from '../errors.js';
import type { CommitOptions, CommitResult, FileChange, PolicyStore, Revision } from '../store/policy-store.js';

/** How many times a change is re-created on a remote that keeps moving before the caller gets 409. */
export const MAX_REMOTE_RETRIES = 3;

export interface RemoteRebase {
  /** Every path the change touches: it is only re-created when the remote changed none of them. */
  paths: readonly string[];
  /** The change as file operations (also for a rollback, whose first attempt commits a whole tree). */
  changes: readonly FileChange[];
  /** Validates the change on a new base; throws when it no longer passes (nothing is then committed). */
  revalidate: (base: Revision) => Promise<void>;
}

/**
 * `store.commit`, and in remote mode, when the remote refused the push because it moved
 * (`ConflictError` `remote_moved`; head is then the remote's new tip): re-creates the same change on the
 * new head when none of its files changed between its base and that head, validates it again, and
 * retries, at most {@link MAX_REMOTE_RETRIES} times. Otherwise `ConflictError` `head_moved` with the new
 * head, as for any change based on a revision that is no longer head. Local mode never sees
 * `remote_moved`, so this is then exactly `store.commit`.
 */
export async function commitRebasingOnRemote(store: PolicyStore, options: CommitOptions, rebase: RemoteRebase): Promise<CommitResult> {
  let attempt = options;
  for (let retry = 0; ; retry += 1) {
    try {
      return await store.commit(attempt);
    } catch (error) {
      if (!(error instanceof ConflictError) || error.code !== 'remote_moved') throw error;
      const base = attempt.expectedHead!;
      const head = error.details.head as Revision | null;
      if (!head) throw error;
      const moved = (): ConflictError => new ConflictError('head_moved', `the remote moved to ${head} and changed files this change touches (or kept moving); re-read and retry`, { head, field: 'baseRevision' }, { cause: error });
      if (retry >= MAX_REMOTE_RETRIES) throw moved();
      const touched = new Set(rebase.paths);
      const diff = await store.diff(base, head);
      if (diff.files.some((file) => touched.has(file.path) || (file.oldPath !== undefined && touched.has(file.oldPath)))) throw moved();
      await rebase.revalidate(head);
      attempt = { ...attempt, expectedHead: head, tree: undefined, changes: rebase.changes };
    }
  }
}

import type { RevisionSource } from '../activation/revision-source.js';
import type { Identity, Revision } from '../store/policy-store.js';

/** Options of {@link EnvironmentRef.move}. */
export interface MoveEnvironmentRefOptions {
  /** The commit the environment moves to. */
  to: Revision;
  /** The commit the ref must name now (compare-and-swap); `null`: the ref must not exist yet. */
  expected: Revision | null;
  /** Who moved it: the tagger of an annotated tag (and the reflog entry). */
  actor: Identity;
  message: string;
  /** Appended to the tag message as `Key: value` lines (request id, actor). */
  trailers?: Readonly<Record<string, string>>;
}

/**
 * An environment's ref in the store (`refs/tags/<name>` or `refs/heads/<name>`): a source of revisions
 * for its own activation pipeline (`head()` is the commit the ref names, a tag peeled to its commit),
 * and the one thing a promotion or rollback moves.
 */
export interface EnvironmentRef extends RevisionSource {
  /** The full ref name, e.g. `refs/tags/prod`. */
  readonly ref: string;
  readonly kind: 'tag' | 'branch';
  /**
   * Moves the ref to `to` by compare-and-swap: `ConflictError` `environment_moved` (details.revision =
   * the commit it names now) when it does not name `expected`. In remote mode the move is pushed to the
   * remote first and the local ref only moves once the remote took it.
   */
  move(options: MoveEnvironmentRefOptions): Promise<void>;
  close(): void;
}

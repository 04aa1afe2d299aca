/**
 * The policy store: a Git repository seen through immutable revisions (commit SHAs). Implemented by
 * `src/git/git-policy-repository.ts`; the domain only ever sees this interface.
 */

/** A commit SHA: 40 lower-case hex characters. */
export type Revision = string;

export interface Identity {
  name: string;
  email: string;
}

/** One file of a revision's tree (regular files only; symlinks and submodules are reported as such). */
export interface TreeEntry {
  path: string;
  /** Git blob SHA: stable cache key for any per-file work. */
  blobId: string;
  size: number;
  /** `file`, `executable`, `symlink` or `submodule`: the builder refuses the last two. */
  kind: 'file' | 'executable' | 'symlink' | 'submodule';
}

export interface FileContent extends TreeEntry {
  content: Buffer;
}

export type FileChange =
  | { op: 'put'; path: string; content: Buffer }
  | { op: 'delete'; path: string };

export interface CommitOptions {
  changes: readonly FileChange[];
  message: string;
  author: Identity;
  /** Committer; defaults to the store's system identity. */
  committer?: Identity;
  /**
   * The revision this change was based on. The commit is made on top of it and the branch is moved
   * with a compare-and-swap: if head is no longer this revision, a `ConflictError` naming the current
   * head is thrown and nothing is written to the branch. `null` means "the branch must not exist yet".
   */
  expectedHead: Revision | null;
  /** Git trailers appended to the message (`Key: value`), e.g. the request id and acting subject. */
  trailers?: Readonly<Record<string, string>>;
  /** Commit tree to use instead of applying `changes` to the parent's tree (rollback). */
  tree?: string;
  /**
   * Further parents after `expectedHead` (a merge commit, e.g. of a change request's tip). They must be
   * commits in the store; the tree is still `expectedHead`'s with `changes` applied (or `tree`).
   */
  extraParents?: readonly Revision[];
  /** Commit time; defaults to now. */
  date?: Date;
}

export interface CommitResult {
  revision: Revision;
  parent: Revision | null;
  tree: string;
}

export interface VersionInfo {
  revision: Revision;
  parents: Revision[];
  tree: string;
  author: Identity & { date: string };
  committer: Identity & { date: string };
  message: string;
  /** Files changed against the first parent (all files for a root commit). */
  files: Array<{ path: string; status: DiffEntry['status'] }>;
}

export interface LogOptions {
  /** Start from this revision (default: head). */
  from?: Revision;
  /** Only commits touching this path. */
  path?: string;
  limit?: number;
  skip?: number;
}

export interface DiffEntry {
  path: string;
  oldPath?: string;
  status: 'added' | 'modified' | 'deleted' | 'renamed';
  oldBlobId?: string;
  newBlobId?: string;
}

export interface Diff {
  from: Revision;
  to: Revision;
  files: DiffEntry[];
  /** Unified diff text (`git diff` format). */
  patch: string;
}

/** Emitted whenever the tracked branch may have moved, however it moved. */
export type HeadListener = (head: Revision | undefined) => void;

export interface PolicyStore {
  /** The tracked branch name, e.g. `main`. */
  readonly branch: string;
  /** HEAD of the tracked branch, or undefined for an empty store. */
  head(): Promise<Revision | undefined>;
  /** Resolves `head`, a full SHA or an unambiguous branch/tag to a revision; NotFoundError otherwise. */
  resolve(ref: string): Promise<Revision>;
  /** Every file of a revision (recursive), without contents. */
  listTree(revision: Revision): Promise<TreeEntry[]>;
  /** Contents of the given blobs, keyed by blob id. */
  readBlobs(blobIds: readonly string[]): Promise<Map<string, Buffer>>;
  /** The commit's tree id. */
  treeOf(revision: Revision): Promise<string>;
  /**
   * One commit on top of `expectedHead` (see {@link CommitOptions}). In remote mode the commit is first
   * pushed to the remote branch, and the branch only moves once the remote took it: `ConflictError`
   * `remote_moved` (details.head = the remote's new tip, now head) or `remote_diverged` when it refused,
   * `UnavailableError` `remote_unavailable` when it cannot be reached.
   */
  commit(options: CommitOptions): Promise<CommitResult>;
  /**
   * Moves the branch from `expectedHead` to `revision`, an existing descendant of it (a fast-forward),
   * by the same compare-and-swap as {@link commit}: `ConflictError` `head_moved` when head is no longer
   * `expectedHead`, `InputError` `not_fast_forward` when `revision` does not descend from it.
   */
  fastForward(options: { revision: Revision; expectedHead: Revision }): Promise<CommitResult>;
  log(options?: LogOptions): Promise<VersionInfo[]>;
  show(revision: Revision): Promise<VersionInfo>;
  diff(from: Revision, to: Revision): Promise<Diff>;
  /** True when `ancestor` is `descendant` or one of its ancestors. */
  isAncestor(ancestor: Revision, descendant: Revision): Promise<boolean>;
  /** Calls `listener` when the branch may have moved (own commits at once; outside moves by watching). */
  onHeadChange(listener: HeadListener): () => void;
  close(): Promise<void>;
}

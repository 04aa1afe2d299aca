import { resolve as resolvePath } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { ConflictError, InputError, NotFoundError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type {
  CommitOptions, CommitResult, Diff, HeadListener, Identity, LogOptions, PolicyStore, Revision, TreeEntry, VersionInfo,
} from '../domain/store/policy-store.js';
import { CatFileBatch } from './cat-file-batch.js';
import { formatCommitMessage, writeCommit } from './commit-builder.js';
import { createGitClient } from './git-environment.js';
import { GitCommandError, isTransientGitError, toGitCommandError } from './git-errors.js';
import { LOOSE_OBJECT_THRESHOLD, packLooseObjects } from './git-maintenance.js';
import { parseLsTree } from './git-output-parsers.js';
import { runGit } from './git-process.js';
import { assertIdentity, assertPolicyPath, isSha, isValidBranchName, printable } from './git-validation.js';
import { GitRemoteMirror, type RemoteOptions } from './git-remote-mirror.js';
import { HeadWatcher } from './head-watcher.js';
import { HistoryReader } from './history-reader.js';
import { RevisionResolver } from './revision-resolver.js';
import { prepareBareStore } from './store-setup.js';
import { buildTree, EMPTY_TREE } from './tree-builder.js';
import { WriteLock } from './write-lock.js';

/** Options of {@link GitPolicyRepository.open}. */
export interface OpenPolicyRepositoryOptions {
  /** The store: a bare repository, created (with `branch` as its initial branch) if missing or empty. */
  dir: string;
  /** The tracked branch, e.g. `main`. */
  branch: string;
  /** Committer of commits that name none, and the identity in the store's reflog. */
  systemIdentity: Identity;
  logger: Logger;
  /** Safety poll for outside branch moves (ms); default 1000. */
  watchIntervalMs?: number;
  /**
   * Remote mode: the Git host this store mirrors. Commits are then pushed there before the branch moves
   * (see {@link GitRemoteMirror}), and {@link GitPolicyRepository.mirror} syncs from it.
   */
  remote?: RemoteOptions;
}

/** Largest tree `listTree` returns; beyond it `InputError` `tree_too_large`. */
export const MAX_TREE_ENTRIES = 100_000;
const MAX_LOG_LIMIT = 1000;
const ZERO_OID = '0'.repeat(40);

/**
 * The policy store over a bare Git repository, through plumbing only (no work tree to get dirty):
 * reads by explicit commit SHA, writes as one commit per change moved onto the branch with a
 * compare-and-swap, and head-change notification however the branch moves.
 *
 * Caller input never becomes a git option: revisions must be 40-hex SHAs or valid ref names and follow
 * `--end-of-options`; paths are validated and follow `--`; identities and messages travel through the
 * environment and stdin. Git runs with a fixed environment and the store's own hardened config.
 */
export class GitPolicyRepository implements PolicyStore {
  private readonly writeLock = new WriteLock();
  /** Objects written by our commits since the last pack (approximate: blobs + 2). */
  private objectsSincePack = 0;
  /** Who the store's reflog names for our branch moves. */
  private readonly reflogIdentity: Record<string, string>;
  /** The remote this store mirrors and pushes to (remote mode), else undefined. */
  mirror: GitRemoteMirror | undefined;

  private constructor(
    readonly branch: string,
    private readonly dir: string,
    private readonly systemIdentity: Identity,
    private readonly logger: Logger,
    private readonly git: SimpleGit,
    private readonly objects: CatFileBatch,
    private readonly revisions: RevisionResolver,
    private readonly history: HistoryReader,
    private readonly watcher: HeadWatcher,
  ) {
    this.reflogIdentity = { GIT_COMMITTER_NAME: systemIdentity.name, GIT_COMMITTER_EMAIL: systemIdentity.email };
  }

  /**
   * Opens (creating if needed) the store at `options.dir` and writes the hardening config. Throws
   * `InputError` for an invalid branch or identity, and a plain `Error` when `dir` holds something that
   * is not a bare SHA-1 repository.
   */
  static async open(options: OpenPolicyRepositoryOptions): Promise<GitPolicyRepository> {
    if (!isValidBranchName(options.branch)) {
      throw new InputError('invalid_branch', `'${printable(options.branch)}' is not a valid branch name`, { field: 'branch' });
    }
    assertIdentity(options.systemIdentity, 'systemIdentity');
    const dir = resolvePath(options.dir);
    const logger = options.logger.child({ component: 'git-policy-repository', branch: options.branch });
    await prepareBareStore(dir, options.branch, logger);
    const git = createGitClient(dir);
    const objects = new CatFileBatch(dir, logger);
    const revisions = new RevisionResolver({ dir, branch: options.branch, git, objects });
    const watcher = new HeadWatcher({
      dir, branch: options.branch, readHead: () => revisions.head(), initialHead: await revisions.head(),
      intervalMs: options.watchIntervalMs ?? 1000, logger,
    });
    const history = new HistoryReader({ dir, git, objects });
    const repository = new GitPolicyRepository(options.branch, dir, options.systemIdentity, logger, git, objects, revisions, history, watcher);
    if (options.remote) {
      repository.mirror = new GitRemoteMirror({
        dir, branch: options.branch, reflogEnv: repository.reflogIdentity, logger: logger.child({ component: 'remote-mirror' }),
        exclusive: (task) => repository.writeLock.run(task),
        head: () => revisions.head(),
        moved: (head) => watcher.notify(head),
      }, options.remote);
    }
    return repository;
  }

  async head(): Promise<Revision | undefined> {
    return this.revisions.head();
  }

  /** `head`/`HEAD`, a full commit SHA, a branch or tag name, or a full `refs/heads|tags/...` name. */
  async resolve(ref: string): Promise<Revision> {
    return this.resolveCommit(ref, 'revision');
  }

  private resolveCommit(ref: string, field: string): Promise<Revision> {
    return this.revisions.resolveCommit(ref, field);
  }

  async listTree(revision: Revision): Promise<TreeEntry[]> {
    const commit = await this.resolveCommit(revision, 'revision');
    const output = await this.git.raw(['ls-tree', '-r', '-l', '-z', '--full-tree', '--end-of-options', commit]);
    return parseLsTree(output, MAX_TREE_ENTRIES, () => new InputError(
      'tree_too_large', `revision ${commit} has more than ${MAX_TREE_ENTRIES} files`, { field: 'revision', revision: commit },
    ));
  }

  /** Throws `NotFoundError` `blob_not_found` when any id is not a blob in the store. */
  async readBlobs(blobIds: readonly string[]): Promise<Map<string, Buffer>> {
    const ids = [...new Set(blobIds)];
    const bad = ids.find((id) => !isSha(id));
    if (bad !== undefined) throw new InputError('invalid_blob_id', `'${printable(bad)}' is not a blob id`, { field: 'blobIds' });
    const objects = await this.objects.contents(ids).catch((error: unknown) => {
      if (!isTransientGitError(error)) throw error;
      this.logger.warn({ err: error }, 'retrying blob read on a new reader');
      return this.objects.contents(ids);
    });
    const blobs = new Map<string, Buffer>();
    ids.forEach((id, index) => {
      const object = objects[index];
      if (object?.type !== 'blob' || !object.content) {
        throw new NotFoundError('blob_not_found', `blob ${id} is not in the store`, { blobId: id });
      }
      blobs.set(id, object.content);
    });
    return blobs;
  }

  async treeOf(revision: Revision): Promise<string> {
    return this.revisions.treeOfCommit(await this.resolveCommit(revision, 'revision'));
  }

  /**
   * One commit on top of `expectedHead`, moved onto the branch by compare-and-swap. `ConflictError`
   * `head_moved` (details.head = current head) when the branch is not at `expectedHead`, before or at the
   * swap; `InputError` `no_changes` when the tree would not change; `NotFoundError` `file_not_found` for
   * deleting a missing file. Listeners hear about the new head before this resolves.
   *
   * In remote mode the commit is pushed to the remote branch first (no force) and the local branch only
   * moves once the remote took it: `ConflictError` `remote_moved` (details.head = the fetched remote tip,
   * now head) or `remote_diverged` when the remote refused it, `UnavailableError` `remote_unavailable`
   * when the remote cannot be reached. Nothing the remote refused is ever on the branch.
   */
  async commit(options: CommitOptions): Promise<CommitResult> {
    assertIdentity(options.author, 'author');
    const committer = options.committer ?? this.systemIdentity;
    assertIdentity(committer, 'committer');
    const message = formatCommitMessage(options.message, options.trailers);
    const { expectedHead, tree } = options;
    const changes = options.changes ?? [];
    if (expectedHead !== null && !isSha(expectedHead)) {
      throw new InputError('invalid_revision', 'expectedHead must be a full commit SHA or null', { field: 'expectedHead' });
    }
    if (tree !== undefined && (!isSha(tree) || changes.length > 0)) {
      throw new InputError('invalid_tree', 'tree must be a full tree id, given without changes', { field: 'tree' });
    }
    const extraParents = options.extraParents ?? [];
    if ((extraParents.length > 0 && expectedHead === null) || !extraParents.every(isSha)) {
      throw new InputError('invalid_revision', 'extraParents must be full commit SHAs, on top of an expectedHead', { field: 'extraParents' });
    }
    return this.writeLock.run(async () => {
      for (const extra of extraParents) await this.resolveCommit(extra, 'extraParents');
      const current = await this.head();
      if ((current ?? null) !== expectedHead) throw this.headMoved(current, expectedHead);
      const parentTree = expectedHead ? await this.revisions.treeOfCommit(expectedHead) : undefined;
      const newTree = tree !== undefined
        ? await this.revisions.existingTree(tree)
        : await buildTree({ dir: this.dir, baseTree: parentTree, changes, objects: this.objects });
      if (newTree === (parentTree ?? EMPTY_TREE)) {
        throw new InputError('no_changes', 'the change leaves the files exactly as they are', { field: 'changes' });
      }
      const revision = await writeCommit({
        dir: this.dir, tree: newTree, parent: expectedHead, extraParents, author: options.author, committer,
        date: options.date ?? new Date(), message,
      });
      if (this.mirror) await this.mirror.pushThrough(revision, expectedHead);
      await this.swapHead(revision, expectedHead);
      this.logger.info({ revision, parent: expectedHead, tree: newTree }, 'commit written');
      this.watcher.notify(revision);
      await this.packIfNeeded(changes.length + 2);
      return { revision, parent: expectedHead, tree: newTree };
    });
  }

  /** A fast-forward to an existing descendant of head (a change request's tip), by the same compare-and-swap as `commit`. */
  async fastForward(options: { revision: Revision; expectedHead: Revision }): Promise<CommitResult> {
    const { revision, expectedHead } = options;
    if (!isSha(revision) || !isSha(expectedHead)) {
      throw new InputError('invalid_revision', 'a fast-forward needs full commit SHAs', { field: 'revision' });
    }
    return this.writeLock.run(async () => {
      const current = await this.head();
      if (current !== expectedHead) throw this.headMoved(current, expectedHead);
      if (revision === expectedHead || !(await this.isAncestor(expectedHead, revision))) {
        throw new InputError('not_fast_forward', `${revision} does not descend from ${expectedHead}`, { field: 'revision' });
      }
      const tree = await this.revisions.treeOfCommit(revision);
      if (this.mirror) await this.mirror.pushThrough(revision, expectedHead);
      await this.swapHead(revision, expectedHead);
      this.logger.info({ revision, parent: expectedHead, tree }, 'branch fast-forwarded');
      this.watcher.notify(revision);
      return { revision, parent: expectedHead, tree };
    });
  }

  /** Newest first; `limit` 1–1000 (default 50); empty for an empty store. */
  async log(options: LogOptions = {}): Promise<VersionInfo[]> {
    const limit = options.limit ?? 50;
    const skip = options.skip ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOG_LIMIT) {
      throw new InputError('invalid_limit', `limit must be an integer from 1 to ${MAX_LOG_LIMIT}`, { field: 'limit' });
    }
    if (!Number.isInteger(skip) || skip < 0) throw new InputError('invalid_skip', 'skip must be a non-negative integer', { field: 'skip' });
    if (options.path !== undefined) assertPolicyPath(options.path, 'path');
    const from = options.from !== undefined ? await this.resolveCommit(options.from, 'from') : await this.head();
    if (from === undefined) return [];
    return this.history.log({ from, path: options.path, limit, skip });
  }

  async show(revision: Revision): Promise<VersionInfo> {
    const [version] = await this.history.versions([await this.resolveCommit(revision, 'revision')]);
    if (!version) throw new GitCommandError('show', undefined, 'no commit read');
    return version;
  }

  async diff(from: Revision, to: Revision): Promise<Diff> {
    const [fromCommit, toCommit] = await Promise.all([this.resolveCommit(from, 'from'), this.resolveCommit(to, 'to')]);
    return this.history.diff(fromCommit, toCommit);
  }

  async isAncestor(ancestor: Revision, descendant: Revision): Promise<boolean> {
    const [a, d] = await Promise.all([this.resolveCommit(ancestor, 'ancestor'), this.resolveCommit(descendant, 'descendant')]);
    const { exitCode } = await runGit({ dir: this.dir, args: ['merge-base', '--is-ancestor', '--end-of-options', a, d], okExitCodes: [1] });
    return exitCode === 0;
  }

  onHeadChange(listener: HeadListener): () => void {
    return this.watcher.subscribe(listener);
  }

  /** Stops watching and the object reader after any commit in progress. */
  async close(): Promise<void> {
    this.watcher.close();
    await this.writeLock.idle();
    await this.objects.close();
  }

  /** `update-ref <branch> <new> <old>`: git refuses unless the branch is still at `<old>`. */
  private async swapHead(revision: Revision, expectedHead: Revision | null): Promise<void> {
    const ref = `refs/heads/${this.branch}`;
    try {
      await runGit({
        dir: this.dir,
        args: ['update-ref', '-m', 'regent: commit', '--end-of-options', ref, revision, expectedHead ?? ZERO_OID],
        env: this.reflogIdentity,
      });
    } catch (error) {
      const current = await this.head();
      if ((current ?? null) !== expectedHead) throw this.headMoved(current, expectedHead, error);
      throw toGitCommandError(error, 'update-ref');
    }
  }

  /** Keeps reads fast: packs loose objects once enough have accumulated. A failure here does not fail the commit. */
  private async packIfNeeded(written: number): Promise<void> {
    this.objectsSincePack += written;
    if (this.objectsSincePack < LOOSE_OBJECT_THRESHOLD) return;
    this.objectsSincePack = 0;
    const started = Date.now();
    try {
      await packLooseObjects(this.dir);
      this.logger.info({ ms: Date.now() - started }, 'loose objects packed');
    } catch (error) {
      this.logger.warn({ err: error }, 'cannot pack loose objects; reads may slow down');
    }
  }

  private headMoved(current: Revision | undefined, expected: Revision | null, cause?: unknown): ConflictError {
    return new ConflictError(
      'head_moved',
      `branch ${this.branch} is at ${current ?? '(no commits)'}, not ${expected ?? '(no commits)'} (hint: re-read head and apply the change again)`,
      { head: current ?? null, expectedHead: expected },
      { cause },
    );
  }
}

import { resolve as resolvePath } from 'node:path';
import type { BranchCommitOptions, ChangeRequestBranches } from '../domain/change-requests/change-request.js';
import { ConflictError, InputError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { Identity, Revision } from '../domain/store/policy-store.js';
import { CatFileBatch } from './cat-file-batch.js';
import { formatCommitMessage, writeCommit } from './commit-builder.js';
import { toGitCommandError } from './git-errors.js';
import { runGit } from './git-process.js';
import { assertIdentity, isSha } from './git-validation.js';
import { buildTree } from './tree-builder.js';

/** Where change request refs live: outside `refs/heads/`, so clones, mirrors and pushes of branches never carry them. */
export const CHANGE_REQUEST_REF_PREFIX = 'refs/regent/change-requests/';
const ZERO_OID = '0'.repeat(40);

export interface OpenChangeRequestBranchesOptions {
  /** The store (the bare repository of `GitPolicyRepository`). */
  dir: string;
  /** Committer of change request commits and the identity in the reflog. */
  systemIdentity: Identity;
  logger: Logger;
}

/**
 * Change requests' commits in the store, each request on `refs/regent/change-requests/<id>`: a tree
 * built through plumbing (no work tree), a commit authored by the verified principal, and the ref moved
 * with `update-ref <ref> <new> <old>` (compare-and-swap; `<old>` all zeros to create). The refs are not
 * branches on purpose: `git clone` of the store and branch mirroring leave unreviewed proposals out,
 * and nobody can mistake one for the tracked branch. The refs keep the commits reachable (never pruned),
 * and stay after merge or rejection as the record of what was proposed.
 */
export class GitChangeRequestBranches implements ChangeRequestBranches {
  private readonly reflogIdentity: Record<string, string>;

  private constructor(private readonly dir: string, private readonly systemIdentity: Identity, private readonly objects: CatFileBatch, private readonly logger: Logger) {
    this.reflogIdentity = { GIT_COMMITTER_NAME: systemIdentity.name, GIT_COMMITTER_EMAIL: systemIdentity.email };
  }

  static open(options: OpenChangeRequestBranchesOptions): GitChangeRequestBranches {
    assertIdentity(options.systemIdentity, 'systemIdentity');
    const dir = resolvePath(options.dir);
    const logger = options.logger.child({ component: 'change-request-branches' });
    return new GitChangeRequestBranches(dir, options.systemIdentity, new CatFileBatch(dir, logger), logger);
  }

  /**
   * `InputError` `no_changes` when the tree would not change; `ConflictError` `change_request_moved`
   * (details.tip = the ref's commit) when the ref is not at `expectedTip`, before or at the swap.
   */
  async commit(options: BranchCommitOptions): Promise<Revision> {
    const ref = refOf(options.id);
    assertIdentity(options.author, 'author');
    if (!isSha(options.parent) || (options.expectedTip !== null && !isSha(options.expectedTip))) {
      throw new InputError('invalid_revision', 'a change request commit needs full commit SHAs', { field: 'parent' });
    }
    const message = formatCommitMessage(options.message, options.trailers);
    const current = await this.tip(options.id);
    if ((current ?? null) !== options.expectedTip) throw moved(options.id, current);
    const [parentTree] = await this.objects.info([`${options.parent}^{tree}`]);
    if (parentTree?.type !== 'tree') throw new InputError('invalid_revision', `${options.parent} is not a commit in the store`, { field: 'parent' });
    const tree = await buildTree({ dir: this.dir, baseTree: parentTree.oid, changes: options.changes, objects: this.objects });
    if (tree === parentTree.oid) throw new InputError('no_changes', 'the change leaves the files exactly as they are', { field: 'changes' });
    const revision = await writeCommit({
      dir: this.dir, tree, parent: options.parent, author: options.author, committer: this.systemIdentity, date: new Date(), message,
    });
    try {
      await runGit({
        dir: this.dir,
        args: ['update-ref', '-m', 'regent: change request', '--end-of-options', ref, revision, options.expectedTip ?? ZERO_OID],
        env: this.reflogIdentity,
      });
    } catch (error) {
      const now = await this.tip(options.id);
      if ((now ?? null) !== options.expectedTip) throw moved(options.id, now, error);
      throw toGitCommandError(error, 'update-ref');
    }
    this.logger.info({ changeRequest: options.id, revision, parent: options.parent }, 'change request commit written');
    return revision;
  }

  async tip(id: number): Promise<Revision | undefined> {
    const { stdout } = await runGit({ dir: this.dir, args: ['rev-parse', '--verify', '--quiet', '--end-of-options', `${refOf(id)}^{commit}`], okExitCodes: [1] });
    const output = stdout.toString('utf8').trim();
    return isSha(output) ? output : undefined;
  }

  async ids(): Promise<number[]> {
    const { stdout } = await runGit({ dir: this.dir, args: ['for-each-ref', '--format=%(refname)', CHANGE_REQUEST_REF_PREFIX] });
    return stdout.toString('utf8').split('\n')
      .map((line) => /^refs\/regent\/change-requests\/([1-9][0-9]{0,8})$/.exec(line)?.[1])
      .filter((id): id is string => id !== undefined)
      .map(Number);
  }

  async close(): Promise<void> {
    await this.objects.close();
  }
}

function refOf(id: number): string {
  if (!Number.isSafeInteger(id) || id < 1 || id > 999_999_999) throw new InputError('invalid_change_request_id', 'a change request id is a whole number from 1', { field: 'id' });
  return `${CHANGE_REQUEST_REF_PREFIX}${id}`;
}

function moved(id: number, tip: Revision | undefined, cause?: unknown): ConflictError {
  return new ConflictError(
    'change_request_moved',
    `change request ${id} is at ${tip ?? '(nothing)'}, not the tip this change was made on (hint: re-read it and add the change again)`,
    { tip: tip ?? null, field: 'tip' },
    { cause },
  );
}

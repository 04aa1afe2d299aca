import type { SimpleGit } from 'simple-git';
import { InputError, NotFoundError } from '../domain/errors.js';
import type { Revision } from '../domain/store/policy-store.js';
import type { CatFileBatch } from './cat-file-batch.js';
import { runGit } from './git-process.js';
import { assertRevisionInput, isSha, printable } from './git-validation.js';

/** What a {@link RevisionResolver} resolves against. */
export interface RevisionResolverOptions {
  dir: string;
  branch: string;
  git: SimpleGit;
  objects: CatFileBatch;
}

/**
 * Turns what callers name (`head`, a full SHA, a branch or tag, `refs/heads|tags/...`) into commit SHAs,
 * without ever handing git a revision expression: names are validated first and looked up as exact refs
 * (`for-each-ref`), SHAs are checked through the batch reader. Unknown → `NotFoundError`
 * `revision_not_found`; malformed → `InputError` `invalid_revision`; both carry `details.field`.
 */
export class RevisionResolver {
  constructor(private readonly options: RevisionResolverOptions) {}

  /** The tracked branch's commit, read from the refs on every call (never cached). */
  async head(): Promise<Revision | undefined> {
    const { stdout } = await runGit({
      dir: this.options.dir,
      args: ['rev-parse', '--verify', '--quiet', '--end-of-options', `refs/heads/${this.options.branch}^{commit}`],
      okExitCodes: [1],
    });
    const output = stdout.toString('utf8').trim();
    return isSha(output) ? output : undefined;
  }

  async resolveCommit(ref: string, field: string): Promise<Revision> {
    assertRevisionInput(ref, field);
    if (ref === 'head' || ref === 'HEAD') {
      const head = await this.head();
      if (head === undefined) {
        throw new NotFoundError('revision_not_found', `branch ${this.options.branch} has no commits yet`, { field, revision: ref });
      }
      return head;
    }
    if (isSha(ref)) {
      const [object] = await this.options.objects.info([ref]);
      if (object?.type === 'commit') return ref;
      throw revisionNotFound(ref, field);
    }
    return this.resolveRefName(ref, field);
  }

  /** The tree of a commit already known to exist. */
  async treeOfCommit(commit: Revision): Promise<string> {
    const [object] = await this.options.objects.info([`${commit}^{tree}`]);
    if (object?.type !== 'tree') throw revisionNotFound(commit, 'revision');
    return object.oid;
  }

  /** `tree` itself when it is a tree in the store; `NotFoundError` `tree_not_found` otherwise. */
  async existingTree(tree: string): Promise<string> {
    const [object] = await this.options.objects.info([tree]);
    if (object?.type !== 'tree') throw new NotFoundError('tree_not_found', `tree ${tree} is not in the store`, { field: 'tree' });
    return tree;
  }

  /** A branch or tag name to its commit; a name that is both, pointing at different commits, is ambiguous. */
  private async resolveRefName(name: string, field: string): Promise<Revision> {
    const candidates = name.startsWith('refs/') ? [name] : [`refs/heads/${name}`, `refs/tags/${name}`];
    const format = '--format=%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)';
    const output = await this.options.git.raw(['for-each-ref', format, '--', ...candidates]);
    const commits = new Set<string>();
    for (const line of output.split('\n')) {
      const [refname, type, oid, peeledType, peeledOid] = line.split('\0');
      if (refname === undefined || !candidates.includes(refname)) continue;
      if (type === 'commit' && oid) commits.add(oid);
      else if (type === 'tag' && peeledType === 'commit' && peeledOid) commits.add(peeledOid);
    }
    if (commits.size > 1) {
      throw new InputError('ambiguous_revision', `'${name}' is both a branch and a tag (hint: use refs/heads/${name} or refs/tags/${name})`, { field });
    }
    const [commit] = commits;
    if (commit === undefined) throw revisionNotFound(name, field);
    return commit;
  }
}

function revisionNotFound(ref: string, field: string): NotFoundError {
  return new NotFoundError('revision_not_found', `no commit '${printable(ref)}' in the store`, { field, revision: ref });
}

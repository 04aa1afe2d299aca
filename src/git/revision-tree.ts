import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../domain/logger.js';
import { InputError, NotFoundError } from '../domain/errors.js';
import type { Revision, TreeEntry } from '../domain/store/policy-store.js';
import { CatFileBatch } from './cat-file-batch.js';
import { createGitClient } from './git-environment.js';
import { parseLsTree } from './git-output-parsers.js';
import { MAX_TREE_ENTRIES } from './git-policy-repository.js';
import { runGit } from './git-process.js';
import { isSha } from './git-validation.js';
import { RevisionResolver } from './revision-resolver.js';

/** One revision of a repository, read without a work tree. */
export interface RevisionTree {
  revision: Revision;
  entries: TreeEntry[];
  readBlobs(blobIds: readonly string[]): Promise<Map<string, Buffer>>;
  /** Stops the object reader. */
  close(): Promise<void>;
}

/**
 * Opens `revision` of the repository whose git directory is `gitDir` (a bare store such as
 * `data/store.git`, or a checkout's `.git`), read-only: `HEAD` (or `head`) is the repository's HEAD (detached or
 * not, as in a CI checkout), anything else is resolved as Regent resolves revisions (a 40-hex SHA, a
 * branch or tag name, `refs/...`; never a revision expression). Unknown → `revision_not_found`.
 */
export async function openRevisionTree(gitDir: string, revision: string, logger: Logger): Promise<RevisionTree> {
  const dir = resolve(gitDir);
  const objects = new CatFileBatch(dir, logger);
  try {
    const commit = revision === 'HEAD' || revision === 'head' ? await resolveHead(dir) : await new RevisionResolver({ dir, branch: 'HEAD', git: createGitClient(dir), objects }).resolveCommit(revision, 'revision');
    const output = await runGit({ dir, args: ['ls-tree', '-r', '-l', '-z', '--full-tree', '--end-of-options', commit] });
    const entries = parseLsTree(output.stdout.toString('utf8'), MAX_TREE_ENTRIES, () => new InputError('tree_too_large', `revision ${commit} has more than ${MAX_TREE_ENTRIES} files`, { field: 'revision', revision: commit }));
    return {
      revision: commit,
      entries,
      async readBlobs(blobIds) {
        const ids = [...new Set(blobIds)];
        const found = await objects.contents(ids);
        const blobs = new Map<string, Buffer>();
        ids.forEach((id, index) => {
          const object = found[index];
          if (object?.type !== 'blob' || !object.content) throw new NotFoundError('blob_not_found', `blob ${id} is not in ${dir}`, { blobId: id });
          blobs.set(id, object.content);
        });
        return blobs;
      },
      close: () => objects.close(),
    };
  } catch (error) {
    await objects.close();
    throw error;
  }
}

async function resolveHead(dir: string): Promise<Revision> {
  const { stdout } = await runGit({ dir, args: ['rev-parse', '--verify', '--quiet', '--end-of-options', 'HEAD^{commit}'], okExitCodes: [1] });
  const sha = stdout.toString('utf8').trim();
  if (!isSha(sha)) throw new NotFoundError('revision_not_found', `HEAD of ${dir} names no commit`, { field: 'revision', revision: 'HEAD' });
  return sha;
}

/**
 * The git directory of the repository at `dir`: its `.git` directory, the one a `.git` file points to (a
 * worktree or submodule checkout), or `dir` itself (a bare repository such as `data/store.git`).
 */
export function gitDirOf(dir: string): string {
  const dotGit = join(dir, '.git');
  if (!existsSync(dotGit)) return resolve(dir);
  if (statSync(dotGit).isDirectory()) return resolve(dotGit);
  const pointer = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim();
  return pointer ? resolve(dir, pointer) : resolve(dotGit);
}

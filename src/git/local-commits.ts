import type { Revision } from '../domain/store/policy-store.js';
import { runGit } from './git-process.js';
import { isSha } from './git-validation.js';

/** The reflog subject of a branch move made by the store's own commit (`GitPolicyRepository`). */
const OWN_COMMIT_SUBJECT = 'regent: commit';

/**
 * The revisions this store's tracked branch was moved to by its own commits (writes, rollbacks and
 * change-request merges made through this Regent), among the newest `limit` entries of the branch's
 * reflog (kept for every ref: `core.logAllRefUpdates=always`). A revision the branch reached any other
 * way (a fetch from the remote, which brings other replicas' writes) is not in it. Undefined when the
 * branch has no reflog to tell (a branch that does not exist yet).
 */
export async function revisionsCommittedHere(dir: string, branch: string, limit: number): Promise<ReadonlySet<Revision> | undefined> {
  const { stdout, exitCode } = await runGit({
    dir,
    args: ['reflog', 'show', `-n${limit}`, '--format=%H%x09%gs', '--end-of-options', `refs/heads/${branch}`],
    okExitCodes: [128],
  });
  if (exitCode !== 0) return undefined;
  const entries = stdout.toString('utf8').split('\n').filter((line) => line !== '');
  if (entries.length === 0) return undefined;
  const own = new Set<Revision>();
  for (const entry of entries) {
    const [sha, subject] = entry.split('\t');
    if (sha !== undefined && isSha(sha) && subject === OWN_COMMIT_SUBJECT) own.add(sha);
  }
  return own;
}

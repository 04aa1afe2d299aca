import { ConflictError, type UnavailableError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { GitCommandError } from './git-errors.js';
import { remainingMs, runGit } from './git-process.js';
import type { EnvironmentRefPusher } from './git-ref-follower.js';
import { isSha } from './git-validation.js';
import { hostRefusal, refBusyError } from './push-refusal.js';
import type { WriteLock } from './write-lock.js';

/** What the environment refs need of the `GitRemoteMirror` that owns them: its remote and its fetch lock. */
export interface EnvironmentRefsRemote {
  /** The store (bare repository). */
  dir: string;
  /** The remote URL, as git gets it (after `--end-of-options`). */
  url: string;
  /** The remote URL as logged and reported (credentials redacted). */
  shownUrl: string;
  /** The environment network commands run with (`remoteEnvironment`: credentials, TLS, stall limits). */
  env: Readonly<Record<string, string>>;
  /** Kill a fetch that takes longer (ms). */
  fetchTimeoutMs: number;
  /** Kill a push that takes longer (ms). */
  pushTimeoutMs: number;
  /** The mirror's lock: one fetch at a time, and never a fetch between an environment push and its local move. */
  fetchLock: WriteLock;
  logger: Logger;
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  /** `UnavailableError` `remote_unavailable` for a network command that failed. */
  unavailable(command: string, error: unknown): UnavailableError;
}

/**
 * The environment refs of a store in remote mode (`refs/tags/<name>`, `refs/heads/<name>`, validated by
 * `GitRemoteMirror`): every sync fetches them from the remote straight into the same local refs
 * (forced: the remote is the source of truth, so a developer's `git push -f origin prod` promotes too),
 * and a move through the API is pushed to the remote before the local ref moves.
 */
export class GitEnvironmentRefs implements EnvironmentRefPusher {
  constructor(private readonly remote: EnvironmentRefsRemote, private readonly refs: readonly string[]) {}

  /**
   * Pushes an environment ref's move, then runs `moveLocal`, both under the fetch lock (so a sync cannot
   * fetch the remote's old value between the push and the local move and put it back). A tag is moved
   * with a force push of that one ref only, leased on its old value (`--force-with-lease=<ref>:<old>`,
   * empty = must not exist); a branch only without force, so it only moves forward in remote mode.
   * Refused: the environment refs are fetched again, then `ConflictError` `environment_moved`.
   */
  async pushEnvironmentRef(options: { ref: string; kind: 'tag' | 'branch'; newOid: string; oldOid: string | null }, moveLocal: () => Promise<void>): Promise<void> {
    const { ref, kind, newOid, oldOid } = options;
    const remote = this.remote;
    if (!this.refs.includes(ref) || !isSha(newOid) || (oldOid !== null && !isSha(oldOid))) {
      throw new Error(`pushEnvironmentRef: '${ref}' is not a configured environment ref, or the object ids are not full SHAs`);
    }
    await remote.fetchLock.run(async () => {
      if (kind === 'branch' && oldOid !== null && oldOid !== newOid && !(await remote.isAncestor(oldOid, newOid))) {
        throw new ConflictError('environment_not_fast_forward', `in remote mode ${ref} only moves forward (a push without force); ${newOid} does not descend from ${oldOid} (hint: follow a tag for environments that roll back)`, { field: 'revision', revision: oldOid });
      }
      // Leased on the old value for tags and branches alike: a ref moved on the remote is never run over.
      const lease = [`--force-with-lease=${ref}:${oldOid ?? ''}`];
      let result;
      try {
        result = await runGit({
          dir: remote.dir, args: ['push', '--porcelain', '--no-verify', ...lease, '--end-of-options', remote.url, `${newOid}:${ref}`],
          env: remote.env, timeoutMs: remote.pushTimeoutMs, killProcessGroup: true, okExitCodes: [1],
        });
      } catch (error) {
        throw remote.unavailable('push', error);
      }
      if (result.exitCode !== 0) {
        const porcelain = result.stdout.toString('utf8');
        const refusal = hostRefusal(porcelain, result.stderr, `the remote refused moving ${ref}`);
        if (!refusal && !/^!\t/m.test(porcelain)) throw remote.unavailable('push', new GitCommandError('push', result.exitCode, result.stderr));
        remote.logger.info({ ref, remote: remote.shownUrl, hostRefused: refusal !== undefined }, 'environment push refused by the remote; fetching');
        await this.fetchEnvironmentRefs(Date.now() + remote.fetchTimeoutMs).catch((error: unknown) => {
          throw remote.unavailable('fetch', error);
        });
        // As for the branch: a host refusal while the ref stayed where it was is the host's policy (or its lock).
        if (refusal && (await this.readRawRef(ref) ?? null) === oldOid) {
          throw refusal.refLock ? refBusyError(refusal, ref, remote.shownUrl) : refusal.error;
        }
        throw new ConflictError('environment_moved', `the remote refused moving ${ref}: it no longer names what this Regent saw (hint: read GET /api/environments and promote again)`, { field: 'If-Match' });
      }
      await moveLocal();
    });
  }

  /**
   * Fetches the environment refs into the same local refs (forced), by `deadline` (epoch ms). One fetch for
   * all; when one of them is missing on the remote (git then fails the whole fetch), each one alone,
   * skipping the missing. The caller holds the fetch lock.
   */
  async fetchEnvironmentRefs(deadline: number): Promise<void> {
    const refs = this.refs;
    if (refs.length === 0) return;
    const fetchRefs = (some: readonly string[]): Promise<unknown> => runGit({
      dir: this.remote.dir,
      args: ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', '--end-of-options', this.remote.url, ...some.map((ref) => `+${ref}:${ref}`)],
      env: this.remote.env, timeoutMs: remainingMs(deadline), killProcessGroup: true,
    });
    const missing = (error: unknown): boolean => error instanceof GitCommandError && /couldn't find remote ref/i.test(error.stderr);
    try {
      await fetchRefs(refs);
    } catch (error) {
      if (!missing(error) || refs.length === 1) {
        if (missing(error)) return;
        throw error;
      }
      for (const ref of refs) {
        await fetchRefs([ref]).catch((one: unknown) => {
          if (!missing(one)) throw one;
        });
      }
    }
  }

  /** The object a ref names, unpeeled (an annotated tag's own id), as `--force-with-lease` compares it. */
  private async readRawRef(ref: string): Promise<string | undefined> {
    const { stdout } = await runGit({ dir: this.remote.dir, args: ['rev-parse', '--verify', '--quiet', '--end-of-options', ref], okExitCodes: [1] });
    const sha = stdout.toString('utf8').trim();
    return isSha(sha) ? sha : undefined;
  }
}

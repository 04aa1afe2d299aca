import { setTimeout as delay } from 'node:timers/promises';
import { ConflictError, PreconditionFailedError, UnavailableError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { AcceptResult, RemoteMirror, SyncResult } from '../domain/mirror/remote-mirror.js';
import type { Revision } from '../domain/store/policy-store.js';
import { GitCommandError } from './git-errors.js';
import { GitEnvironmentRefs } from './git-environment-refs.js';
import { remainingMs, runGit } from './git-process.js';
import { isSha, isValidBranchName, isValidRefName } from './git-validation.js';
import { hostRefusal, refBusyError, type HostRefusal } from './push-refusal.js';
import type { EnvironmentRefPusher } from './git-ref-follower.js';
import { assertRemoteUrl, isHttpsUrl, isInsecureHttpUrl, redactUrl, remoteEnvironment, type RemoteCredentials, type RemoteTls } from './remote-credentials.js';
import { WriteLock } from './write-lock.js';

const ZERO_OID = '0'.repeat(40);
/** Pushes tried while the host's branch is locked by other pushes (and has not moved), before 503. */
export const REF_BUSY_ATTEMPTS = 4;
/** The first wait between them (ms); the n-th waits n times this, plus up to as much again at random. */
const REF_BUSY_DELAY_MS = 100;

/** The remote part of {@link OpenPolicyRepositoryOptions}: where the store mirrors from and pushes to. */
export interface RemoteOptions {
  url: string;
  /** The remote branch; the local tracked branch by default. */
  branch?: string;
  credentials: RemoteCredentials;
  /** CA bundle and client certificate for an https remote (validated files). */
  tls?: RemoteTls;
  /**
   * Lets a plain `http://` URL through (`remote.allowInsecureHttp`); whether a token may go with it was
   * decided at start-up (`src/keys/load-remote-settings.ts`). Shown in `/status` → `mirror.insecureHttp`.
   */
  allowInsecureHttp?: boolean;
  /** Kill a fetch that takes longer (ms). */
  fetchTimeoutMs: number;
  /** Kill a push that takes longer (ms). */
  pushTimeoutMs: number;
  /**
   * Environment refs (`refs/tags/<name>`, `refs/heads/<name>`, validated): every sync fetches them from
   * the remote straight into the same local refs (forced: the remote is the source of truth, so a
   * developer's `git push -f origin prod` promotes too), and moves through the API are pushed first.
   */
  environmentRefs?: readonly string[];
}

/** What the mirror needs of the repository it belongs to (its lock, its head, its watcher). */
export interface MirrorStoreAccess {
  dir: string;
  branch: string;
  /** Runs `task` under the store's write lock (never interleaved with a commit). */
  exclusive<T>(task: () => Promise<T>): Promise<T>;
  head(): Promise<Revision | undefined>;
  /** Tells head listeners (activation) that the branch moved. */
  moved(head: Revision): void;
  /** Committer identity for reflog entries. */
  reflogEnv: Readonly<Record<string, string>>;
  logger: Logger;
}

/**
 * Mirrors one branch of a Git host into the store, and pushes the store's own commits through to it.
 *
 * - A sync fetches the remote branch into the private ref `refs/regent/remote/<branch>` (forced, so a
 *   rewritten remote is seen rather than failing the fetch), then, under the store's write lock, moves
 *   the tracked branch to it by compare-and-swap only when it descends from head. Anything else is
 *   reported as `diverged` and head stays: the store never follows a rewritten history on its own.
 * - {@link pushThrough} runs inside a commit, before the local branch moves: the new commit is pushed
 *   without force; a refusal fetches and fast-forwards, then throws `ConflictError` `remote_moved`
 *   (`details.head`), so nothing the remote refused is ever on the local branch.
 * - The environment refs (`remote.environmentRefs`) are fetched with every sync and pushed before they
 *   move locally, under the same fetch lock: {@link GitEnvironmentRefs}.
 *
 * Network commands run with {@link remoteEnvironment} (credentials in the environment only), in their
 * own process group killed on timeout, with the URL after `--end-of-options`.
 */
export class GitRemoteMirror implements RemoteMirror, EnvironmentRefPusher {
  readonly description: { url: string; branch: string; insecureHttp: boolean };
  private readonly remoteBranch: string;
  private readonly trackingRef: string;
  private readonly env: Record<string, string>;
  /** Successful pushes so far: a fetch that overlapped one may have read the remote from before it. */
  private pushes = 0;
  /** One fetch at a time (a scheduled sync and a push-through would otherwise race for the private ref's lock). */
  private readonly fetchLock = new WriteLock();
  /** The environment refs' fetches and pushes, through this mirror's remote and fetch lock. */
  private readonly environmentRefs: GitEnvironmentRefs;

  constructor(private readonly store: MirrorStoreAccess, private readonly options: RemoteOptions) {
    assertRemoteUrl(options.url, 'remote.url', { allowInsecureHttp: options.allowInsecureHttp });
    this.remoteBranch = options.branch ?? store.branch;
    if (!isValidBranchName(this.remoteBranch)) throw new Error(`'${this.remoteBranch}' is not a valid remote branch name`);
    const insecureHttp = isInsecureHttpUrl(options.url);
    if (options.credentials.kind === 'token' && !isHttpsUrl(options.url) && !insecureHttp) {
      throw new Error('a token needs an https remote URL (hint: use remote.sshKeyFile for ssh remotes)');
    }
    if (options.tls !== undefined && !isHttpsUrl(options.url)) throw new Error('TLS settings (remote.caFile, remote.clientCertFile) need an https remote URL');
    this.trackingRef = `refs/regent/remote/${this.remoteBranch}`;
    for (const ref of options.environmentRefs ?? []) {
      if (!/^refs\/(tags|heads)\//.test(ref) || !isValidRefName(ref)) throw new Error(`'${ref}' is not a valid environment ref`);
    }
    this.env = remoteEnvironment(options.credentials, {
      connectTimeoutSeconds: Math.max(1, Math.ceil(options.fetchTimeoutMs / 2000)),
      lowSpeedSeconds: Math.max(1, Math.ceil(options.fetchTimeoutMs / 2000)),
      tls: options.tls,
      allowInsecureHttp: insecureHttp && options.allowInsecureHttp === true,
    });
    this.description = { url: redactUrl(options.url), branch: this.remoteBranch, insecureHttp };
    this.environmentRefs = new GitEnvironmentRefs({
      dir: store.dir, url: options.url, shownUrl: this.description.url, env: this.env,
      fetchTimeoutMs: options.fetchTimeoutMs, pushTimeoutMs: options.pushTimeoutMs, fetchLock: this.fetchLock, logger: store.logger,
      isAncestor: (ancestor, descendant) => this.isAncestor(ancestor, descendant),
      unavailable: (command, error) => this.unavailable(command, error),
    }, options.environmentRefs ?? []);
  }

  async sync(): Promise<SyncResult> {
    const pushesBefore = this.pushes;
    const remoteTip = await this.fetch();
    return this.store.exclusive(() => this.reconcile(remoteTip, this.pushes !== pushesBefore));
  }

  async accept(remoteTip: Revision): Promise<AcceptResult> {
    return this.store.exclusive(async () => {
      const fetched = await this.readRef(this.trackingRef);
      if (fetched !== remoteTip) {
        throw new PreconditionFailedError('remote_tip_changed', `the last fetched remote tip is ${fetched ?? '(none)'}, not ${remoteTip} (hint: read GET /status and accept the tip shown there)`, { remoteTip: fetched ?? null, field: 'remoteTip' });
      }
      const previousHead = await this.store.head();
      let archiveRef: string | undefined;
      if (previousHead !== undefined && previousHead !== remoteTip) {
        const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
        archiveRef = `refs/regent/archive/${stamp}-${previousHead}`;
        await runGit({ dir: this.store.dir, args: ['update-ref', '-m', 'regent: archive before accepting remote history', '--end-of-options', archiveRef, previousHead, ZERO_OID], env: this.store.reflogEnv });
      }
      await this.moveBranch(remoteTip, previousHead, 'regent: accept remote history');
      this.store.logger.warn({ previousHead, head: remoteTip, archiveRef }, 'remote history accepted');
      return { previousHead, head: remoteTip, archiveRef };
    });
  }

  /**
   * Pushes `revision` (whose parent is head, which has not moved yet) to the remote branch, leased on
   * `expectedRemoteTip` (head: the remote must still be exactly where this store last saw it; `null` = the
   * branch must not exist yet). A remote rewound or deleted behind Regent's back is therefore never
   * silently brought back by a write. Called by the repository under its write lock. Throws
   * `ConflictError` `remote_moved` (the remote refused because it moved, however the host worded it:
   * head is then the fetched tip if it could fast-forward) or `remote_diverged`, `NotAllowedError`
   * `remote_refused` when a server hook or branch protection declined it and the branch did not move
   * (retrying cannot help), and `UnavailableError` `remote_unavailable` when the remote cannot be reached
   * (unless the push is found to have landed after all) or its branch stayed locked by other pushes
   * through {@link REF_BUSY_ATTEMPTS} attempts.
   */
  async pushThrough(revision: Revision, expectedRemoteTip: Revision | null): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const busy = await this.pushOnce(revision, expectedRemoteTip);
      if (busy === undefined) return;
      if (attempt >= REF_BUSY_ATTEMPTS) throw refBusyError(busy, this.remoteBranch, this.description.url);
      this.store.logger.info({ revision, attempt, remote: this.description.url }, 'the remote branch was locked by another push; retrying');
      await delay(REF_BUSY_DELAY_MS * attempt * (1 + Math.random()));
    }
  }

  /** One push of {@link pushThrough}: undefined when it landed, the refusal when the host's ref was locked and unmoved. */
  private async pushOnce(revision: Revision, expectedRemoteTip: Revision | null): Promise<HostRefusal | undefined> {
    const ref = `refs/heads/${this.remoteBranch}`;
    let result;
    try {
      result = await runGit({
        dir: this.store.dir,
        args: ['push', '--porcelain', '--no-verify', `--force-with-lease=${ref}:${expectedRemoteTip ?? ''}`, '--end-of-options', this.options.url, `${revision}:${ref}`],
        env: this.env, timeoutMs: this.options.pushTimeoutMs, killProcessGroup: true, okExitCodes: [1],
      });
    } catch (error) {
      // A push killed at its timeout may still have landed: then it is a success, not "nothing committed".
      if (await this.fetch().then((tip) => tip === revision, () => false)) {
        this.pushes += 1;
        return undefined;
      }
      throw this.unavailable('push', error);
    }
    const porcelain = result.stdout.toString('utf8');
    if (result.exitCode === 0) {
      this.pushes += 1;
      await this.recordPushed(revision);
      return undefined;
    }
    const refusal = hostRefusal(porcelain, result.stderr, `the remote refused the push to ${this.remoteBranch}`);
    if (!refusal && !/^!\t/m.test(porcelain)) throw this.unavailable('push', new GitCommandError('push', result.exitCode, result.stderr));
    this.store.logger.info({ revision, remote: this.description.url, hostRefused: refusal !== undefined }, 'push refused by the remote; fetching');
    const remoteTip = await this.fetch().catch((error: unknown) => {
      throw this.unavailable('fetch', error);
    });
    // The host declined and its branch did not move: a hook or a protected branch (final), or a ref lock
    // it could not take (retried). Had it moved, the refusal was a lost race with another writer (another
    // replica): git's receive-pack then says "[remote rejected] (failed to update ref)", not "[rejected]".
    if (refusal && (remoteTip ?? null) === expectedRemoteTip) {
      if (refusal.refLock) return refusal;
      throw refusal.error;
    }
    const synced = await this.reconcile(remoteTip);
    if (synced.outcome === 'diverged' || synced.outcome === 'missing_ref') {
      throw new ConflictError('remote_diverged', `the remote branch ${this.remoteBranch} no longer continues head's history (${synced.outcome}); an admin must accept it first (POST /api/mirror/accept)`, { head: synced.head ?? null, remoteTip: synced.remoteTip ?? null });
    }
    throw new ConflictError('remote_moved', `the remote branch ${this.remoteBranch} moved to ${synced.remoteTip}; head is now ${synced.head}`, { head: synced.head ?? null, remoteTip: synced.remoteTip ?? null });
  }

  /** Best effort: the private tracking ref follows a successful push (the next fetch sets it anyway). */
  private async recordPushed(revision: Revision): Promise<void> {
    try {
      await runGit({ dir: this.store.dir, args: ['update-ref', '-m', 'regent: pushed', '--end-of-options', this.trackingRef, revision], env: this.store.reflogEnv });
    } catch (error) {
      this.store.logger.warn({ err: error, revision }, 'pushed, but could not update the remote tracking ref; the next fetch will');
    }
  }

  /** Pushes an environment ref's move to the remote, then moves it locally: see {@link GitEnvironmentRefs.pushEnvironmentRef}. */
  pushEnvironmentRef(options: { ref: string; kind: 'tag' | 'branch'; newOid: string; oldOid: string | null }, moveLocal: () => Promise<void>): Promise<void> {
    return this.environmentRefs.pushEnvironmentRef(options, moveLocal);
  }

  /** Fetches the remote branch into the private ref; undefined when the remote has no such branch. */
  private fetch(): Promise<Revision | undefined> {
    return this.fetchLock.run(() => this.fetchNow());
  }

  private async fetchNow(): Promise<Revision | undefined> {
    // One deadline for the whole sync, however many git commands it takes: a slow remote holds the
    // fetch lock (and a refused push-through waiting on it) for fetchTimeoutMs at most.
    const deadline = Date.now() + this.options.fetchTimeoutMs;
    try {
      await runGit({
        dir: this.store.dir,
        args: ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', '--end-of-options', this.options.url, `+refs/heads/${this.remoteBranch}:${this.trackingRef}`],
        env: this.env, timeoutMs: remainingMs(deadline), killProcessGroup: true,
      });
    } catch (error) {
      if (error instanceof GitCommandError && /couldn't find remote ref/i.test(error.stderr)) return undefined;
      throw error;
    }
    // Environments follow on their own: a failure here is logged and retried at the next sync, and does
    // not stop the tracked branch from following its remote.
    await this.environmentRefs.fetchEnvironmentRefs(deadline).catch((error: unknown) => {
      this.store.logger.warn({ err: error, remote: this.description.url }, 'could not fetch the environment refs; retried at the next sync');
    });
    return this.readRef(this.trackingRef);
  }

  /**
   * Under the write lock: compares the fetched tip with head and fast-forwards when it descends from it.
   * `overlappedPush`: one of our pushes completed while the fetch ran, so a tip behind head may just be
   * the remote as it was before that push, not a rewrite.
   */
  private async reconcile(remoteTip: Revision | undefined, overlappedPush = false): Promise<SyncResult> {
    const head = await this.store.head();
    if (remoteTip === undefined) return { outcome: 'missing_ref', previousHead: head, head };
    if (remoteTip === head) return { outcome: 'up_to_date', remoteTip, previousHead: head, head };
    if (overlappedPush && head !== undefined && (await this.isAncestor(remoteTip, head))) {
      return { outcome: 'up_to_date', remoteTip: head, previousHead: head, head };
    }
    if (head !== undefined && !(await this.isAncestor(head, remoteTip))) {
      return { outcome: 'diverged', remoteTip, previousHead: head, head };
    }
    await this.moveBranch(remoteTip, head, 'regent: fast-forward from remote');
    return { outcome: 'fast_forwarded', remoteTip, previousHead: head, head: remoteTip };
  }

  private async moveBranch(to: Revision, from: Revision | undefined, reason: string): Promise<void> {
    await runGit({
      dir: this.store.dir,
      args: ['update-ref', '-m', reason, '--end-of-options', `refs/heads/${this.store.branch}`, to, from ?? ZERO_OID],
      env: this.store.reflogEnv,
    });
    this.store.moved(to);
  }

  private async isAncestor(ancestor: Revision, descendant: Revision): Promise<boolean> {
    const { exitCode } = await runGit({ dir: this.store.dir, args: ['merge-base', '--is-ancestor', '--end-of-options', ancestor, descendant], okExitCodes: [1] });
    return exitCode === 0;
  }

  private async readRef(ref: string): Promise<Revision | undefined> {
    const { stdout } = await runGit({ dir: this.store.dir, args: ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], okExitCodes: [1] });
    const sha = stdout.toString('utf8').trim();
    return isSha(sha) ? sha : undefined;
  }

  private unavailable(command: string, error: unknown): UnavailableError {
    const detail = error instanceof GitCommandError ? error.stderr.slice(0, 500) : String((error as Error)?.message ?? error);
    return new UnavailableError('remote_unavailable', `git ${command} to ${this.description.url} failed: ${redactUrl(detail)}`, { remote: this.description.url }, { cause: error });
  }
}

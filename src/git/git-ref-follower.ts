import { ConflictError, InputError } from '../domain/errors.js';
import type { EnvironmentRef, MoveEnvironmentRefOptions } from '../domain/environments/environment-ref.js';
import type { Logger } from '../domain/logger.js';
import type { HeadListener, Identity, PolicyStore, Revision, TreeEntry } from '../domain/store/policy-store.js';
import { formatCommitMessage } from './commit-builder.js';
import { toGitCommandError } from './git-errors.js';
import { runGit } from './git-process.js';
import { assertIdentity, isSha, isValidRefName, printable } from './git-validation.js';
import { HeadWatcher } from './head-watcher.js';
import { WriteLock } from './write-lock.js';

const ZERO_OID = '0'.repeat(40);

/** What a ref names: the object (a tag object for an annotated tag) and the commit it peels to. */
export interface RefValue {
  oid: string;
  commit: Revision;
}

/** Pushes an environment ref's move to the remote before it moves locally (remote mode). */
export interface EnvironmentRefPusher {
  /**
   * `oldOid`: the value the remote must still have (a lease); `null` when the ref must not exist there.
   * Throws `ConflictError` `environment_moved` when the remote refused, `UnavailableError` when unreachable.
   */
  pushEnvironmentRef(options: { ref: string; kind: 'tag' | 'branch'; newOid: string; oldOid: string | null }, moveLocal: () => Promise<void>): Promise<void>;
}

/** Options of {@link GitRefFollower.open}. */
export interface GitRefFollowerOptions {
  /** The store (bare repository). */
  dir: string;
  /** As configured: `tags/<name>` or `heads/<name>`. */
  ref: string;
  /** The tracked branch: an environment may not follow it (it would be the default bundle set again). */
  trackedBranch: string;
  /** Reads of revisions are the store's (same repository, same object reader). */
  store: Pick<PolicyStore, 'listTree' | 'readBlobs'>;
  /** Committer of reflog entries. */
  systemIdentity: Identity;
  /** Safety poll for outside moves (ms). */
  intervalMs: number;
  logger: Logger;
  /** Remote mode: moves are pushed there first. */
  pusher?: EnvironmentRefPusher;
}

/**
 * Checks an environment's configured ref (`tags/<name>` or `heads/<name>`) and returns the full ref
 * name. `InputError` `invalid_environment_ref` (field `field`) otherwise: the ref becomes part of git
 * argv (after `--end-of-options`), so it must start with a letter or digit, pass `check-ref-format` and live under refs/tags or
 * refs/heads, never refs/regent (Regent's own refs) nor the tracked branch itself.
 */
export function environmentRefName(ref: unknown, trackedBranch: string, field = 'ref'): string {
  const text = typeof ref === 'string' ? ref : '';
  const match = /^(tags|heads)\/([A-Za-z0-9][A-Za-z0-9._/-]{0,99})$/.exec(text);
  const full = `refs/${text}`;
  if (!match || !isValidRefName(full) || full.endsWith('.lock')) {
    throw new InputError('invalid_environment_ref', `'${printable(ref)}' is not an environment ref (hint: 'tags/<name>' or 'heads/<name>')`, { field });
  }
  if (match[1] === 'heads' && match[2] === trackedBranch) {
    throw new InputError('invalid_environment_ref', `'${text}' is the tracked branch; an environment follows another branch or a tag`, { field });
  }
  return full;
}

/**
 * An environment's tag or branch over the store's bare repository, seen as a revision source: `head()`
 * is the commit the ref names (an annotated tag peeled to its commit), `onHeadChange` watches that ref
 * however it moves (our own moves at once; `git tag -f`/`git push` into the store by watching files and
 * polling), reads are delegated to the store. {@link move} writes an annotated tag carrying the
 * promoter as tagger (a branch just moves), by compare-and-swap on the ref.
 */
export class GitRefFollower implements EnvironmentRef {
  readonly kind: 'tag' | 'branch';
  private readonly lock = new WriteLock();
  private readonly watcher: HeadWatcher;
  private readonly reflogEnv: Record<string, string>;

  private constructor(readonly ref: string, private readonly options: GitRefFollowerOptions, initial: Revision | undefined) {
    this.kind = ref.startsWith('refs/tags/') ? 'tag' : 'branch';
    this.reflogEnv = { GIT_COMMITTER_NAME: options.systemIdentity.name, GIT_COMMITTER_EMAIL: options.systemIdentity.email };
    this.watcher = new HeadWatcher({
      dir: options.dir, branch: ref, ref, readHead: () => this.head(), initialHead: initial,
      intervalMs: options.intervalMs, logger: options.logger,
    });
  }

  static async open(options: GitRefFollowerOptions): Promise<GitRefFollower> {
    const ref = environmentRefName(options.ref, options.trackedBranch);
    const initial = (await readRef(options.dir, ref))?.commit;
    return new GitRefFollower(ref, options, initial);
  }

  /** The commit the ref names now (read on every call), or undefined when the ref does not exist. */
  async head(): Promise<Revision | undefined> {
    return (await this.value())?.commit;
  }

  /** The ref's object and commit now. */
  value(): Promise<RefValue | undefined> {
    return readRef(this.options.dir, this.ref);
  }

  listTree(revision: Revision): Promise<TreeEntry[]> {
    return this.options.store.listTree(revision);
  }

  readBlobs(blobIds: readonly string[]): Promise<Map<string, Buffer>> {
    return this.options.store.readBlobs(blobIds);
  }

  onHeadChange(listener: HeadListener): () => void {
    return this.watcher.subscribe(listener);
  }

  async move(options: MoveEnvironmentRefOptions): Promise<void> {
    const { to, expected } = options;
    if (!isSha(to) || (expected !== null && !isSha(expected))) throw new InputError('invalid_revision', 'moving an environment needs full commit SHAs', { field: 'revision' });
    assertIdentity(options.actor, 'actor');
    const message = formatCommitMessage(options.message, options.trailers);
    await this.lock.run(async () => {
      const current = await this.value();
      if ((current?.commit ?? null) !== expected) throw this.moved(current, expected);
      const newOid = this.kind === 'tag' ? await this.writeTag(to, options.actor, message) : to;
      const moveLocal = async (): Promise<void> => {
        try {
          await runGit({
            dir: this.options.dir,
            args: ['update-ref', '-m', `regent: ${this.kind === 'tag' ? 'promote' : 'move'} to ${to}`, '--end-of-options', this.ref, newOid, current?.oid ?? ZERO_OID],
            env: this.reflogEnv,
          });
        } catch (error) {
          const now = await this.value();
          if ((now?.commit ?? null) !== expected) throw this.moved(now, expected, error);
          throw toGitCommandError(error, 'update-ref');
        }
      };
      // Remote mode: the remote takes the move first; the local ref moves only once it did.
      if (this.options.pusher) await this.options.pusher.pushEnvironmentRef({ ref: this.ref, kind: this.kind, newOid, oldOid: current?.oid ?? null }, moveLocal);
      else await moveLocal();
      this.options.logger.info({ ref: this.ref, from: expected, to, object: newOid }, 'environment ref moved');
      this.watcher.notify(to);
    });
  }

  close(): void {
    this.watcher.close();
  }

  /** An annotated tag object (`mktag`, which checks its format) naming `to`, tagged by `actor`. */
  private async writeTag(to: Revision, actor: Identity, message: string): Promise<string> {
    const name = this.ref.slice('refs/tags/'.length);
    const body = `object ${to}\ntype commit\ntag ${name}\ntagger ${actor.name} <${actor.email}> ${Math.floor(Date.now() / 1000)} +0000\n\n${message}`;
    const { stdout } = await runGit({ dir: this.options.dir, args: ['mktag'], input: body });
    const oid = stdout.toString('utf8').trim();
    if (!isSha(oid)) throw new Error(`mktag returned '${oid.slice(0, 80)}'`);
    return oid;
  }

  private moved(current: RefValue | undefined, expected: Revision | null, cause?: unknown): ConflictError {
    return new ConflictError(
      'environment_moved',
      `${this.ref} names ${current?.commit ?? '(nothing)'}, not ${expected ?? '(nothing)'} (hint: read GET /api/environments and promote again with its revision in If-Match)`,
      { revision: current?.commit ?? null, expectedRevision: expected, field: 'If-Match' },
      { cause },
    );
  }
}

/** A ref's object id and the commit it peels to; undefined when missing or not naming a commit. */
export async function readRef(dir: string, ref: string): Promise<RefValue | undefined> {
  const { stdout } = await runGit({
    dir,
    args: ['for-each-ref', '--format=%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)%00%(*objecttype)', '--', ref],
  });
  for (const line of stdout.toString('utf8').split('\n')) {
    const [name, oid, type, peeled, peeledType] = line.split('\0');
    if (name !== ref || !oid) continue;
    if (type === 'commit') return { oid, commit: oid };
    if (type === 'tag' && peeledType === 'commit' && peeled) return { oid, commit: peeled };
    return undefined;
  }
  return undefined;
}

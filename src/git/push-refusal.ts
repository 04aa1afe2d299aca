import { NotAllowedError, UnavailableError } from '../domain/errors.js';

/** What the host may say in a refusal, at most: enough for "Not allowed to push to protected branch main". */
const MAX_REASON = 300;

/** A push the host itself declined (`[remote rejected]`), as opposed to a ref that moved (`[rejected]`). */
export interface HostRefusal {
  /** `NotAllowedError` `remote_refused`, with git's reason and what the host printed. */
  error: NotAllowedError;
  /**
   * The host could not update (lock) its ref: another push to the same ref landed first (`cannot lock
   * ref ... is at X but expected Y`), or held its lock at that moment. Not a policy of the host: a race.
   */
  refLock: boolean;
}

/**
 * `git push --porcelain` reports a server-side refusal (a pre-receive hook, a protected branch or tag) as
 * `!<TAB>src:dst<TAB>[remote rejected] (<reason>)`, and a ref that moved as `[rejected] (...)`. Returns
 * the refusal, or undefined when the host did not refuse the push. A refusal is not necessarily final:
 * two pushes racing for one ref make the loser's host answer `[remote rejected] (failed to update ref)`
 * (git's receive-pack) or `(cannot lock ref ...)` (hosted Git); the caller tells a race from a policy by
 * fetching: a race moved the ref. Its `reason` is git's (often just "pre-receive hook declined")
 * followed by what the host printed on the `remote:` side-band (Gitea: "Gitea: Not allowed to push to
 * protected branch main"; GitHub: "GH006: Protected branch update failed"), control characters removed,
 * bounded.
 */
export function hostRefusal(porcelain: string, stderr: string, what: string): HostRefusal | undefined {
  const match = /^!\t[^\t]*\t\[remote rejected\](?: \((.*)\))?$/m.exec(porcelain);
  if (!match) return undefined;
  const said = remoteMessages(stderr);
  const reason = `${match[1] ?? 'no reason given'}${said ? `: ${said}` : ''}`.slice(0, MAX_REASON);
  return {
    error: new NotAllowedError('remote_refused', `${what}: ${reason} (hint: a protected branch or a server hook; change it on the Git host, or propose the change there)`, { reason }),
    refLock: /failed to (update|lock) ref|cannot lock ref|incorrect old value|failed to lock/i.test(reason),
  };
}

/**
 * What a caller says when the host's ref stayed locked (see {@link HostRefusal.refLock}) through every
 * retry: `UnavailableError` `remote_unavailable`, nothing changed, try again.
 */
export function refBusyError(refusal: HostRefusal, ref: string, remote: string): UnavailableError {
  return new UnavailableError('remote_unavailable', `the remote could not update ${ref} just now (${refusal.error.details.reason as string}); nothing changed there, retry`, { remote }, { cause: refusal.error });
}

/** The host's `remote:` lines of git's stderr, cleaned (no escapes or control characters) and joined. */
export function remoteMessages(stderr: string): string {
  const lines: string[] = [];
  for (const line of stderr.split(/\r?\n|\r/)) {
    if (!line.startsWith('remote:')) continue;
    // eslint-disable-next-line no-control-regex
    const text = line.slice('remote:'.length).replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/[\x00-\x1f\x7f]/g, '')
      .replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@\s]*@/g, '$1***@').trim();
    if (text !== '' && !lines.includes(text)) lines.push(text);
    if (lines.join('; ').length > MAX_REASON) break;
  }
  return lines.join('; ');
}

import { NotAllowedError } from '../domain/errors.js';

/** What the host may say in a refusal, at most: enough for "Not allowed to push to protected branch main". */
const MAX_REASON = 300;

/**
 * `git push --porcelain` reports a server-side refusal (a pre-receive hook, a protected branch or tag) as
 * `!<TAB>src:dst<TAB>[remote rejected] (<reason>)`, and a ref that moved as `[rejected] (...)`. The first
 * is not a race a fetch and retry could win: `NotAllowedError` `remote_refused`. Its `reason` is git's
 * (often just "pre-receive hook declined") followed by what the host printed on the `remote:` side-band
 * (Gitea: "Gitea: Not allowed to push to protected branch main"; GitHub: "GH006: Protected branch update
 * failed"), control characters removed, bounded. Returns when the push was not refused by the host.
 */
export function refusedByRemote(porcelain: string, stderr: string, what: string): void {
  const match = /^!\t[^\t]*\t\[remote rejected\](?: \((.*)\))?$/m.exec(porcelain);
  if (!match) return;
  const said = remoteMessages(stderr);
  const reason = `${match[1] ?? 'no reason given'}${said ? `: ${said}` : ''}`.slice(0, MAX_REASON);
  throw new NotAllowedError('remote_refused', `${what}: ${reason} (hint: a protected branch or a server hook; change it on the Git host, or propose the change there)`, { reason });
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

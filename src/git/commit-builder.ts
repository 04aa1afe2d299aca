import { InputError } from '../domain/errors.js';
import type { Identity } from '../domain/store/policy-store.js';
import { runGit } from './git-process.js';
import { isSha } from './git-validation.js';

/** Options of {@link writeCommit}. */
export interface WriteCommitOptions {
  dir: string;
  tree: string;
  parent: string | null;
  /** Further parents of a merge commit (full commit ids), after `parent`. */
  extraParents?: readonly string[];
  author: Identity;
  committer: Identity;
  date: Date;
  /** The complete message, already formatted by {@link formatCommitMessage}. */
  message: string;
}

/**
 * Writes a commit object with `commit-tree` and returns its id; no ref moves. Identities and dates go
 * through the environment and the message through stdin, so nothing caller-supplied is ever in argv.
 * Identities must have passed `assertIdentity`. (`commit-tree` has its own argument parser without
 * `--end-of-options`; its argv holds only validated object ids.)
 */
export async function writeCommit(options: WriteCommitOptions): Promise<string> {
  const { tree, parent } = options;
  const extraParents = options.extraParents ?? [];
  if (!isSha(tree) || (parent !== null && !isSha(parent)) || !extraParents.every(isSha)) throw new Error('writeCommit needs full object ids');
  if (parent === null && extraParents.length > 0) throw new Error('writeCommit: a merge commit needs a first parent');
  const date = gitDate(options.date);
  const { stdout } = await runGit({
    dir: options.dir,
    args: ['commit-tree', tree, ...(parent ? ['-p', parent] : []), ...extraParents.flatMap((extra) => ['-p', extra])],
    input: options.message,
    env: {
      GIT_AUTHOR_NAME: options.author.name,
      GIT_AUTHOR_EMAIL: options.author.email,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_NAME: options.committer.name,
      GIT_COMMITTER_EMAIL: options.committer.email,
      GIT_COMMITTER_DATE: date,
    },
  });
  const revision = stdout.toString('utf8').trim();
  if (!isSha(revision)) throw new Error(`commit-tree returned '${revision.slice(0, 80)}'`);
  return revision;
}

/** git's internal date format, always UTC: `<epoch seconds> +0000`. */
function gitDate(date: Date): string {
  const time = date.getTime();
  if (!Number.isFinite(time)) throw new InputError('invalid_date', 'the commit date is not a valid date', { field: 'date' });
  return `${Math.floor(time / 1000)} +0000`;
}

const TRAILER_KEY = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

/**
 * `message` + a blank line + `Key: value` trailer lines, ending in one newline. Refuses an empty
 * message or one with NUL (`InputError` `invalid_message`), and trailer keys or values that could
 * break out of their line (`InputError` `invalid_trailer`).
 */
export function formatCommitMessage(message: unknown, trailers?: Readonly<Record<string, string>>): string {
  if (typeof message !== 'string' || message.trim() === '' || message.includes('\0') || message.length > 65_536) {
    throw new InputError('invalid_message', 'the commit message must be non-empty text of at most 64 KiB', { field: 'message' });
  }
  const body = message.replace(/\s+$/, '');
  const lines = Object.entries(trailers ?? {}).map(([key, value]) => {
    // eslint-disable-next-line no-control-regex
    if (!TRAILER_KEY.test(key) || typeof value !== 'string' || value.trim() === '' || /[\x00-\x1f\x7f]/.test(value)) {
      throw new InputError('invalid_trailer', `trailer '${key.slice(0, 64)}' must be a token with a one-line value`, { field: 'trailers' });
    }
    return `${key}: ${value}`;
  });
  return lines.length === 0 ? `${body}\n` : `${body}\n\n${lines.join('\n')}\n`;
}

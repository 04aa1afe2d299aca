import type { DiffEntry, Identity, TreeEntry, VersionInfo } from '../domain/store/policy-store.js';
import { GitCommandError } from './git-errors.js';

/**
 * Parsers for the NUL-separated (`-z`) and raw-object formats the adapter reads. Every format here is
 * one where a hostile file name or commit message cannot be mistaken for structure: paths are
 * NUL-terminated and commit objects are parsed from their raw bytes, header by header.
 */

const KIND_BY_MODE: Readonly<Record<string, TreeEntry['kind']>> = {
  '100644': 'file',
  '100755': 'executable',
  '120000': 'symlink',
  '160000': 'submodule',
};

/**
 * Parses `ls-tree -r -l -z --full-tree` output. Stops with `onTooMany` as soon as more than `maxEntries`
 * entries are seen, so a huge tree is refused without building the whole list.
 */
export function parseLsTree(output: string, maxEntries: number, onTooMany: () => Error): TreeEntry[] {
  const entries: TreeEntry[] = [];
  for (const record of output.split('\0')) {
    if (record === '') continue;
    const tab = record.indexOf('\t');
    const [mode = '', , blobId = '', size = ''] = record.slice(0, tab).split(/ +/);
    const kind = KIND_BY_MODE[mode];
    if (tab < 0 || kind === undefined) throw malformed('ls-tree', record);
    if (entries.length === maxEntries) throw onTooMany();
    entries.push({ path: record.slice(tab + 1), blobId, size: size === '-' ? 0 : Number(size), kind });
  }
  return entries;
}

/**
 * Parses raw diff output (`diff-tree -r -z [-M]`, without `--name-status`):
 * `:<mode> <mode> <old> <new> <status>\0<path>\0[<new path>\0]`. With `--stdin`, each commit's entries are
 * preceded by `<commit>\0`; those are returned grouped by commit.
 */
export function parseRawDiff(output: string): Map<string, DiffEntry[]> {
  const byCommit = new Map<string, DiffEntry[]>();
  let current: DiffEntry[] = [];
  byCommit.set('', current);
  const fields = output.split('\0');
  for (let index = 0; index < fields.length; index += 1) {
    const field = fields[index] ?? '';
    if (field === '') continue;
    if (!field.startsWith(':')) {
      current = [];
      byCommit.set(field.trim(), current);
      continue;
    }
    const [, , oldBlob = '', newBlob = '', status = ''] = field.slice(1).split(' ');
    const letter = status.charAt(0);
    const path = fields[++index] ?? '';
    if (letter === 'R' || letter === 'C') {
      // A copy (only with -C, which we never pass) is reported as the added file it produces.
      const newPath = fields[++index] ?? '';
      current.push(letter === 'R'
        ? { path: newPath, oldPath: path, status: 'renamed', oldBlobId: oldBlob, newBlobId: newBlob }
        : { path: newPath, status: 'added', newBlobId: newBlob });
      continue;
    }
    const entry = rawEntry(letter, path, oldBlob, newBlob);
    if (!entry) throw malformed('diff-tree', field);
    current.push(entry);
  }
  return byCommit;
}

const ZERO_OID = /^0+$/;

function rawEntry(letter: string, path: string, oldBlob: string, newBlob: string): DiffEntry | undefined {
  const oldBlobId = ZERO_OID.test(oldBlob) ? undefined : oldBlob;
  const newBlobId = ZERO_OID.test(newBlob) ? undefined : newBlob;
  switch (letter) {
    case 'A':
      return { path, status: 'added', newBlobId };
    case 'D':
      return { path, status: 'deleted', oldBlobId };
    case 'M':
    case 'T':
      return { path, status: 'modified', oldBlobId, newBlobId };
    default:
      return undefined;
  }
}

/** A commit object's header fields and message, as `show`/`log` report them (files come separately). */
export type CommitHeaders = Omit<VersionInfo, 'files'>;

/**
 * Parses a raw commit object (`tree`, `parent`*, `author`, `committer`, other headers with continuation
 * lines, a blank line, the message). The message is returned whole, trailers included, without its
 * final newline.
 */
export function parseCommitObject(revision: string, raw: Buffer): CommitHeaders {
  const text = raw.toString('utf8');
  const split = text.indexOf('\n\n');
  const headerText = split < 0 ? text : text.slice(0, split);
  const message = split < 0 ? '' : text.slice(split + 2).replace(/\n+$/, '');
  let tree: string | undefined;
  const parents: string[] = [];
  let author: CommitHeaders['author'] | undefined;
  let committer: CommitHeaders['committer'] | undefined;
  for (const line of headerText.split('\n')) {
    if (line.startsWith(' ')) continue; // continuation of a multi-line header (gpgsig, mergetag)
    const space = line.indexOf(' ');
    const key = line.slice(0, space);
    const value = line.slice(space + 1);
    if (key === 'tree') tree = value;
    else if (key === 'parent') parents.push(value);
    else if (key === 'author') author = parseSignature(value);
    else if (key === 'committer') committer = parseSignature(value);
  }
  if (!tree || !author || !committer) throw malformed('commit', revision);
  return { revision, parents, tree, author, committer, message };
}

const SIGNATURE = /^(.*?) ?<([^>]*)> (\d+) ([+-])(\d\d)(\d\d)$/;

/** `Name <email> <epoch> <+hhmm>` to an identity with an ISO-8601 date in the commit's own offset. */
export function parseSignature(value: string): Identity & { date: string } {
  const match = SIGNATURE.exec(value);
  if (!match) return { name: value, email: '', date: new Date(0).toISOString() };
  const [, name = '', email = '', epoch = '0', sign = '+', hours = '00', minutes = '00'] = match;
  return { name, email, date: isoWithOffset(Number(epoch), sign, hours, minutes) };
}

/** Like git's `%aI`: `2026-11-23T19:30:43+01:00`. */
function isoWithOffset(epochSeconds: number, sign: string, hours: string, minutes: string): string {
  const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes));
  const local = new Date((epochSeconds + offsetMinutes * 60) * 1000).toISOString().slice(0, 19);
  return `${local}${sign}${hours}:${minutes}`;
}

function malformed(command: string, sample: string): GitCommandError {
  return new GitCommandError(command, undefined, `unexpected output: ${sample.slice(0, 200)}`);
}

import type { SimpleGit } from 'simple-git';
import type { Diff, DiffEntry, VersionInfo } from '../domain/store/policy-store.js';
import type { CatFileBatch } from './cat-file-batch.js';
import { GitCommandError } from './git-errors.js';
import { parseCommitObject, parseRawDiff } from './git-output-parsers.js';
import { runGit } from './git-process.js';
import { isSha } from './git-validation.js';

/** Patches larger than this are cut, with a note, so one huge data file cannot blow up a response. */
export const MAX_PATCH_BYTES = 2 * 1024 * 1024;

/** What a {@link HistoryReader} reads through. */
export interface HistoryReaderOptions {
  dir: string;
  git: SimpleGit;
  objects: CatFileBatch;
}

/** Which commits {@link HistoryReader.log} lists. */
export interface CommitRange {
  /** Commit to walk back from (a validated SHA). */
  from: string;
  path?: string;
  limit: number;
  skip: number;
}

/**
 * Reads history without one process per commit: `rev-list` picks the commits, the batch reader returns
 * their raw objects (parsed header by header, so no message can forge a field), and one
 * `diff-tree --stdin` lists the files of all of them against their first parents (everything as added
 * for a root commit). All inputs must already be validated SHAs and paths.
 */
export class HistoryReader {
  constructor(private readonly options: HistoryReaderOptions) {}

  /** Newest first, like `git log`, following the first parent's rename-aware file lists. */
  async log(range: CommitRange): Promise<VersionInfo[]> {
    const args = ['rev-list', `--max-count=${range.limit}`, `--skip=${range.skip}`, '--end-of-options', range.from, '--'];
    if (range.path !== undefined) args.push(range.path);
    const output = await this.options.git.raw(args);
    const revisions = output.split('\n').filter(isSha);
    return this.versions(revisions);
  }

  /** VersionInfo of the given commits, in the given order. */
  async versions(revisions: readonly string[]): Promise<VersionInfo[]> {
    if (revisions.length === 0) return [];
    const objects = await this.options.objects.contents(revisions);
    const headers = revisions.map((revision, index) => {
      const object = objects[index];
      if (!object?.content || object.type !== 'commit') throw new GitCommandError('cat-file', undefined, `${revision} is not a commit`);
      return parseCommitObject(revision, object.content);
    });
    const input = headers.map((commit) => (commit.parents[0] ? `${commit.revision} ${commit.parents[0]}` : commit.revision)).join('\n');
    const { stdout } = await runGit({
      dir: this.options.dir,
      args: ['diff-tree', '--stdin', '-r', '-z', '-M', '--root', '--always'],
      input: `${input}\n`,
    });
    const files = parseRawDiff(stdout.toString('utf8'));
    return headers.map((commit) => ({
      ...commit,
      files: (files.get(commit.revision) ?? []).map((entry) => ({ path: entry.path, status: entry.status })),
    }));
  }

  /** Files changed between two commits (rename-aware) plus the unified patch, capped at {@link MAX_PATCH_BYTES}. */
  async diff(from: string, to: string): Promise<Diff> {
    const [entries, patch] = await Promise.all([this.diffEntries(from, to), this.patch(from, to)]);
    return { from, to, files: entries, patch };
  }

  private async diffEntries(from: string, to: string): Promise<DiffEntry[]> {
    const output = await this.options.git.raw(['diff-tree', '-r', '-z', '-M', '--end-of-options', from, to]);
    return parseRawDiff(output).get('') ?? [];
  }

  private async patch(from: string, to: string): Promise<string> {
    const { stdout, truncated } = await runGit({
      dir: this.options.dir,
      args: ['diff', '--no-color', '--no-ext-diff', '--no-textconv', '-M', '--end-of-options', from, to],
      maxOutputBytes: MAX_PATCH_BYTES,
    });
    const text = stdout.toString('utf8');
    return truncated ? `${text}\n[patch truncated at ${MAX_PATCH_BYTES} bytes]\n` : text;
  }
}

import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { onTestFinished } from 'vitest';
import type { Logger } from '../../src/domain/logger.js';
import { GitPolicyRepository, type OpenPolicyRepositoryOptions } from '../../src/git/git-policy-repository.js';
import { tempDirForTest } from './temp-dir.js';

const execFileAsync = promisify(execFile);

/** A fresh temp directory removed when the current test finishes. */
export function tempDir(prefix = 'regent-git-'): string {
  return tempDirForTest(prefix);
}

export interface GitCommandOptions {
  /** Working directory (a work tree). */
  cwd?: string;
  /** Run against this repository directory (e.g. a bare store) instead of discovering one. */
  gitDir?: string;
  /** Extra environment (identities, dates). */
  env?: Record<string, string>;
}

/**
 * Runs the real git as an outside process would: isolated from the user's and the system's config,
 * with a fixed test identity. Rejects with git's stderr on failure. Returns stdout untrimmed.
 */
export async function git(args: readonly string[], options: GitCommandOptions = {}): Promise<string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Test Author',
    GIT_AUTHOR_EMAIL: 'author@example.test',
    GIT_COMMITTER_NAME: 'Test Committer',
    GIT_COMMITTER_EMAIL: 'committer@example.test',
    ...(options.gitDir ? { GIT_DIR: options.gitDir } : {}),
    ...options.env,
  };
  const { stdout } = await execFileAsync('git', [...args], { cwd: options.cwd ?? options.gitDir, env, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export interface GitRepoOptions {
  /** Initial branch; default `main`. */
  branch?: string;
  message?: string;
}

export interface GitRepo {
  /** The work tree (its `.git` is inside). */
  dir: string;
  branch: string;
  /** The initial commit's SHA. */
  head: string;
  /** Runs git in this repository. */
  git(args: readonly string[], env?: Record<string, string>): Promise<string>;
  /** Writes files (creating directories), stages everything and commits; returns the new SHA. */
  commit(files: Record<string, string>, message?: string): Promise<string>;
}

/**
 * A non-bare work-tree repository in a temp dir (removed when the test finishes): `git init`,
 * `gc.auto 0`, a user identity, no signing, and an initial commit of `files` (paths `/`-separated,
 * directories created as needed). Use it as the "outside" repository that pushes to a store.
 */
export async function gitRepo(files: Record<string, string>, options: GitRepoOptions = {}): Promise<GitRepo> {
  const dir = tempDir('regent-repo-');
  const branch = options.branch ?? 'main';
  const run = (args: readonly string[], env?: Record<string, string>) => git(args, { cwd: dir, env });
  await run(['init', '--quiet', `--initial-branch=${branch}`]);
  for (const [key, value] of [
    ['gc.auto', '0'],
    ['user.name', 'Test Author'],
    ['user.email', 'author@example.test'],
    ['commit.gpgsign', 'false'],
    ['tag.gpgsign', 'false'],
  ] as const) {
    await run(['config', key, value]);
  }
  const commit = async (changes: Record<string, string>, message = 'test commit'): Promise<string> => {
    for (const [path, content] of Object.entries(changes)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    await run(['add', '--all']);
    await run(['commit', '--quiet', '--allow-empty', '-m', message]);
    return (await run(['rev-parse', 'HEAD'])).trim();
  };
  const head = await commit(files, options.message ?? 'initial commit');
  return { dir, branch, head, git: run, commit };
}

/** A logger that drops everything; `entries` keeps what was logged at warn or above, for assertions. */
export function silentLogger(): Logger & { entries: Array<{ level: string; message: string }> } {
  const entries: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (first: unknown, second?: unknown) => {
    if (level === 'warn' || level === 'error') entries.push({ level, message: String(typeof first === 'string' ? first : second) });
  };
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger, entries };
  return logger;
}

export const SYSTEM_IDENTITY = { name: 'Regent', email: 'regent@example.test' };

/**
 * A `GitPolicyRepository` on a fresh bare store in a temp dir, closed and removed when the test
 * finishes. `dir` is the store path, for inspecting it with {@link git} `{ gitDir: dir }`.
 */
export async function openTestStore(
  options: Partial<OpenPolicyRepositoryOptions> = {},
): Promise<{ store: GitPolicyRepository; dir: string }> {
  const dir = options.dir ?? join(tempDir('regent-store-'), 'store.git');
  const store = await GitPolicyRepository.open({
    dir, branch: 'main', systemIdentity: SYSTEM_IDENTITY, logger: silentLogger(), watchIntervalMs: 200, ...options,
  });
  onTestFinished(() => store.close());
  return { store, dir };
}

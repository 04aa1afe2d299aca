import { simpleGit, GitPluginError, type SimpleGit } from 'simple-git';
import { gitCommandError } from './git-errors.js';

/**
 * The one place that decides how git runs for a store: a fixed environment (never the ambient one) and
 * the simple-git instance built from it (the store's own config is hardened by `applyHardening`).
 *
 * - `GIT_DIR` names the store explicitly, so git never discovers some other repository above it.
 * - `GIT_CONFIG_NOSYSTEM` / `GIT_CONFIG_GLOBAL=/dev/null`: only the store's own config applies.
 * - `GIT_LITERAL_PATHSPECS`: a path is a path, never a glob or `:(magic)`.
 * - `GIT_NO_REPLACE_OBJECTS`: `refs/replace` cannot make history look different from what it is.
 * - `GIT_TERMINAL_PROMPT=0`, `LC_ALL=C`: no prompts, stable messages to classify.
 */
export function gitEnvironment(dir: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LC_ALL: 'C',
    GIT_DIR: dir,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_LITERAL_PATHSPECS: '1',
    GIT_NO_REPLACE_OBJECTS: '1',
    ...extra,
  };
}

/** Options of {@link createGitClient}. */
export interface GitClientOptions {
  /** Extra constant environment (e.g. `GIT_INDEX_FILE` for a temporary index, the reflog identity). */
  env?: Readonly<Record<string, string>>;
  /** Kill a git command that produces no output for this long (ms). */
  timeoutMs?: number;
}

/**
 * A simple-git instance bound to one store with a fixed environment, for commands that print their
 * answer. Non-zero exits always reject with a {@link GitCommandError} carrying the exit code (simple-git
 * alone treats an exit without stderr as success). Commands that print nothing on success go through
 * `runGit` instead: simple-git's completion plugin waits a fixed 50 ms after any silent command.
 *
 * `allowUnsafeConfigPaths` is enabled only because the constant `GIT_CONFIG_GLOBAL=/dev/null` above
 * trips that guard; the same flag would also admit `--git-dir`/`-C` in argv, which cannot come from
 * callers because every caller-supplied value is validated and placed after `--end-of-options` or `--`.
 */
export function createGitClient(dir: string, options: GitClientOptions = {}): SimpleGit {
  const env = gitEnvironment(dir, options.env);
  return simpleGit({
    baseDir: dir,
    maxConcurrentProcesses: 4,
    allowEnvironment: Object.keys(env).filter((key) => key.startsWith('GIT_')),
    unsafe: { allowUnsafeConfigPaths: true },
    timeout: { block: options.timeoutMs ?? 60_000 },
    errors(error, result) {
      if (error instanceof GitPluginError) return error;
      if (result.exitCode !== 0) {
        return gitCommandError('git', result.exitCode, Buffer.concat(result.stdErr).toString('utf8'), { cause: error });
      }
      return error;
    },
  }).env(env);
}

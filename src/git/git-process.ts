import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { gitEnvironment } from './git-environment.js';
import { gitCommandError, GitCommandError } from './git-errors.js';

/**
 * Direct `node:child_process` access to git, for the few jobs simple-git 4 cannot do:
 *
 * - writing to stdin (`hash-object --stdin-paths`, `update-index -z --index-info`, `commit-tree` reading
 *   its message, `diff-tree --stdin`), because simple-git offers only a per-instance input hook;
 * - capping output while it streams (a patch limited to a few MB), because simple-git buffers all of it;
 * - commands that print nothing on success (`update-ref`, `read-tree`, `config` writes, `merge-base
 *   --is-ancestor`, `rev-parse --verify --quiet` of a missing ref), because simple-git's completion
 *   plugin adds a fixed 50 ms wait after any command without output;
 * - the long-lived `cat-file --batch-command` child, which simple-git cannot keep open.
 *
 * Everything else goes through simple-git. The same rules apply here: a fixed environment from
 * {@link gitEnvironment} (never the ambient one), argv built only from constants, validated SHAs and
 * validated paths after `--`, and no shell.
 */

export interface RunGitOptions {
  /** The store (`GIT_DIR`). */
  dir: string;
  args: readonly string[];
  /** Written to stdin, which is then closed. */
  input?: Buffer | string;
  /** Constant extra environment, e.g. `GIT_INDEX_FILE` or the commit identities. */
  env?: Readonly<Record<string, string>>;
  /** Stop reading (and kill git) once stdout reaches this many bytes; the result is marked truncated. */
  maxOutputBytes?: number;
  /** Exit codes that are answers rather than failures (e.g. 1 for `merge-base --is-ancestor`). */
  okExitCodes?: readonly number[];
  /** Kill git after this long (ms). */
  timeoutMs?: number;
  /**
   * Run git in its own process group and kill the whole group on timeout. For network commands
   * (`fetch`, `push`), whose helpers (`git-remote-https`, `ssh`, `upload-pack`) would outlive git itself.
   */
  killProcessGroup?: boolean;
}

/** stdout as bytes; `truncated` when `maxOutputBytes` cut it (git was then stopped). */
export interface RunGitResult {
  stdout: Buffer;
  /** The end of stderr (at most 8 KB), for commands whose failure exit is an answer (`okExitCodes`). */
  stderr: string;
  exitCode: number;
  truncated: boolean;
}

/** Runs one git command to completion; rejects with a {@link GitCommandError} on a failure exit. */
export function runGit(options: RunGitOptions): Promise<RunGitResult> {
  const command = options.args[0] ?? 'git';
  return new Promise<RunGitResult>((resolve, reject) => {
    const child = spawnGit(options.dir, options.args, options.env, { detached: options.killProcessGroup === true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let stdoutBytes = 0;
    let truncated = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (options.killProcessGroup && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
          return;
        } catch {
          // the group is already gone; fall through to the child itself
        }
      }
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);

    child.stdout.on('data', (chunk: Buffer) => {
      if (truncated) return;
      const limit = options.maxOutputBytes;
      if (limit !== undefined && stdoutBytes + chunk.length > limit) {
        stdout.push(chunk.subarray(0, limit - stdoutBytes));
        stdoutBytes = limit;
        truncated = true;
        child.kill('SIGTERM');
        return;
      }
      stdout.push(chunk);
      stdoutBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
    });
    // git may exit before reading all of stdin (e.g. on a bad argument): the exit code tells the story.
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new GitCommandError(command, undefined, error.message, { cause: error }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const output = Buffer.concat(stdout, stdoutBytes);
      const stderrText = Buffer.concat(stderr).toString('utf8');
      if (truncated) return resolve({ stdout: output, stderr: stderrText.slice(-8192), exitCode: code ?? 0, truncated });
      if (timedOut) return reject(new GitCommandError(command, undefined, `timed out; ${stderrText}`));
      if (code === 0 || (code !== null && options.okExitCodes?.includes(code))) {
        return resolve({ stdout: output, stderr: stderrText.slice(-8192), exitCode: code, truncated });
      }
      reject(gitCommandError(command, code ?? undefined, stderrText));
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Milliseconds left until `deadline` (epoch ms), as a `timeoutMs`; a command started after it gets a token moment and times out. */
export function remainingMs(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

/** Spawns git with the store's fixed environment and piped stdio; the caller owns the child. */
export function spawnGit(
  dir: string,
  args: readonly string[],
  env?: Readonly<Record<string, string>>,
  options: { detached?: boolean } = {},
): ChildProcessWithoutNullStreams {
  return spawn('git', [...args], {
    cwd: dir,
    detached: options.detached ?? false,
    env: gitEnvironment(dir, { GIT_TEST_DISALLOW_ABBREVIATED_OPTIONS: 'true', ...env }),
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
}

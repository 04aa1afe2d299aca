import { GitError, GitPluginError } from 'simple-git';
import { redactUrls } from '../domain/redact-urls.js';

/**
 * Git failures, classified the way callers need them: a {@link GitUserError} is caused by what we were
 * asked to do (an unknown revision, a refused argument, a bad remote URL or credentials) and must never
 * be retried or alerted on; any other {@link GitCommandError} is treated as transient (a lock held by
 * another process, a dead child, I/O trouble) and may be retried. Repository methods translate the
 * failures they expect into domain errors (`NotFoundError`, `ConflictError`, ...) before they escape.
 *
 * Both classes extend simple-git's `GitError` so that simple-git passes them through unchanged when they
 * are produced by its `errors` hook.
 */
export class GitCommandError extends GitError {
  /** The git subcommand (argv[0]); never the full argv, which may hold paths or messages. */
  readonly command: string;
  /** Exit code, or undefined when the process did not exit normally (killed, failed to spawn). */
  readonly exitCode: number | undefined;
  /** The end of git's stderr (at most 4 KB), for logs and hints. */
  readonly stderr: string;
  /** True when retrying may succeed; false for {@link GitUserError}. */
  readonly transient: boolean = true;

  constructor(command: string, exitCode: number | undefined, stderr: string, options?: { cause?: unknown }) {
    // git repeats URLs in its messages; a credential in one must not reach a log or an answer.
    const text = redactUrls(stderr.trim().slice(-4096));
    super(undefined, `git ${command} failed${exitCode === undefined ? '' : ` with exit code ${exitCode}`}${text ? `: ${text}` : ''}`);
    if (options?.cause !== undefined) this.cause = options.cause;
    this.name = new.target.name;
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = text;
  }
}

/** A git failure caused by the request itself: bad revision, refused argument, URL or credentials. Never retried. */
export class GitUserError extends GitCommandError {
  override readonly transient: boolean = false;
}

/** stderr patterns that mean "the input was wrong", not "try again later". */
const USER_ERROR_PATTERNS: readonly RegExp[] = [
  /unknown revision|bad revision|bad object|not a valid object name|invalid object name/i,
  /ambiguous argument|needed a single revision|not a valid ref|is not a valid branch name/i,
  /invalid path|invalid reference|bad default revision/i,
  /authentication failed|could not read (username|password)|permission denied \(publickey/i,
  /repository .* not found|does not appear to be a git repository|could not find remote/i,
  /transport '.*' not allowed|protocol '.*' is not supported|unsupported protocol/i,
  /requested url returned error: (401|403|404)/i,
];

/** `user` when git's stderr says the input was wrong, `transient` otherwise. */
export function classifyGitFailure(stderr: string): 'user' | 'transient' {
  return USER_ERROR_PATTERNS.some((pattern) => pattern.test(stderr)) ? 'user' : 'transient';
}

/** Builds the right {@link GitCommandError} subclass for a failed git invocation. */
export function gitCommandError(
  command: string,
  exitCode: number | undefined,
  stderr: string,
  options?: { cause?: unknown },
): GitCommandError {
  return classifyGitFailure(stderr) === 'user'
    ? new GitUserError(command, exitCode, stderr, options)
    : new GitCommandError(command, exitCode, stderr, options);
}

/**
 * Normalises anything a git call can throw into a {@link GitCommandError}. simple-git's own refusals
 * (`GitPluginError`: a blocked argument, environment variable or config write) are user errors: the
 * argument would be refused again on retry.
 */
export function toGitCommandError(error: unknown, command: string): GitCommandError {
  if (error instanceof GitCommandError) return error;
  if (error instanceof GitPluginError) return new GitUserError(command, undefined, error.message, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return gitCommandError(command, undefined, message, { cause: error });
}

/** True when retrying the failed git call may succeed. */
export function isTransientGitError(error: unknown): boolean {
  return error instanceof GitCommandError && error.transient;
}

import { GitPluginError } from 'simple-git';
import { describe, expect, test } from 'vitest';
import { classifyGitFailure, gitCommandError, GitUserError, isTransientGitError, toGitCommandError } from './git-errors.js';

describe('git failure classification', () => {
  test.each([
    ["fatal: ambiguous argument 'nope': unknown revision or path not in the working tree.", 'user'],
    ["fatal: Authentication failed for 'https://git.example/repo.git/'", 'user'],
    ["fatal: repository 'https://git.example/nope.git/' not found", 'user'],
    ["fatal: transport 'ext' not allowed", 'user'],
    ["fatal: Unable to create '/data/store.git/refs/heads/main.lock': File exists.", 'transient'],
    ['fatal: the remote end hung up unexpectedly', 'transient'],
    ['error: RPC failed; curl 56 Recv failure: Connection reset by peer', 'transient'],
  ])('%s → %s', (stderr, expected) => {
    expect(classifyGitFailure(stderr)).toBe(expected);
    const error = gitCommandError('fetch', 128, stderr);
    expect(error instanceof GitUserError).toBe(expected === 'user');
    expect(isTransientGitError(error)).toBe(expected === 'transient');
    expect(error).toMatchObject({ command: 'fetch', exitCode: 128 });
  });

  test("treats simple-git's refusal of an argument as a user error", () => {
    const refused = toGitCommandError(new GitPluginError(undefined, 'unsafe', 'potential exploit argument blocked'), 'fetch');
    expect(refused).toBeInstanceOf(GitUserError);
    expect(isTransientGitError(refused)).toBe(false);
  });
});

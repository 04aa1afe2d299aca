/** The git adapter: the only place that talks to git (see `git-policy-repository.ts`). */
export { GitPolicyRepository, MAX_TREE_ENTRIES, type OpenPolicyRepositoryOptions } from './git-policy-repository.js';
export { seedFromDirectory } from './seed-from-directory.js';
export { GitCommandError, GitUserError, classifyGitFailure, isTransientGitError } from './git-errors.js';

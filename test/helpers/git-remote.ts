import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { git, gitRepo, tempDir, type GitRepo } from './git-repo.js';

/** Every regular file under `root`, keyed by `/`-separated relative path. */
export function readTree(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files[relative(root, path).split('\\').join('/')] = readFileSync(path, 'utf8');
    }
  };
  walk(root);
  return files;
}

export interface GitRemote {
  /** The bare repository standing in for the Git host (also its URL: an absolute path). */
  dir: string;
  branch: string;
  /** A clone with a work tree, acting as the developer who merges pull requests. */
  developer: GitRepo;
  /** The remote branch's tip. */
  tip(): Promise<string>;
  /** Pulls (fast-forward), writes `files`, commits and pushes; retries on a non-fast-forward refusal. Returns the pushed SHA. */
  merge(files: Record<string, string>, message?: string): Promise<string>;
  /** Rewrites history: the developer drops its last commit, commits `files` instead, and force-pushes. */
  forcePush(files: Record<string, string>, message?: string): Promise<string>;
  /** Runs git against the bare remote. */
  git(args: readonly string[]): Promise<string>;
}

/**
 * A real bare "Git host" repository in a temp dir holding `files` as its first commit on `branch`, and a
 * developer clone pushing to it. Both are removed when the test finishes.
 */
export async function gitRemote(files: Record<string, string>, options: { branch?: string } = {}): Promise<GitRemote> {
  const branch = options.branch ?? 'main';
  const dir = join(tempDir('regent-remote-'), 'policies.git');
  await git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, dir]);
  await git(['config', 'receive.denyNonFastForwards', 'false'], { gitDir: dir });
  const developer = await gitRepo(files, { branch, message: 'Initial policies' });
  await developer.git(['remote', 'add', 'origin', dir]);
  await developer.git(['push', '--quiet', 'origin', `HEAD:${branch}`]);
  const remoteGit = (args: readonly string[]): Promise<string> => git(args, { gitDir: dir });
  const tip = async (): Promise<string> => (await remoteGit(['rev-parse', `refs/heads/${branch}`])).trim();
  return {
    dir,
    branch,
    developer,
    tip,
    git: remoteGit,
    async merge(changes, message = 'Merge pull request') {
      for (let attempt = 0; attempt < 20; attempt += 1) {
        await developer.git(['fetch', '--quiet', 'origin', branch]);
        await developer.git(['reset', '--quiet', '--hard', `origin/${branch}`]);
        const sha = await developer.commit(changes, message);
        try {
          await developer.git(['push', '--quiet', 'origin', `HEAD:${branch}`]);
          return sha;
        } catch (error) {
          if (!/rejected|fetch first|non-fast-forward/i.test(String((error as Error).message))) throw error;
        }
      }
      throw new Error('the developer could not push after 20 attempts');
    },
    async forcePush(changes, message = 'Rewritten history') {
      await developer.git(['fetch', '--quiet', 'origin', branch]);
      await developer.git(['reset', '--quiet', '--hard', `origin/${branch}~1`]);
      const sha = await developer.commit(changes, message);
      await developer.git(['push', '--quiet', '--force', 'origin', `HEAD:${branch}`]);
      return sha;
    },
  };
}

/** GitHub's `X-Hub-Signature-256` value for `body`. */
export function githubSignature(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Gitea's `X-Gitea-Signature` value for `body` (bare hex). */
export function giteaSignature(body: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gitea } from './gitea.js';
import { readTree } from './git-remote.js';
import { gitRepo, type GitRepo } from './git-repo.js';
import { EXAMPLE_POLICIES } from './start-regent.js';

export interface GiteaRepository {
  name: string;
  /** The clone URL Regent is given (no credentials in it). */
  cloneUrl: string;
  /** `/repos/<owner>/<name>`, for API paths. */
  apiPath: string;
  /** A developer's clone pushing to Gitea as the admin user (password in its remote URL, CA from the environment). */
  developer: GitRepo;
  /** The branch's tip as Gitea serves it (`git ls-remote`); undefined when the branch does not exist. */
  tip(branch?: string): Promise<string | undefined>;
  /** Runs git in the developer's clone with Gitea's CA trusted. */
  git(args: readonly string[]): Promise<string>;
  /** Pushes a branch `name` with `files` committed on top of main; returns its SHA. */
  pushBranch(name: string, files: Record<string, string>, message: string): Promise<string>;
  /** Opens a pull request of `branch` into main and merges it through Gitea's API; returns Gitea's merge commit. */
  mergePullRequest(branch: string, title: string): Promise<string>;
  /** Adds a `gitea` webhook (push events, JSON, signed with `secret`) pointing at `url`; returns its id. */
  addWebhook(url: string, secret: string): Promise<number>;
}

/** A repository on `gitea` holding the example policies as its first commit on main. */
export async function giteaPoliciesRepository(gitea: Gitea, name: string): Promise<GiteaRepository> {
  const cloneUrl = await gitea.createRepository(name);
  const apiPath = `/repos/${gitea.user}/${name}`;
  const developer = await gitRepo(readTree(EXAMPLE_POLICIES), { message: 'Initial policies' });
  const git = (args: readonly string[]): Promise<string> => developer.git(args, gitea.developerEnv);
  await git(['remote', 'add', 'origin', gitea.developerUrl(name)]);
  await git(['push', '--quiet', 'origin', 'HEAD:main']);
  // Read over git, not through the API: Gitea records pushes in its database in the background.
  const tip = async (branch = 'main'): Promise<string | undefined> => {
    const line = (await git(['ls-remote', 'origin', `refs/heads/${branch}`])).trim();
    return line === '' ? undefined : line.split('\t')[0];
  };
  return {
    name, cloneUrl, apiPath, developer, tip, git,
    async pushBranch(branch, files, message) {
      await git(['fetch', '--quiet', 'origin', 'main']);
      await git(['checkout', '--quiet', '-B', branch, 'origin/main']);
      const sha = await developer.commit(files, message);
      await git(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`]);
      await git(['checkout', '--quiet', '--detach', 'origin/main']);
      return sha;
    },
    async mergePullRequest(branch, title) {
      const opened = await gitea.api('POST', `${apiPath}/pulls`, { head: branch, base: 'main', title });
      if (opened.status !== 201) throw new Error(`opening a pull request answered ${opened.status}: ${opened.text}`);
      const number = opened.body.number as number;
      // Gitea checks mergeability in the background: until it has, a merge is answered 405 "try again later".
      const deadline = Date.now() + 30_000;
      for (;;) {
        const merged = await gitea.api('POST', `${apiPath}/pulls/${number}/merge`, { Do: 'merge', merge_message_field: title });
        if (merged.status === 200) break;
        if (Date.now() > deadline) throw new Error(`merging pull request ${number} answered ${merged.status}: ${merged.text}`);
        await new Promise((done) => setTimeout(done, 100));
      }
      const pull = await gitea.api('GET', `${apiPath}/pulls/${number}`);
      return pull.body.merge_commit_sha as string;
    },
    async addWebhook(url, secret) {
      const created = await gitea.api('POST', `${apiPath}/hooks`, { type: 'gitea', active: true, events: ['push'], config: { url, content_type: 'json', secret } });
      if (created.status !== 201) throw new Error(`adding a webhook answered ${created.status}: ${created.text}`);
      return created.body.id as number;
    },
  };
}

/** rbac/data.json of the developer's clone with `user` made a viewer of apollo. */
export function rbacDataWithViewer(repository: GiteaRepository, user: string): string {
  const data = JSON.parse(readFileSync(join(repository.developer.dir, 'rbac', 'data.json'), 'utf8')) as { users: Record<string, unknown>; assignments: Record<string, unknown> };
  data.users[user] = { active: true };
  data.assignments[user] = [{ role: 'viewer', project: 'apollo' }];
  return `${JSON.stringify(data, null, 2)}\n`;
}

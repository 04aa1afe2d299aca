import { mkdir, readdir } from 'node:fs/promises';
import type { Logger } from '../domain/logger.js';
import { createGitClient } from './git-environment.js';
import { applyHardening } from './git-hardening.js';
import { countLooseObjects, LOOSE_OBJECT_THRESHOLD, packLooseObjects } from './git-maintenance.js';

/**
 * Makes `dir` a ready store: creates a bare repository with `branch` as its initial branch when `dir`
 * is missing or empty, otherwise insists on a bare SHA-1 repository (a plain `Error` naming the
 * directory, since this is configuration, not a request). Then writes the hardening config and packs
 * loose objects left by earlier runs or pushes. `branch` must already be validated.
 */
export async function prepareBareStore(dir: string, branch: string, logger: Logger): Promise<void> {
  await mkdir(dir, { recursive: true });
  const git = createGitClient(dir);
  if ((await readdir(dir)).length === 0) {
    await git.raw(['init', '--bare', `--initial-branch=${branch}`]);
    logger.info({ dir }, 'store created');
  } else {
    const answer = await git.raw(['rev-parse', '--is-bare-repository', '--show-object-format']).catch((error: unknown) => {
      throw new Error(`${dir} is not empty and not a git repository (hint: point the store at an empty or missing directory)`, { cause: error });
    });
    const [bare, format] = answer.trim().split('\n');
    if (bare !== 'true' || format !== 'sha1') {
      throw new Error(`${dir} is not a bare SHA-1 repository (bare: ${bare}, format: ${format})`);
    }
  }
  await applyHardening(dir);
  if ((await countLooseObjects(dir)) >= LOOSE_OBJECT_THRESHOLD) await packLooseObjects(dir);
}

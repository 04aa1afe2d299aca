import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ConflictError, InputError } from '../domain/errors.js';
import type { CommitResult, FileChange, Identity, PolicyStore } from '../domain/store/policy-store.js';

/**
 * First start without a remote: commits every regular file under `dir` (recursively, skipping `.git`)
 * as the store's root commit, `Seed policy store from <dir name>`. Returns undefined, writing nothing,
 * when the store already has a head, including when another process seeded it first.
 *
 * Refuses symlinks and other non-regular files (`InputError` `unsupported_file`, naming the file) rather
 * than follow them out of the directory. An empty directory is `InputError` `no_changes`.
 */
export async function seedFromDirectory(store: PolicyStore, dir: string, author: Identity): Promise<CommitResult | undefined> {
  if ((await store.head()) !== undefined) return undefined;
  const root = resolve(dir);
  const paths = await listRegularFiles(root, '');
  const changes: FileChange[] = await Promise.all(
    paths.map(async (path) => ({ op: 'put' as const, path, content: await readFile(join(root, path)) })),
  );
  try {
    return await store.commit({ changes, message: `Seed policy store from ${basename(root)}`, author, expectedHead: null });
  } catch (error) {
    if (error instanceof ConflictError) return undefined;
    throw error;
  }
}

/** Repository-relative (`/`-separated) paths of the regular files under `root`, sorted. */
async function listRegularFiles(root: string, prefix: string): Promise<string[]> {
  const entries = await readdir(join(root, prefix), { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name === '.git') continue;
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      files.push(...(await listRegularFiles(root, path)));
    } else if (entry.isFile()) {
      files.push(path);
    } else {
      const kind = (await lstat(join(root, path))).isSymbolicLink() ? 'a symlink' : 'not a regular file';
      throw new InputError('unsupported_file', `${path} in the seed directory is ${kind} (hint: copy the file in instead)`, { file: path });
    }
  }
  return files;
}

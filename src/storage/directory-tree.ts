import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gitBlobId } from '../domain/candidates/candidate-tree.js';
import type { TreeEntry } from '../domain/store/policy-store.js';
import { InputError } from '../domain/errors.js';

/** A directory read as a revision's tree would be: entries by path, contents by git blob id. */
export interface DirectoryTree {
  entries: TreeEntry[];
  contents: Map<string, Buffer>;
}

/** Files read at most (the bundle builder's own limit, `bundles.maxFiles`, applies after). */
const MAX_FILES = 100_000;

/**
 * Reads every file under `dir` (skipping `.git`) as git would commit it: regular files by content,
 * executables as `executable`, symlinks as `symlink` entries whose content is the link's target (never
 * followed: the bundle builder refuses them under a bundle's paths, as it does in a commit). Paths are
 * `/`-separated and sorted as git sorts them, so `regent build <dir>` judges what a commit of the
 * directory would be judged.
 */
export async function readDirectoryTree(dir: string): Promise<DirectoryTree> {
  const root = resolve(dir);
  const entries: TreeEntry[] = [];
  const contents = new Map<string, Buffer>();
  const walk = async (prefix: string): Promise<void> => {
    const children = await readdir(join(root, prefix), { withFileTypes: true });
    for (const child of children) {
      if (child.name === '.git') continue;
      const path = prefix === '' ? child.name : `${prefix}/${child.name}`;
      const full = join(root, path);
      if (child.isDirectory()) {
        await walk(path);
        continue;
      }
      if (entries.length >= MAX_FILES) throw new InputError('too_many_files', `${root} has more than ${MAX_FILES} files`, { limit: MAX_FILES });
      if (child.isSymbolicLink()) {
        const target = Buffer.from(await readlink(full));
        add(path, target, 'symlink');
      } else if (child.isFile()) {
        const content = await readFile(full);
        add(path, content, ((await lstat(full)).mode & 0o111) !== 0 ? 'executable' : 'file');
      } else {
        throw new InputError('unsupported_file', `${path} in ${root} is not a regular file, directory or symlink`, { file: path });
      }
    }
  };
  const add = (path: string, content: Buffer, kind: TreeEntry['kind']): void => {
    const blobId = gitBlobId(content);
    contents.set(blobId, content);
    entries.push({ path, blobId, size: content.length, kind });
  };
  await walk('');
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { entries, contents };
}

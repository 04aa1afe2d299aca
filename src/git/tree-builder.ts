import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, NotFoundError } from '../domain/errors.js';
import type { FileChange } from '../domain/store/policy-store.js';
import type { CatFileBatch } from './cat-file-batch.js';
import { createGitClient } from './git-environment.js';
import { runGit } from './git-process.js';
import { assertPolicyPath, isSha } from './git-validation.js';

/** The empty tree's id in a SHA-1 repository. */
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const ZERO_OID = '0'.repeat(40);

/** Options of {@link buildTree}. */
export interface BuildTreeOptions {
  dir: string;
  /** The tree the changes apply to; undefined for a root commit. */
  baseTree: string | undefined;
  changes: readonly FileChange[];
  objects: CatFileBatch;
}

/**
 * Writes the tree that results from applying `changes` to `baseTree`, without a work tree: blobs via
 * `hash-object -w --no-filters`, then a temporary index file inside the store (`read-tree`,
 * `update-index -z --index-info`, `write-tree`), removed afterwards.
 *
 * Refuses, before writing anything: invalid or duplicate paths (`InputError` `invalid_path` /
 * `duplicate_path`), deleting a file that does not exist (`NotFoundError` `file_not_found`), and a put
 * that would replace a directory or sit under an existing file (`InputError` `path_conflict`), which git's
 * index would otherwise resolve by silently deleting the other side.
 */
export async function buildTree(options: BuildTreeOptions): Promise<string> {
  const { dir, baseTree, changes } = options;
  validateChanges(changes);
  await checkAgainstBase(options);
  const puts = changes.filter((change): change is Extract<FileChange, { op: 'put' }> => change.op === 'put');
  const deletes = changes.filter((change) => change.op === 'delete');
  const scratchName = `regent-tmp-${randomUUID()}`;
  const scratch = join(dir, scratchName);
  const indexFile = `${scratch}.index`;
  try {
    const blobIds = await writeBlobs(dir, scratchName, puts.map((put) => put.content));
    const env = { GIT_INDEX_FILE: indexFile };
    await runGit({ dir, args: baseTree ? ['read-tree', '--end-of-options', baseTree] : ['read-tree', '--empty'], env });
    const lines = [
      ...deletes.map((change) => `0 ${ZERO_OID}\t${change.path}\0`),
      ...puts.map((put, index) => `100644 ${blobIds[index] ?? ''}\t${put.path}\0`),
    ];
    await runGit({ dir, args: ['update-index', '-z', '--index-info'], input: lines.join(''), env });
    const tree = (await createGitClient(dir, { env }).raw(['write-tree'])).trim();
    if (!isSha(tree)) throw new Error(`write-tree returned '${tree.slice(0, 80)}'`);
    return tree;
  } finally {
    await Promise.all([
      rm(scratch, { recursive: true, force: true }),
      rm(indexFile, { force: true }),
      rm(`${indexFile}.lock`, { force: true }),
    ]);
  }
}

function validateChanges(changes: readonly FileChange[]): void {
  if (!Array.isArray(changes)) throw new InputError('invalid_changes', 'changes must be a list', { field: 'changes' });
  const seen = new Set<string>();
  for (const change of changes) {
    assertPolicyPath(change?.path, 'path');
    if (change.op !== 'put' && change.op !== 'delete') {
      throw new InputError('invalid_changes', `unknown change '${String((change as { op?: unknown }).op)}' for ${change.path}`, { field: 'changes', file: change.path });
    }
    if (change.op === 'put' && !Buffer.isBuffer(change.content)) {
      throw new InputError('invalid_changes', `content of ${change.path} must be bytes`, { field: 'changes', file: change.path });
    }
    if (seen.has(change.path)) {
      throw new InputError('duplicate_path', `${change.path} is changed more than once in one commit`, { field: 'path', file: change.path });
    }
    seen.add(change.path);
  }
  const putPaths = new Set(changes.filter((change) => change.op === 'put').map((change) => change.path));
  for (const path of putPaths) {
    const parent = parentDirectories(path).find((directory) => putPaths.has(directory));
    if (parent !== undefined) throw pathConflict(path, parent);
  }
}

/** Existence checks against the base tree through the batch reader: one round trip, no process. */
async function checkAgainstBase(options: BuildTreeOptions): Promise<void> {
  const { baseTree, changes, objects } = options;
  const deleted = new Set(changes.filter((change) => change.op === 'delete').map((change) => change.path));
  if (!baseTree) {
    const missing = changes.find((change) => change.op === 'delete');
    if (missing) throw fileNotFound(missing.path);
    return;
  }
  const queries = new Set<string>();
  for (const change of changes) {
    queries.add(change.path);
    if (change.op === 'put') for (const directory of parentDirectories(change.path)) queries.add(directory);
  }
  const names = [...queries];
  const found = await objects.info(names.map((path) => `${baseTree}:${path}`));
  const typeOf = new Map(names.map((path, index) => [path, found[index]?.type]));
  for (const change of changes) {
    const type = typeOf.get(change.path);
    if (change.op === 'delete') {
      if (type === undefined || type === 'tree') throw fileNotFound(change.path);
      continue;
    }
    if (type === 'tree') throw pathConflict(change.path, change.path);
    const blocking = parentDirectories(change.path).find((directory) => {
      const parentType = typeOf.get(directory);
      return parentType !== undefined && parentType !== 'tree' && !deleted.has(directory);
    });
    if (blocking !== undefined) throw pathConflict(change.path, blocking);
  }
}

/** `a/b/c.rego` → `['a', 'a/b']`. */
function parentDirectories(path: string): string[] {
  const segments = path.split('/');
  return segments.slice(0, -1).map((_, index) => segments.slice(0, index + 1).join('/'));
}

/**
 * Writes blobs with one `hash-object` for any number of files, staged in a scratch dir inside the store.
 * Paths are given relative to the store (git's working directory) so no configured path reaches stdin.
 */
async function writeBlobs(dir: string, scratchName: string, contents: readonly Buffer[]): Promise<string[]> {
  if (contents.length === 0) return [];
  await mkdir(join(dir, scratchName));
  const files = contents.map((_, index) => `${scratchName}/${index}`);
  await Promise.all(contents.map((content, index) => writeFile(join(dir, files[index] ?? ''), content)));
  const { stdout } = await runGit({ dir, args: ['hash-object', '-w', '--no-filters', '--stdin-paths'], input: `${files.join('\n')}\n` });
  const ids = stdout.toString('utf8').split('\n').filter((line) => line !== '');
  if (ids.length !== contents.length || !ids.every(isSha)) throw new Error('hash-object returned an unexpected answer');
  return ids;
}

function fileNotFound(path: string): NotFoundError {
  return new NotFoundError('file_not_found', `${path} does not exist at the base revision, so it cannot be deleted`, { file: path });
}

function pathConflict(path: string, other: string): InputError {
  const message = path === other
    ? `${path} is a directory at the base revision (hint: change the files inside it)`
    : `${path} cannot be created because ${other} is a file (hint: delete ${other} in the same change)`;
  return new InputError('path_conflict', message, { field: 'path', file: path, conflictsWith: other });
}

import { createHash } from 'node:crypto';
import { InputError, NotFoundError } from '../errors.js';
import type { BlobReader } from '../bundles/bundle-builder.js';
import type { FileChange, PolicyStore, Revision, TreeEntry } from '../store/policy-store.js';

/** Git's blob id for `content` (SHA-1 of `blob <size>\0<content>`), so candidate files share caches with committed ones. */
export function gitBlobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

export interface CandidateTree {
  entries: TreeEntry[];
  /** Contents of the changed files, by blob id. */
  added: Map<string, Buffer>;
}

/**
 * The tree a change would produce, in memory: the base revision's entries with the changes applied.
 * Used to validate a change with OPA and the bundle builder before anything is committed.
 */
export function applyChanges(base: readonly TreeEntry[], changes: readonly FileChange[]): CandidateTree {
  const byPath = new Map(base.map((entry) => [entry.path, entry]));
  const added = new Map<string, Buffer>();
  const seen = new Set<string>();
  for (const change of changes) {
    if (seen.has(change.path)) throw new InputError('duplicate_path', `'${change.path}' appears twice in one change`, { file: change.path, field: 'changes' });
    seen.add(change.path);
    if (change.op === 'delete') {
      if (!byPath.delete(change.path)) throw new NotFoundError('file_not_found', `cannot delete '${change.path}': no such file at the base revision`, { file: change.path });
      continue;
    }
    for (const existing of byPath.keys()) {
      if (existing.startsWith(`${change.path}/`) || change.path.startsWith(`${existing}/`)) {
        throw new InputError('path_conflict', `'${change.path}' conflicts with existing '${existing}' (a file and a directory of the same name)`, { file: change.path });
      }
    }
    const blobId = gitBlobId(change.content);
    added.set(blobId, change.content);
    byPath.set(change.path, { path: change.path, blobId, size: change.content.length, kind: 'file' });
  }
  return { entries: [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), added };
}

/**
 * The tree of `base` with `changes` applied, as entries and a blob reader (changed files from memory,
 * the rest from the store): what a change would commit, checked or evaluated before it is.
 */
export async function candidateTreeOf(store: Pick<PolicyStore, 'listTree' | 'readBlobs'>, base: Revision, changes: readonly FileChange[]): Promise<{ entries: TreeEntry[]; readBlobs: BlobReader }> {
  const candidate = applyChanges(await store.listTree(base), changes);
  const readBlobs: BlobReader = async (ids) => {
    const fromStore = ids.filter((id) => !candidate.added.has(id));
    const found = fromStore.length > 0 ? await store.readBlobs([...new Set(fromStore)]) : new Map<string, Buffer>();
    for (const id of ids) if (candidate.added.has(id)) found.set(id, candidate.added.get(id)!);
    return found;
  };
  return { entries: candidate.entries, readBlobs };
}

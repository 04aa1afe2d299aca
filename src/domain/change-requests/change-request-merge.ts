import type { FileChange, PolicyStore, Revision, TreeEntry } from '../store/policy-store.js';

/** A change request's change to one file, between its base and its tip (blob ids; absent = no file). */
export interface FileDelta {
  path: string;
  before?: TreeEntry;
  after?: TreeEntry;
}

/** What merging a change request onto a head takes: file operations on the head, or the conflicting files. */
export interface MergePlan {
  conflicts: string[];
  /** Files to write (tip's blob) or delete on the head; files the head already has as the tip has them are left out. */
  operations: Array<{ path: string; after?: TreeEntry }>;
}

function sameFile(a: TreeEntry | undefined, b: TreeEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.blobId === b.blobId && a.kind === b.kind;
}

/** Files that differ between two trees, in path order. */
export function changedFiles(base: readonly TreeEntry[], tip: readonly TreeEntry[]): FileDelta[] {
  const before = new Map(base.map((entry) => [entry.path, entry]));
  const after = new Map(tip.map((entry) => [entry.path, entry]));
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  return paths
    .filter((path) => !sameFile(before.get(path), after.get(path)))
    .map((path) => ({ path, before: before.get(path), after: after.get(path) }));
}

/**
 * A three-way merge at file level, the way a reviewer reads it: a file the change request changed is
 * taken from its tip when the head still has it as the base had it (or already has it as the tip has
 * it); when the head changed it differently since the base, it is a conflict. A file that would sit
 * where the head now has a directory, or under a path that is now a file, is a conflict too. Contents
 * are never merged line by line: policy is reviewed as whole files.
 */
export function planMerge(base: readonly TreeEntry[], tip: readonly TreeEntry[], head: readonly TreeEntry[]): MergePlan {
  const headByPath = new Map(head.map((entry) => [entry.path, entry]));
  const conflicts: string[] = [];
  const operations: MergePlan['operations'] = [];
  for (const delta of changedFiles(base, tip)) {
    const current = headByPath.get(delta.path);
    if (sameFile(current, delta.after)) continue;
    if (sameFile(current, delta.before)) operations.push({ path: delta.path, after: delta.after });
    else conflicts.push(delta.path);
  }
  const resulting = new Set(head.map((entry) => entry.path));
  for (const operation of operations) {
    if (operation.after) resulting.add(operation.path);
    else resulting.delete(operation.path);
  }
  for (const operation of operations.filter((candidate) => candidate.after !== undefined)) {
    const segments = operation.path.split('/');
    const fileAbove = segments.slice(0, -1).some((_, index) => resulting.has(segments.slice(0, index + 1).join('/')));
    const filesBelow = [...resulting].some((path) => path.startsWith(`${operation.path}/`));
    if (fileAbove || filesBelow) conflicts.push(operation.path);
  }
  return { conflicts: [...new Set(conflicts)].sort(), operations: conflicts.length > 0 ? [] : operations };
}

/** The plan for merging `tip` (based on `base`) onto `head`, read from the store. */
export async function planMergeOnto(store: PolicyStore, base: Revision, tip: Revision, head: Revision): Promise<MergePlan> {
  const [baseTree, tipTree, headTree] = await Promise.all([store.listTree(base), store.listTree(tip), store.listTree(head)]);
  return planMerge(baseTree, tipTree, headTree);
}

/** The plan's operations as file changes with their contents, for the validator and for a commit. */
export async function toFileChanges(store: PolicyStore, plan: MergePlan): Promise<FileChange[]> {
  const puts = plan.operations.filter((operation) => operation.after !== undefined);
  const blobs = puts.length > 0 ? await store.readBlobs(puts.map((operation) => operation.after!.blobId)) : new Map<string, Buffer>();
  return plan.operations.map((operation): FileChange => (operation.after
    ? { op: 'put', path: operation.path, content: blobs.get(operation.after.blobId)! }
    : { op: 'delete', path: operation.path }));
}

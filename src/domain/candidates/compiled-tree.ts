import type { BlobReader } from '../bundles/bundle-builder.js';
import { BuildError } from '../errors.js';
import { policyFileKind } from '../bundles/policy-file.js';
import type { TreeEntry } from '../store/policy-store.js';
import { gitBlobId } from './candidate-tree.js';
import type { GateProblem } from './policy-gate.js';
import type { GeneratedModule, TreeCompiler } from './tree-compiler.js';

/** A tree after its compile steps: what OPA judges and the bundle builder checks and ships. */
export interface CompiledTree {
  /** The tree's entries plus one per generated module, sorted by path. */
  entries: TreeEntry[];
  /** Reads blobs of `entries`: generated modules and the files read already from memory, others from the store. */
  readBlobs: BlobReader;
  /** Every module, Rego test and data file (the tree's own and the generated modules), by path. */
  policyFiles: Array<{ path: string; content: Buffer }>;
  generated: GeneratedModule[];
  /** Why a source file could not be compiled, by file and line; empty when every one compiled. */
  problems: GateProblem[];
}

const POLICY_KINDS = new Set(['module', 'test', 'data']);

/**
 * Reads a tree's policy files once and runs the compile steps over the sources they accept. A generated
 * module may not take the path of a file the tree has. Symlinked or submodule sources are left to the
 * bundle builder, which refuses them as such (`unsupported_file_kind`) rather than as unreadable specs.
 */
export async function compileTree(entries: readonly TreeEntry[], readBlobs: BlobReader, compilers: readonly TreeCompiler[]): Promise<CompiledTree> {
  const compilerOf = (path: string): TreeCompiler | undefined => compilers.find((compiler) => compiler.accepts(path));
  const wanted = entries.filter((entry) => entry.kind !== 'submodule' && (POLICY_KINDS.has(policyFileKind(entry.path)) || compilerOf(entry.path)));
  const contents = new Map(await readBlobs([...new Set(wanted.map((entry) => entry.blobId))]));
  const paths = new Set(entries.map((entry) => entry.path));
  const generated: GeneratedModule[] = [];
  const problems: GateProblem[] = [];
  const policyFiles: Array<{ path: string; content: Buffer }> = [];
  for (const entry of wanted) {
    const content = contents.get(entry.blobId);
    if (content === undefined) throw new Error(`${entry.path}: blob ${entry.blobId} could not be read`);
    const compiler = compilerOf(entry.path);
    if (!compiler) {
      policyFiles.push({ path: entry.path, content });
      continue;
    }
    if (entry.kind === 'symlink') continue;
    const outcome = compiler.compile(entry.path, content);
    problems.push(...outcome.problems);
    if (!outcome.module) continue;
    if (paths.has(outcome.module.path)) {
      problems.push({ code: 'generated_path_taken', message: `${entry.path} compiles to ${outcome.module.path}, which is a file of the repository too: rename one of them`, file: entry.path });
      continue;
    }
    paths.add(outcome.module.path);
    generated.push(outcome.module);
    policyFiles.push({ path: outcome.module.path, content: outcome.module.content });
  }
  const added = generated.map((module): TreeEntry => {
    const blobId = gitBlobId(module.content);
    contents.set(blobId, module.content);
    return { path: module.path, blobId, size: module.content.length, kind: 'file' };
  });
  const reader: BlobReader = async (ids) => {
    const missing = [...new Set(ids.filter((id) => !contents.has(id)))];
    const found = missing.length > 0 ? await readBlobs(missing) : new Map<string, Buffer>();
    return new Map(ids.flatMap((id) => {
      const bytes = contents.get(id) ?? found.get(id);
      return bytes === undefined ? [] : [[id, bytes] as const];
    }));
  };
  return {
    entries: [...entries, ...added].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    readBlobs: reader,
    policyFiles,
    generated,
    problems,
  };
}

/**
 * What OPA evaluates in a compiled tree: modules and data (its own and the generated modules), no tests.
 * A tree whose sources do not compile cannot be evaluated: refused with every problem (the first one's
 * code, file, line and column).
 */
export function evaluableFiles(tree: CompiledTree): Array<{ path: string; content: Buffer }> {
  if (tree.problems.length > 0) {
    const first = tree.problems[0]!;
    throw new BuildError(first.code, `${first.file ?? ''}${first.line ? `:${first.line}:${first.column}` : ''}: ${first.message}`, { file: first.file, line: first.line, column: first.column, problems: tree.problems });
  }
  return tree.policyFiles.filter((file) => ['module', 'data'].includes(policyFileKind(file.path)));
}

import { policyFileKind } from '../bundles/policy-file.js';
import { REGENT_YAML } from '../bundles/bundle-definition.js';
import type { CandidateCheck } from '../candidates/candidate-check.js';
import { gitBlobId } from '../candidates/candidate-tree.js';
import { evaluableFiles, type CompiledTree } from '../candidates/compiled-tree.js';
import { BuildError, InputError, NotFoundError } from '../errors.js';
import type { SpecCompiler } from '../specs/spec-compiler.js';
import type { Revision } from '../store/policy-store.js';
import type { RevisionResolver } from '../store/revision-resolver.js';
import type { PolicyStore } from '../store/policy-store.js';
import type { EvaluationOutcome, ExplainMode, ModuleInfo, PolicyEvaluator, PolicyInspector } from './policy-inspector.js';
import { validateReadablePath } from './policy-path.js';

export type PolicyFileKindName = 'module' | 'test' | 'data' | 'spec' | 'bundle_definition' | 'other';

export interface PolicyListing {
  revision: Revision;
  files: Array<{ path: string; kind: PolicyFileKindName; size: number; blobId: string } & ModuleInfo>;
}

export interface PolicyFile {
  revision: Revision;
  path: string;
  blobId: string;
  size: number;
  content: Buffer;
}

const INSPECTION_CACHE = 64;
const EVALUABLE_CACHE = 4;

export interface PolicyReadServiceOptions {
  store: PolicyStore;
  resolver: RevisionResolver;
  inspector: PolicyInspector;
  evaluator: PolicyEvaluator;
  /** Runs the compile steps: what OPA evaluates is the compiled tree (role specs as their modules). */
  check: CandidateCheck;
  specs: SpecCompiler;
}

/**
 * Reads policies at any revision: listings with packages and annotations, single files (a role spec
 * also as the Rego it compiles to), evaluation on the compiled tree.
 */
export class PolicyReadService {
  private readonly inspections = new Map<Revision, Map<string, ModuleInfo>>();
  /** The evaluable files of recent revisions (immutable): evaluations and impact analyses compile a revision once. */
  private readonly evaluable = new Map<Revision, Promise<Array<{ path: string; content: Buffer }>>>();

  private constructor(private readonly options: PolicyReadServiceOptions) {}

  static create(options: PolicyReadServiceOptions): PolicyReadService {
    return new PolicyReadService(options);
  }

  async list(ref: string): Promise<PolicyListing> {
    const { store, resolver } = this.options;
    const revision = await resolver.resolve(ref);
    const entries = await store.listTree(revision);
    const infos = await this.inspect(revision, entries);
    return {
      revision,
      files: entries.map((entry) => ({ path: entry.path, kind: kindOf(entry.path), size: entry.size, blobId: entry.blobId, ...infos.get(entry.path) })),
    };
  }

  async read(ref: string, path: string): Promise<PolicyFile> {
    validateReadablePath(path);
    const { store, resolver } = this.options;
    const revision = await resolver.resolve(ref);
    const entry = (await store.listTree(revision)).find((candidate) => candidate.path === path);
    if (!entry || entry.kind === 'submodule') throw new NotFoundError('file_not_found', `no file '${path}' at revision ${revision}`, { file: path, revision });
    const content = (await store.readBlobs([entry.blobId])).get(entry.blobId)!;
    return { revision, path, blobId: entry.blobId, size: entry.size, content };
  }

  /**
   * A role spec as the Rego module it compiles to (what the bundle ships), at any revision. A spec that
   * does not compile is refused with its problems (file, line, column).
   */
  async compiled(ref: string, path: string): Promise<PolicyFile & { source: string }> {
    const file = await this.read(ref, path);
    if (!this.options.specs.accepts(path)) {
      throw new InputError('invalid_query', `'compiled=rego' applies to role specs (*.policy.yaml), not to '${path}'`, { field: 'compiled' });
    }
    const outcome = this.options.specs.compile(path, file.content);
    if (!outcome.module) throw specProblems(outcome.problems);
    const content = outcome.module.content;
    return { revision: file.revision, path: outcome.module.path, source: path, blobId: gitBlobId(content), size: content.length, content };
  }

  /** Evaluates a data reference on a revision's compiled modules and data (tests excluded), with an input. */
  async evaluate(ref: string, query: string, input: unknown, explain?: ExplainMode): Promise<{ revision: Revision } & EvaluationOutcome> {
    const revision = await this.options.resolver.resolve(ref);
    const files = await this.evaluableFiles(revision);
    const outcome = await this.options.evaluator.evaluate(files, query, input, explain === undefined ? {} : { explain });
    return { revision, ...outcome };
  }

  /** The modules and data OPA evaluates at a revision: its own and those compiled from its specs, no tests. */
  async evaluableFiles(revision: Revision): Promise<Array<{ path: string; content: Buffer }>> {
    let files = this.evaluable.get(revision);
    if (!files) {
      files = this.compiledTree(revision).then(evaluableFiles);
      this.evaluable.set(revision, files);
      if (this.evaluable.size > EVALUABLE_CACHE) this.evaluable.delete(this.evaluable.keys().next().value!);
      // A failure (a read error, a spec that does not compile) is reported to each caller, not kept.
      files.catch(() => this.evaluable.get(revision) === files && this.evaluable.delete(revision));
    }
    return files;
  }

  private async compiledTree(revision: Revision): Promise<CompiledTree> {
    const { store, check } = this.options;
    return check.compile(await store.listTree(revision), (ids) => store.readBlobs(ids));
  }

  private async inspect(revision: Revision, entries: ReadonlyArray<{ path: string; blobId: string }>): Promise<Map<string, ModuleInfo>> {
    const cached = this.inspections.get(revision);
    if (cached) return cached;
    // The compiled tree, so a role spec lists with the package and title of the module it becomes.
    const tree = entries.some((entry) => this.options.specs.accepts(entry.path)) ? await this.compiledTree(revision) : undefined;
    const modules = tree
      ? tree.policyFiles.filter((file) => file.path.endsWith('.rego'))
      : await this.readModules(entries.filter((entry) => entry.path.endsWith('.rego')));
    const infos = await this.options.inspector.inspect(modules);
    for (const module of tree?.generated ?? []) {
      const info = infos.get(module.path);
      infos.delete(module.path);
      if (info) infos.set(module.source, info);
    }
    this.inspections.set(revision, infos);
    if (this.inspections.size > INSPECTION_CACHE) this.inspections.delete(this.inspections.keys().next().value!);
    return infos;
  }

  private async readModules(modules: ReadonlyArray<{ path: string; blobId: string }>): Promise<Array<{ path: string; content: Buffer }>> {
    const blobs = await this.options.store.readBlobs([...new Set(modules.map((entry) => entry.blobId))]);
    return modules.map((entry) => ({ path: entry.path, content: blobs.get(entry.blobId)! }));
  }
}

/** A spec that does not compile, as one refusal carrying every problem (the first one's code and position). */
function specProblems(problems: ReadonlyArray<{ code: string; message: string; file?: string; line?: number; column?: number }>): BuildError {
  const first = problems[0]!;
  return new BuildError(first.code, first.message, { file: first.file, line: first.line, column: first.column, problems });
}

function kindOf(path: string): PolicyFileKindName {
  if (path === REGENT_YAML) return 'bundle_definition';
  return policyFileKind(path);
}

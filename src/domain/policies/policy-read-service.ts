import { policyFileKind } from '../bundles/policy-file.js';
import { REGENT_YAML } from '../bundles/bundle-definition.js';
import { NotFoundError } from '../errors.js';
import type { Revision } from '../store/policy-store.js';
import type { RevisionResolver } from '../store/revision-resolver.js';
import type { PolicyStore } from '../store/policy-store.js';
import type { ModuleInfo, PolicyEvaluator, PolicyInspector } from './policy-inspector.js';
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

/** Reads policies at any revision: listings with packages and annotations, single files, evaluation. */
export class PolicyReadService {
  private readonly inspections = new Map<Revision, Map<string, ModuleInfo>>();

  private constructor(private readonly options: { store: PolicyStore; resolver: RevisionResolver; inspector: PolicyInspector; evaluator: PolicyEvaluator }) {}

  static create(options: { store: PolicyStore; resolver: RevisionResolver; inspector: PolicyInspector; evaluator: PolicyEvaluator }): PolicyReadService {
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

  /** Evaluates a data reference on a revision's modules and data (tests excluded), with an input. */
  async evaluate(ref: string, query: string, input: unknown): Promise<{ revision: Revision; result: unknown; defined: boolean; durationMs: number }> {
    const { store, resolver, evaluator } = this.options;
    const revision = await resolver.resolve(ref);
    const entries = (await store.listTree(revision)).filter((entry) => ['module', 'data'].includes(policyFileKind(entry.path)) && entry.kind !== 'submodule');
    const blobs = await store.readBlobs([...new Set(entries.map((entry) => entry.blobId))]);
    const outcome = await evaluator.evaluate(entries.map((entry) => ({ path: entry.path, content: blobs.get(entry.blobId)! })), query, input);
    return { revision, ...outcome };
  }

  private async inspect(revision: Revision, entries: ReadonlyArray<{ path: string; blobId: string }>): Promise<Map<string, ModuleInfo>> {
    const cached = this.inspections.get(revision);
    if (cached) return cached;
    const modules = entries.filter((entry) => entry.path.endsWith('.rego'));
    const blobs = await this.options.store.readBlobs([...new Set(modules.map((entry) => entry.blobId))]);
    const infos = await this.options.inspector.inspect(modules.map((entry) => ({ path: entry.path, content: blobs.get(entry.blobId)! })));
    this.inspections.set(revision, infos);
    if (this.inspections.size > INSPECTION_CACHE) this.inspections.delete(this.inspections.keys().next().value!);
    return infos;
  }
}

function kindOf(path: string): PolicyFileKindName {
  if (path === REGENT_YAML) return 'bundle_definition';
  return policyFileKind(path);
}

import type { PublishedRevision } from '../../domain/activation/bundle-publisher.js';
import type { BuiltBundle } from '../../domain/bundles/bundle-builder.js';
import type { ServedCatalog } from './bundle-handler.js';

/** One bundle as the primary sends it to its workers: what a snapshot answer needs, without delta material. */
export type ReplicatedBundle = Pick<BuiltBundle, 'name' | 'revision' | 'manifest' | 'tarball' | 'etag' | 'keyId' | 'fileCount'>;

/** A revision as the primary sends it to its workers. */
export interface ReplicatedRevision {
  revision: string;
  publishedAt: Date;
  bundles: ReplicatedBundle[];
}

/** The slim copy of a published revision the primary sends (no delta maps, no file contents). */
export function replicatedRevisionOf(published: PublishedRevision): ReplicatedRevision {
  return {
    revision: published.revision,
    publishedAt: published.publishedAt,
    bundles: [...published.bundles.values()].map(({ name, revision, manifest, tarball, etag, keyId, fileCount }) => ({ name, revision, manifest, tarball, etag, keyId, fileCount })),
  };
}

/**
 * A worker process's copy of one bundle set's catalog, driven by the primary's two-phase replication.
 * {@link install} stages a revision: it is not served yet, but an agent that names one of its ETags (it
 * was sent the revision by a worker that released it already) is recognised as up to date ({@link ahead})
 * and is never sent the older revision. {@link release} serves the staged revision, once the primary says
 * every worker holds it, and returns the bundles it changed, whose held long polls may now be answered.
 * An unchanged bundle keeps its object, so headers prepared for it stay cached.
 */
export class ReplicaCatalog implements ServedCatalog {
  private current: PublishedRevision | undefined;
  private staged: PublishedRevision | undefined;

  get published(): PublishedRevision | undefined {
    return this.current;
  }

  get(name: string): BuiltBundle | undefined {
    return this.current?.bundles.get(name);
  }

  /** The staged bundle `name` when `ifNoneMatch` names its ETag: the agent has the revision being released. */
  ahead(name: string, ifNoneMatch: string): BuiltBundle | undefined {
    const bundle = this.staged?.bundles.get(name);
    return bundle && ifNoneMatch.includes(bundle.etag) ? bundle : undefined;
  }

  /** Stages `next` (phase one); it is served from {@link release} on. */
  install(next: ReplicatedRevision): void {
    const base = this.staged ?? this.current;
    const bundles = new Map<string, BuiltBundle>();
    for (const bundle of next.bundles) {
      const known = base?.bundles.get(bundle.name);
      bundles.set(bundle.name, known?.etag === bundle.etag ? known : bundle);
    }
    this.staged = { revision: next.revision, publishedAt: next.publishedAt, bundles };
  }

  /** Serves the staged revision (phase two); returns the bundles whose ETag changed. */
  release(): BuiltBundle[] {
    const next = this.staged;
    if (!next) return [];
    const previous = this.current;
    this.current = next;
    this.staged = undefined;
    return [...next.bundles.values()].filter((bundle) => previous?.bundles.get(bundle.name)?.etag !== bundle.etag);
  }
}

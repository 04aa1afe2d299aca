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
 * A worker process's copy of one bundle set's catalog. The primary's two-phase replication drives it:
 * {@link install} swaps the revision in (new requests get it at once) and keeps which bundles changed;
 * {@link takeChanged} hands them over when the primary says every worker holds the revision, to release
 * the long polls held on the old one. An unchanged bundle keeps its object, so headers prepared for it
 * stay cached.
 */
export class ReplicaCatalog implements ServedCatalog {
  private current: PublishedRevision | undefined;
  /** Bundles changed by installs whose long polls are not released yet, by name (the newest wins). */
  private readonly pending = new Map<string, BuiltBundle>();

  get published(): PublishedRevision | undefined {
    return this.current;
  }

  get(name: string): BuiltBundle | undefined {
    return this.current?.bundles.get(name);
  }

  /** Serves `next` from now on; the long polls on what it changes wait for {@link takeChanged}. */
  install(next: ReplicatedRevision): void {
    const previous = this.current;
    const bundles = new Map<string, BuiltBundle>();
    for (const bundle of next.bundles) {
      const served = previous?.bundles.get(bundle.name);
      if (served?.etag === bundle.etag) {
        bundles.set(bundle.name, served);
        continue;
      }
      bundles.set(bundle.name, bundle);
      this.pending.set(bundle.name, bundle);
    }
    this.current = { revision: next.revision, publishedAt: next.publishedAt, bundles };
  }

  /** The bundles installed since the last call, whose held long polls may now be released. */
  takeChanged(): BuiltBundle[] {
    const changed = [...this.pending.values()].filter((bundle) => this.current?.bundles.get(bundle.name) === bundle);
    this.pending.clear();
    return changed;
  }
}

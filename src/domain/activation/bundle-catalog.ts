import type { BuiltBundle } from '../bundles/bundle-builder.js';
import type { BuiltDelta } from '../bundles/delta/built-delta.js';
import type { DeltaBuilder } from '../bundles/delta/delta-builder.js';
import type { BundlePublisher, PublishedRevision } from './bundle-publisher.js';

/** Called after a publish with the bundles whose ETag changed (added or replaced). */
export type CatalogListener = (changed: readonly BuiltBundle[], published: PublishedRevision) => void;

export interface BundleCatalogOptions {
  /** Builds delta bundles from recent revisions to each newly published bundle; none without it. */
  deltas?: DeltaBuilder;
  /** Earlier revisions of each bundle deltas start from (default 4, newest first). */
  deltaHistory?: number;
}

/**
 * The bundles being served, in memory. Publishing swaps the whole set in one assignment, so a reader
 * (the bundle endpoint) always sees one revision; listeners (long-poll waiters) learn which bundles
 * changed. With a {@link DeltaBuilder}, every changed bundle gets its deltas from the last few
 * revisions of it this catalog served before the swap, so the agents released then can be sent one.
 */
export class BundleCatalog implements BundlePublisher {
  readonly name = 'memory';
  private current: PublishedRevision | undefined;
  private readonly listeners = new Set<CatalogListener>();
  /** Per bundle name, the snapshots served before the current one, newest first. */
  private readonly history = new Map<string, BuiltBundle[]>();

  static create(options: BundleCatalogOptions = {}): BundleCatalog {
    return new BundleCatalog(options);
  }

  private constructor(private readonly options: BundleCatalogOptions) {}

  get published(): PublishedRevision | undefined {
    return this.current;
  }

  get(name: string): BuiltBundle | undefined {
    return this.current?.bundles.get(name);
  }

  async publish(next: PublishedRevision): Promise<void> {
    const previous = this.current;
    const bundles = new Map<string, BuiltBundle>();
    for (const bundle of next.bundles.values()) {
      const served = previous?.bundles.get(bundle.name);
      if (served?.etag === bundle.etag) {
        bundles.set(bundle.name, served);
        continue;
      }
      if (served) this.remember(served);
      bundles.set(bundle.name, await this.withDeltas(bundle));
    }
    const published: PublishedRevision = { ...next, bundles };
    this.current = published;
    const changed = [...bundles.values()].filter((bundle) => previous?.bundles.get(bundle.name)?.etag !== bundle.etag);
    for (const listener of this.listeners) listener(changed, published);
  }

  onChange(listener: CatalogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private remember(served: BuiltBundle): void {
    const kept = (this.history.get(served.name) ?? []).filter((bundle) => bundle.etag !== served.etag);
    this.history.set(served.name, [served, ...kept].slice(0, this.options.deltaHistory ?? 4));
  }

  private async withDeltas(bundle: BuiltBundle): Promise<BuiltBundle> {
    const builder = this.options.deltas;
    if (!builder) return bundle;
    const deltas = new Map<string, BuiltDelta>();
    for (const from of this.history.get(bundle.name) ?? []) {
      if (from.etag === bundle.etag) continue;
      const delta = await builder.build(from, bundle);
      if (delta) deltas.set(from.etag, delta);
    }
    return deltas.size > 0 ? { ...bundle, deltas } : bundle;
  }
}

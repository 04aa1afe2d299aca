import type { BuiltBundle } from '../bundles/bundle-builder.js';
import type { BundlePublisher, PublishedRevision } from './bundle-publisher.js';

/** Called after a publish with the bundles whose ETag changed (added or replaced). */
export type CatalogListener = (changed: readonly BuiltBundle[], published: PublishedRevision) => void;

/**
 * The bundles being served, in memory. Publishing swaps the whole set in one assignment, so a reader
 * (the bundle endpoint) always sees one revision; listeners (long-poll waiters) learn which bundles
 * changed.
 */
export class BundleCatalog implements BundlePublisher {
  readonly name = 'memory';
  private current: PublishedRevision | undefined;
  private readonly listeners = new Set<CatalogListener>();

  static create(): BundleCatalog {
    return new BundleCatalog();
  }

  private constructor() {}

  get published(): PublishedRevision | undefined {
    return this.current;
  }

  get(name: string): BuiltBundle | undefined {
    return this.current?.bundles.get(name);
  }

  async publish(next: PublishedRevision): Promise<void> {
    const previous = this.current;
    this.current = next;
    const changed = [...next.bundles.values()].filter((bundle) => previous?.bundles.get(bundle.name)?.etag !== bundle.etag);
    for (const listener of this.listeners) listener(changed, next);
  }

  onChange(listener: CatalogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

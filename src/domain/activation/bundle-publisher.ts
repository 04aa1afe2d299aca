import type { BuiltBundle } from '../bundles/bundle-builder.js';
import type { Revision } from '../store/policy-store.js';

/** Every bundle of one revision, built, signed and self-verified. */
export interface PublishedRevision {
  revision: Revision;
  bundles: ReadonlyMap<string, BuiltBundle>;
  publishedAt: Date;
}

/**
 * Where signed bundles go once a revision passed the gate. The in-memory catalog that serves
 * `/bundles/...` is one publisher; object storage and OCI registries are others to come. `publish`
 * must be atomic from a reader's point of view: readers see the old revision or the new one, never a mix.
 */
export interface BundlePublisher {
  readonly name: string;
  publish(revision: PublishedRevision): Promise<void>;
}

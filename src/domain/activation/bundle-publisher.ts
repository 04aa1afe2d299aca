import type { BuiltBundle } from '../bundles/bundle-builder.js';
import type { Revision } from '../store/policy-store.js';

/** Every bundle of one revision, built, signed and self-verified. */
export interface PublishedRevision {
  revision: Revision;
  bundles: ReadonlyMap<string, BuiltBundle>;
  publishedAt: Date;
}

/**
 * Where signed bundles go once a revision passed the gate: the in-memory catalog that serves
 * `/bundles/...`, whose swap is the activation's commit point. `publish` must be atomic from a reader's
 * point of view: readers see the old revision or the new one, never a mix. Object storage and OCI
 * registries are not publishers: they are sinks (`src/domain/publishing/`) that follow the activation,
 * so one that fails never turns a served revision into a rejected one.
 */
export interface BundlePublisher {
  readonly name: string;
  publish(revision: PublishedRevision): Promise<void>;
}

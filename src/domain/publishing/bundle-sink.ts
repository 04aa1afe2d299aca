import type { Revision } from '../store/policy-store.js';

export type SinkKind = 's3' | 'oci';

/** One signed bundle of an activated revision, as a sink stores it. */
export interface SinkBundle {
  /**
   * The bundle's name as served under `/bundles/`: `rbac`, or `prod/rbac` for an environment's bundle,
   * so a sink's object names carry the environment the way the URLs do.
   */
  path: string;
  revision: Revision;
  /** The exact bytes served at `/bundles/<path>` (signed, self-verified). */
  bytes: Buffer;
  /** Hex SHA-256 of `bytes` (Regent's ETag without the quotes). */
  sha256: string;
}

/**
 * Object storage or a registry that OPA agents pull bundles from, written after the catalog swap.
 * `publish` is idempotent: it writes the bundle under a name that carries its revision
 * (`<prefix>/rbac/<revision>.tar.gz`, tag `<revision>`), and only once that object is complete moves the
 * bundle's "latest" name (`bundle.tar.gz`, tag `latest`) to it, so a reader of "latest" gets one whole
 * revision or the one before. It throws a `RegentError` with a `sink_*` code when it cannot.
 */
export interface BundleSink {
  readonly name: string;
  readonly kind: SinkKind;
  /** Where the bundles go, without credentials (`s3://bucket/prefix`, `registry/repository`), for status. */
  readonly target: string;
  /** Where `path`'s latest version is read from (an object URL or an image reference), for status. */
  latestLocation(path: string): string;
  publish(bundle: SinkBundle, signal: AbortSignal): Promise<void>;
}

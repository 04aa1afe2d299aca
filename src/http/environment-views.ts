import type { EnvironmentService, EnvironmentView } from '../domain/environments/environment-service.js';
import type { BundleSet } from './bundles/bundle-handler.js';

/** The bundles a set serves now: revision, ETag, size, roots, key id, build time. */
export function bundlesOf(set: Pick<BundleSet, 'catalog'>): Record<string, unknown> {
  const published = set.catalog.published;
  const bundles: Record<string, unknown> = {};
  for (const bundle of published?.bundles.values() ?? []) {
    bundles[bundle.name] = {
      revision: bundle.revision,
      etag: bundle.etag,
      size: bundle.tarball.length,
      files: bundle.fileCount,
      roots: bundle.manifest.roots,
      keyId: bundle.keyId,
      builtAt: published!.publishedAt.toISOString(),
    };
  }
  return bundles;
}

/**
 * One environment as `GET /status` and `GET /api/environments` show it: the ref, the commit it names,
 * the revision served (they differ while the ref names a revision that fails, or is still activating),
 * its bundles, held long polls, the last activation and the last error.
 */
export function environmentJson(view: EnvironmentView, set: BundleSet | undefined): Record<string, unknown> {
  const status = view.activation;
  return {
    name: view.name,
    ref: view.ref,
    kind: view.kind,
    revision: view.revision,
    active: status.active ?? null,
    activatedAt: status.activatedAt ?? null,
    revisionDiffersFromActive: view.revision !== (status.active ?? null),
    inProgress: status.inProgress ?? null,
    bundles: set ? bundlesOf(set) : {},
    longPollWaiters: set?.waiters.size ?? 0,
    lastActivation: status.lastSuccess ?? null,
    lastError: status.lastFailure ?? null,
  };
}

/** Every environment, keyed by name (the `/status` form). */
export async function environmentsStatus(service: EnvironmentService, sets: ReadonlyMap<string, BundleSet>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const view of await service.list()) out[view.name] = environmentJson(view, sets.get(view.name));
  return out;
}

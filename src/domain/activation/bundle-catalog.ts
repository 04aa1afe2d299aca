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
 * changed. With a {@link DeltaBuilder}, every changed bundle gets a delta from the revision served
 * before it, built before the swap so the agents released then can be sent one, and deltas from the few
 * revisions before that (for agents that lag) right after the swap.
 */
export class BundleCatalog implements BundlePublisher {
  readonly name = 'memory';
  private current: PublishedRevision | undefined;
  private readonly listeners = new Set<CatalogListener>();
  /** Per bundle name, the snapshots served before the current one, newest first. */
  private readonly history = new Map<string, BuiltBundle[]>();
  /** Deltas from older revisions, built after the swap. */
  private background: Promise<void> = Promise.resolve();

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
    const later: Array<() => Promise<void>> = [];
    for (const bundle of next.bundles.values()) {
      const served = previous?.bundles.get(bundle.name);
      if (served?.etag === bundle.etag) {
        bundles.set(bundle.name, served);
        continue;
      }
      if (served) this.remember(served);
      const [withDelta, rest] = await this.withDeltas(bundle);
      bundles.set(bundle.name, withDelta);
      later.push(rest);
    }
    const published: PublishedRevision = { ...next, bundles };
    this.current = published;
    const changed = [...bundles.values()].filter((bundle) => previous?.bundles.get(bundle.name)?.etag !== bundle.etag);
    for (const listener of this.listeners) listener(changed, published);
    this.background = this.background.then(async () => {
      for (const rest of later) await rest();
    });
  }

  onChange(listener: CatalogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the deltas from older revisions, built after a swap, are attached. */
  settled(): Promise<void> {
    return this.background;
  }

  private remember(served: BuiltBundle): void {
    const kept = (this.history.get(served.name) ?? []).filter((bundle) => bundle.etag !== served.etag);
    this.history.set(served.name, [served, ...kept].slice(0, this.options.deltaHistory ?? 4));
  }

  /**
   * The bundle with its delta from the revision served before it, and the work that adds deltas from
   * older ones to the same map (OPA agents long-poll, so most are on the previous revision).
   */
  private async withDeltas(bundle: BuiltBundle): Promise<[BuiltBundle, () => Promise<void>]> {
    const builder = this.options.deltas;
    const [newest, ...older] = (this.history.get(bundle.name) ?? []).filter((from) => from.etag !== bundle.etag);
    if (!builder || !newest) return [bundle, async () => {}];
    const deltas = new Map<string, BuiltDelta>();
    const first = await builder.build(newest, bundle);
    if (first) deltas.set(newest.etag, first);
    const rest = async (): Promise<void> => {
      for (const from of older) {
        const delta = await builder.build(from, bundle).catch(() => undefined);
        if (delta) deltas.set(from.etag, delta);
      }
    };
    return [{ ...bundle, deltas }, rest];
  }
}

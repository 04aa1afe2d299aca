import { DEFAULT_BUNDLE_SET, mayReadBundle, mayReadSet, type AgentIdentity } from '../../domain/agents/agent-identity.js';
import type { BuiltBundle } from '../../domain/bundles/bundle-builder.js';
import type { BundleSet } from './bundle-handler.js';

/** Where a bundle path leads for an agent: its set, the environment when it names one, and the bundle it may read. */
export interface RoutedBundle {
  set: BundleSet;
  environment: string | undefined;
  /** Undefined when there is none, or the agent may not read it (the same answer either way). */
  bundle: BuiltBundle | undefined;
}

/**
 * Finds the bundle a `/bundles/<path>` names for an agent, in the default set or an environment's
 * (`/bundles/<environment>/<bundle>`, unambiguous because no bundle of the default set may start with
 * an environment's name), for the bundle handler and its fast path alike.
 */
export class BundleRouter {
  constructor(private readonly defaultSet: BundleSet, private readonly environments: ReadonlyMap<string, BundleSet>) {}

  /**
   * An environment the agent may not read is routed as if it did not exist (to the default set, where
   * no bundle has its name), and a bundle it may not read is not found, so the answer is the same as
   * for a name that exists nowhere. With `ifNoneMatch` naming a revision this replica staged but has not
   * released yet (a worker: the agent got it from one that released it already), that bundle is current.
   */
  find(path: string, identity: AgentIdentity, ifNoneMatch: string | undefined): RoutedBundle {
    const { set, bundleName, environment } = this.route(path, identity);
    let bundle = mayReadSet(identity, environment ?? DEFAULT_BUNDLE_SET) && mayReadBundle(identity, bundleName) ? set.catalog.get(bundleName) : undefined;
    if (bundle && set.catalog.ahead && ifNoneMatch !== undefined && ifNoneMatch !== bundle.etag) bundle = set.catalog.ahead(bundle.name, ifNoneMatch) ?? bundle;
    return { set, environment, bundle };
  }

  private route(path: string, identity: AgentIdentity): { set: BundleSet; bundleName: string; environment?: string } {
    if (this.environments.size > 0) {
      const slash = path.indexOf('/');
      const first = slash < 0 ? path : path.slice(0, slash);
      const set = this.environments.get(first);
      if (set && mayReadSet(identity, first)) return { set, bundleName: slash < 0 ? '' : path.slice(slash + 1), environment: first };
    }
    return { set: this.defaultSet, bundleName: path };
  }
}

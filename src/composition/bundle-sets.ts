import { join } from 'node:path';
import type { RegentConfig } from '../config/schema.js';
import { ActivationPipeline } from '../domain/activation/activation-pipeline.js';
import { BundleCatalog } from '../domain/activation/bundle-catalog.js';
import type { BundlePublisher, PublishedRevision } from '../domain/activation/bundle-publisher.js';
import type { RevisionSource } from '../domain/activation/revision-source.js';
import type { BundleBuilder } from '../domain/bundles/bundle-builder.js';
import type { CandidateCheck } from '../domain/candidates/candidate-check.js';
import type { DeltaBuilder } from '../domain/bundles/delta/delta-builder.js';
import type { Environment } from '../domain/environments/environment-service.js';
import type { ServedBundle } from '../domain/fleet/fleet-registry.js';
import type { Logger } from '../domain/logger.js';
import type { Identity } from '../domain/store/policy-store.js';
import type { GitPolicyRepository } from '../git/git-policy-repository.js';
import { GitRefFollower } from '../git/git-ref-follower.js';
import type { BundleSet } from '../http/bundles/bundle-handler.js';
import { LongPollWaiters } from '../http/bundles/long-poll-waiters.js';
import { FileActivationStateStore } from '../storage/file-activation-state-store.js';

export type EnvironmentSet = Environment & { activation: ActivationPipeline; ref: GitRefFollower };

export interface BundleSets {
  /** The tracked branch's set, served at `/bundles/<name>`. */
  catalog: BundleCatalog;
  waiters: LongPollWaiters;
  activation: ActivationPipeline;
  /** One per configured environment, served at `/bundles/<env>/<name>`. */
  environments: EnvironmentSet[];
  environmentSets: Map<string, BundleSet>;
  /** What is served under a bundle name (`rbac`, or `prod/rbac`), for the fleet view. */
  served(name: string): ServedBundle | undefined;
  start(): Promise<void>;
  /** Stops following refs and answers every held long poll. */
  stop(): void;
  /** Waits for activations in progress, then releases the environment refs. */
  close(): Promise<void>;
}

interface BundleSetsDeps {
  dataDir: string;
  store: GitPolicyRepository;
  systemIdentity: Identity;
  check: CandidateCheck;
  builder: BundleBuilder;
  /** Delta bundles for agents that ask for them; snapshots only without it (`bundles.deltas: false`). */
  deltas?: DeltaBuilder;
  logger: Logger;
  /** Worker processes (`server.workers` > 1): every revision reaches all of them before the catalog swap here. */
  replication?: Replication;
}

/** The primary's two-phase replication of each set's revisions to its workers (see `WorkerPool`). */
export interface Replication {
  prepare(set: string, published: PublishedRevision): Promise<void>;
  release(set: string): void;
}

/**
 * Every bundle set Regent serves: the tracked branch's, and one per environment following its own tag
 * or branch. Each has its own activation pipeline (same gate, builder and signer, so the same revision
 * gives the same bytes everywhere), catalog, long-poll waiters and last-good state.
 */
export async function createBundleSets(config: Readonly<RegentConfig>, deps: BundleSetsDeps): Promise<BundleSets> {
  const { dataDir, store, logger } = deps;
  const bundleSet = (source: RevisionSource, stateFile: string, environment?: string) => {
    const bindings = environment ? { environment } : {};
    const catalog = BundleCatalog.create({ deltas: deps.deltas });
    const waiters = LongPollWaiters.create({ batchSize: config.bundles.releaseBatchSize, logger: logger.child({ component: 'long-poll', ...bindings }) });
    catalog.onChange((changed) => waiters.release(changed));
    const replication = deps.replication;
    // With workers, the swap here (the commit point) comes after every worker holds the revision, and
    // their long polls are released after it.
    const publisher: BundlePublisher = replication
      ? {
        name: catalog.name,
        async publish(next) {
          await replication.prepare(environment ?? '', next);
          await catalog.publish(next);
          replication.release(environment ?? '');
        },
      }
      : catalog;
    const activation = ActivationPipeline.create({
      store: source,
      check: deps.check,
      builder: deps.builder,
      catalog: publisher,
      state: FileActivationStateStore.create(join(dataDir, 'state', stateFile)),
      retry: { initialMs: config.gate.retryInitialMs, maxMs: config.gate.retryMaxMs },
      logger: logger.child({ component: 'activation', ...bindings }),
    });
    return { catalog, waiters, activation };
  };

  const main = bundleSet(store, 'activation.json');
  const environmentSets = new Map<string, BundleSet>();
  const environments: EnvironmentSet[] = [];
  for (const { name, ref } of config.environments) {
    const follower = await GitRefFollower.open({
      dir: join(dataDir, 'store.git'), ref, trackedBranch: config.store.branch, store, systemIdentity: deps.systemIdentity,
      intervalMs: config.store.watchIntervalMs, logger: logger.child({ component: 'environment', environment: name }), pusher: store.mirror,
    });
    const set = bundleSet(follower, join('environments', `${name}.json`), name);
    environmentSets.set(name, { catalog: set.catalog, waiters: set.waiters });
    environments.push({ name, ref: follower, activation: set.activation });
  }

  return {
    ...main,
    environments,
    environmentSets,
    served(name) {
      const slash = name.indexOf('/');
      const environment = slash > 0 ? environmentSets.get(name.slice(0, slash)) : undefined;
      const catalog = environment ? environment.catalog : main.catalog;
      const bundle = catalog.get(environment ? name.slice(slash + 1) : name);
      const published = catalog.published;
      return bundle && published ? { revision: bundle.revision, publishedAt: published.publishedAt } : undefined;
    },
    async start() {
      await main.activation.start();
      await Promise.all(environments.map((environment) => environment.activation.start()));
    },
    stop() {
      main.activation.stop();
      for (const environment of environments) environment.activation.stop();
      main.waiters.expireAll();
      for (const set of environmentSets.values()) set.waiters.expireAll();
    },
    async close() {
      await main.activation.idle();
      for (const environment of environments) {
        await environment.activation.idle();
        environment.ref.close();
      }
    },
  };
}

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import type { ScheduledTask } from 'node-cron';
import { createAdminApi } from './composition/admin-api.js';
import { openAgentAccess, type AgentAccess } from './composition/agent-access.js';
import { createBuildPipeline } from './composition/build-pipeline.js';
import { listenPrivately, primarySocketPath } from './composition/cluster/primary-endpoint.js';
import { WorkerPool } from './composition/cluster/worker-pool.js';
import { createBundleSets, type BundleSets } from './composition/bundle-sets.js';
import { openDataDir, reportStartupFailure } from './composition/data-dir.js';
import { openDecisionLogs } from './composition/decision-logs.js';
import { openFleet } from './composition/fleet.js';
import { createMetrics } from './composition/metrics.js';
import { createLogger } from './composition/logger.js';
import { createPublishSinks, type PublishSinks } from './composition/publish-sinks.js';
import { startRemoteSync, warnAboutRemoteMode } from './composition/remote-sync.js';
import { loadConfig } from './config/load-config.js';
import type { RegentConfig } from './config/schema.js';
import type { ActivationPipeline } from './domain/activation/activation-pipeline.js';
import type { BundleCatalog } from './domain/activation/bundle-catalog.js';
import { auditActivations } from './domain/audit/activation-auditor.js';
import { reconcileAuditWithHistory } from './domain/audit/audit-reconciler.js';
import type { EnvironmentService } from './domain/environments/environment-service.js';
import type { Logger } from './domain/logger.js';
import { MirrorService } from './domain/mirror/mirror-service.js';
import { WebhookReceiver } from './domain/mirror/webhook-receiver.js';
import type { PolicyStore } from './domain/store/policy-store.js';
import { redactUrls } from './domain/redact-urls.js';
import { GitPolicyRepository } from './git/git-policy-repository.js';
import { environmentRefName } from './git/git-ref-follower.js';
import { revisionsCommittedHere } from './git/local-commits.js';
import { seedFromDirectory } from './git/seed-from-directory.js';
import { createBundleHandler } from './http/bundles/bundle-handler.js';
import { createApp } from './http/create-app.js';
import { environmentsStatus } from './http/environment-views.js';
import { fleetStatus } from './http/fleet/fleet-status-view.js';
import { agentReportAuth } from './http/fleet/agent-report-auth.js';
import { createStatusReportRouter } from './http/fleet/status-report-router.js';
import { createWebhookRouter } from './http/hooks/webhook-router.js';
import { planListen } from './http/listen-options.js';
import { createRegentServer } from './http/regent-server.js';
import { loadUiAssets } from './http/ui/static-assets.js';
import { loadAdminTokenKey, type LoadedAdminTokenKey } from './keys/load-admin-token-key.js';
import { loadPublishSettings } from './keys/load-publish-settings.js';
import { loadRemoteSettings } from './keys/load-remote-settings.js';
import { loadSigningKey, type LoadedSigningKey } from './keys/load-signing-key.js';
import type { DataDirLock } from './storage/data-dir-lock.js';
import { FileAuditLog } from './storage/file-audit-log.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export interface RunningRegent {
  url: string;
  server: Server;
  /** The Express application behind everything but `/bundles/` (exposed for route introspection in tests). */
  app: Express;
  store: PolicyStore;
  activation: ActivationPipeline;
  catalog: BundleCatalog;
  /** Publishing sinks (S3, OCI): their state and counters (`status()`, `stats()`). */
  publishing: PublishSinks;
  /** Configured environments (empty when none): their refs, pipelines and promotion. */
  environments: EnvironmentService;
  signingKey: LoadedSigningKey;
  /** The key admin API tokens are verified with (in dev mode, the generated secret's file). */
  adminTokenKey: LoadedAdminTokenKey;
  /** The data directory's lock, held until {@link close} (one Regent per data directory). */
  dataDirLock: DataDirLock;
  /** Agent credentials (`agents.*`): `reload()` re-reads the tokens file (SIGHUP). */
  agents: AgentAccess;
  /** The worker processes serving the public port (`server.workers` > 1); undefined with one process. */
  workers?: WorkerPool;
  /** Stops accepting work, answers held long polls, closes the store. */
  close(): Promise<void>;
}

/**
 * The composition root: config → deps → listen. `main()` adds the logger and signal handling. The
 * wiring of each capability (build pipeline, bundle sets, admin API, fleet, remote sync) lives in
 * `src/composition/`, which only this file imports: one composition root, in files of one job each.
 */
export async function startRegent(config: Readonly<RegentConfig>, logger: Logger): Promise<RunningRegent> {
  const dataDir = resolve(config.dataDir);
  // One Regent per data directory: the lock is taken before anything in it is touched.
  const lock = await openDataDir(dataDir, logger);
  try {
    return await startOnDataDir(config, logger, dataDir, lock);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function startOnDataDir(config: Readonly<RegentConfig>, logger: Logger, dataDir: string, lock: DataDirLock): Promise<RunningRegent> {
  const signingKey = loadSigningKey(config.signing, { dataDir, dev: config.dev, logger });
  const adminTokenKey = loadAdminTokenKey(config.auth, { dataDir, dev: config.dev, logger, signingKey: signingKey.key });
  // Remote mode: mirror a Git host's branch and push our own commits there (undefined in local mode).
  const remoteSettings = loadRemoteSettings(config, dataDir);
  if (remoteSettings) {
    warnAboutRemoteMode({ remoteUrl: remoteSettings.remote.url, insecureHttp: remoteSettings.insecureHttp, token: remoteSettings.remote.credentials.kind === 'token', signingAlgorithm: signingKey.key.algorithm, logger });
  }
  // Agent credentials before anything starts: none configured outside dev mode stops start-up naming the keys.
  const agents = openAgentAccess(config, logger);
  try {
    return await startWithAgentAccess(config, logger, dataDir, lock, { signingKey, adminTokenKey, remoteSettings, agents });
  } catch (error) {
    agents.close();
    throw error;
  }
}

interface StartedKeys {
  signingKey: LoadedSigningKey;
  adminTokenKey: LoadedAdminTokenKey;
  remoteSettings: ReturnType<typeof loadRemoteSettings>;
  agents: AgentAccess;
}

async function startWithAgentAccess(config: Readonly<RegentConfig>, logger: Logger, dataDir: string, lock: DataDirLock, keys: StartedKeys): Promise<RunningRegent> {
  const { signingKey, adminTokenKey, remoteSettings, agents } = keys;
  // Publishing sinks (S3, OCI) and their credentials: a bad one stops start-up naming its key.
  const publishSettings = loadPublishSettings(config);
  // Environment refs are checked before anything else starts: a bad one stops start-up naming its key.
  config.environments.forEach((environment, index) => environmentRefName(environment.ref, config.store.branch, `environments.${index}.ref`));

  const systemIdentity = { name: config.store.systemName, email: config.store.systemEmail };
  const store = await GitPolicyRepository.open({
    dir: join(dataDir, 'store.git'),
    branch: config.store.branch,
    systemIdentity,
    logger: logger.child({ component: 'store' }),
    watchIntervalMs: config.store.watchIntervalMs,
    remote: remoteSettings ? { ...remoteSettings.remote, environmentRefs: config.environments.map((environment) => `refs/${environment.ref}`) } : undefined,
  });
  const emptyStore = !(await store.head());
  if (emptyStore && !remoteSettings) await seed(store, resolve(config.store.seedDir), systemIdentity, logger);

  // The fleet first: the gate checks every revision against the oldest OPA its live agents run. What is
  // served (for convergence) is known once the bundle sets exist, below; agents report only after listen.
  const late: { sets?: BundleSets } = {};
  const fleet = await openFleet(config, { dataDir, sets: { environments: config.environments.map((environment) => environment.name), served: (name) => late.sets?.served(name) }, logger });
  const pipeline = await createBuildPipeline(config, { dataDir, signingKey, projectRoot: PROJECT_ROOT, logger, liveAgentVersions: () => fleet.registry.liveVersions() });
  // Worker processes (server.workers > 1) serve the public port; this process, the primary, keeps the rest.
  const workers = config.server.workers > 1 ? WorkerPool.create({ count: config.server.workers, config, logger, heldPolls: agents.heldPolls, refetches: agents.refetches }) : undefined;
  const sets = await createBundleSets(config, { dataDir, store, systemIdentity, check: pipeline.check, builder: pipeline.builder, deltas: pipeline.deltas, logger, replication: workers });
  late.sets = sets;

  const audit = await FileAuditLog.open(join(dataDir, 'audit', 'audit.jsonl'), {
    logger, name: 'audit/audit.jsonl', onBrokenChain: config.audit.onBrokenChain ?? (config.dev ? 'read-only' : 'refuse'),
  });
  // A crash between a commit and its audit record leaves the commit unrecorded: record it now (not on
  // a broken chain, which takes no records; that start-up said so and the next one will).
  // Only this store's own commits (its reflog): other replicas' writes arrive by fetch, on their own record.
  if (audit.chain().chain === 'ok') {
    const committedHere = await revisionsCommittedHere(join(dataDir, 'store.git'), config.store.branch, 500);
    await reconcileAuditWithHistory({ store, audit, committedHere, logger: logger.child({ component: 'audit' }) });
  }
  // Sinks follow every set's activations (after the catalog swap, the commit point); subscribed before they start.
  const publishing = createPublishSinks(publishSettings, { main: sets.activation, environments: sets.environments, logger });
  auditActivations(sets.activation, audit, logger);
  for (const environment of sets.environments) auditActivations(environment.activation, audit, logger, environment.name);

  const mirror = store.mirror && remoteSettings
    ? MirrorService.create({ mirror: store.mirror, audit, logger: logger.child({ component: 'mirror' }), backoffInitialMs: config.remote.backoffInitialMs, backoffMaxMs: config.remote.backoffMaxMs })
    : undefined;
  const webhooks = mirror && remoteSettings?.webhookSecret
    ? WebhookReceiver.create({
      secret: remoteSettings.webhookSecret, requestSync: (trigger) => mirror.request(trigger), logger: logger.child({ component: 'webhooks' }),
      maxBodyBytes: config.remote.webhookMaxBodyBytes, maxConcurrentBodies: config.remote.webhookMaxConcurrentBodies,
    })
    : undefined;
  fleet.observe(audit);
  // Who may report (status, decision logs): one middleware for both, so they never disagree.
  const reportAuth = agentReportAuth({ reportToken: config.fleet.reportToken, acceptWithoutToken: config.dev, agents: agents.authenticator, logger });
  // Batches arrive only once the server listens, after `metrics` below exists.
  const decisionLogs = await openDecisionLogs(config, { dataDir, authenticate: reportAuth, onBatch: (outcome) => metrics.onDecisionBatch(outcome), logger });
  const admin = createAdminApi(config, { dataDir, store, systemIdentity, pipeline, sets, audit, mirror, fleet, decisions: decisionLogs.store, adminTokenKey, logger });
  await admin.start();

  const { catalog, waiters, activation, environmentSets } = sets;
  const metrics = createMetrics(config, {
    sets, opa: pipeline.opa, audit, mirror, fleet, decisions: decisionLogs.store, sinks: () => publishing.stats(),
    agents: () => ({ ...agents.authenticator.stats(), heldPollsRefused: agents.heldPolls.stats().refused, refetchesHeld: agents.refetches.stats().held }),
    workers: workers ? () => workers.stats() : undefined,
  });
  // With worker processes, they answer the bundle requests: their counts are added to the primary's.
  workers?.countBundlesInto(metrics.bundleCounters);
  // The web view is what `npm run build` bundled into dist/ui (the same folder whether Regent runs from dist/ or src/).
  const ui = await loadUiAssets(join(PROJECT_ROOT, 'dist', 'ui'));
  if (!ui.built) logger.warn({ dir: ui.dir }, "the web view is not built: /ui answers ui_not_built until 'npm run build' has run");
  const app = createApp({
    logger, activation, catalog, waiters, branch: config.store.branch, version: VERSION, adminRouter: admin.router,
    webhookRouter: createWebhookRouter({ receiver: webhooks, maxBodyBytes: config.remote.webhookMaxBodyBytes, bodyTimeoutMs: config.remote.webhookBodyTimeoutMs }),
    statusReportRouter: createStatusReportRouter({ registry: fleet.registry, reportToken: config.fleet.reportToken, acceptWithoutToken: config.dev, agents: agents.authenticator, logger, body: { maxBytes: config.fleet.maxReportBytes, maxDepth: config.http.maxJsonDepth } }),
    decisionLogsRouter: decisionLogs.router,
    metricsRouter: metrics.router,
    requestCounters: metrics.requestCounters,
    opaStatus: () => ({ version: pipeline.opa.version, ...pipeline.opa.stats() }),
    gateStatus: () => pipeline.gateTarget.status(),
    agentsStatus: () => agents.status(),
    mirrorStatus: mirror ? () => ({ ...mirror.status(), webhooks: webhooks ? { ...webhooks.counts } : null }) : undefined,
    environmentsStatus: sets.environments.length > 0 ? () => environmentsStatus(admin.environments, environmentSets) : undefined,
    auditStatus: () => audit.chain(),
    ui,
    sinksStatus: () => publishing.status(),
    fleetStatus: () => fleetStatus(fleet),
    workersStatus: workers ? () => workers.status() : undefined,
  });
  const bundles = createBundleHandler({
    catalog, waiters, environments: environmentSets, longPollMaxSeconds: config.bundles.longPollMaxSeconds, logger,
    agents: agents.authenticator, heldPolls: agents.heldPolls, refetches: agents.refetches, counters: metrics.bundleCounters,
  });
  const server = createRegentServer({ bundles, app }, { behindWorkers: workers !== undefined });
  const privateSocket = workers ? primarySocketPath(dataDir) : undefined;
  let address: AddressInfo;
  if (workers && privateSocket) {
    await listenPrivately(server, privateSocket.path);
    address = await workers.start(privateSocket.path);
  } else {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(planListen({ port: config.port, host: config.host }).options, () => resolveListen());
    });
    address = server.address() as AddressInfo;
  }
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url, workers: config.server.workers, node: process.version, dataDir, branch: config.store.branch, opa: pipeline.opa.path, opaVersion: pipeline.opa.version, keyId: signingKey.key.keyId, algorithm: signingKey.key.algorithm, keySource: signingKey.source }, 'regent listening');
  let cronTask: ScheduledTask | undefined;
  if (mirror && remoteSettings) {
    cronTask = await startRemoteSync({ mirror, schedule: remoteSettings.syncSchedule, emptyStore, logger });
    logger.info({ remote: store.mirror!.description, schedule: remoteSettings.syncSchedule, webhooks: webhooks !== undefined }, 'remote mode');
  }
  await sets.start();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Workers first: they drain their clients (held long polls answered) while the primary still answers what they pass on.
      await workers?.stop();
      server.close();
      sets.stop();
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 5000);
      await new Promise<void>((done) => server.once('close', () => done()));
      clearTimeout(force);
      await cronTask?.destroy();
      await mirror?.stop();
      await publishing.close();
      await sets.close();
      await admin.close();
      await decisionLogs.close();
      await fleet.close();
      await store.close();
      await audit.close();
      agents.close();
      privateSocket?.cleanup();
      await lock.release();
    })();
    return closing;
  };
  return { url, server, app, store, activation, catalog, publishing, environments: admin.environments, signingKey, adminTokenKey, dataDirLock: lock, agents, workers, close };
}

/** An empty local store starts with the seed directory as its first commit, by the system identity. */
async function seed(store: GitPolicyRepository, seedDir: string, systemIdentity: { name: string; email: string }, logger: Logger): Promise<void> {
  if (!existsSync(seedDir)) {
    logger.warn({ seedDir }, 'policy store is empty and the seed directory does not exist');
    return;
  }
  const seeded = await seedFromDirectory(store, seedDir, systemIdentity);
  logger.info({ seedDir, revision: seeded?.revision }, 'policy store seeded');
}

export { createLogger };
/** The gate and builder Regent runs, for `regent build` (the CLI's offline build runs exactly these). */
export { createBuildPipeline };

/** What `regent serve` (and `node dist/main.js`) was given on its command line. */
export interface MainOptions {
  dev?: boolean;
  /** A YAML config file (else `REGENT_CONFIG`). */
  config?: string;
  /** `--log-format`: wins over `log.format` / `REGENT_LOG_FORMAT`. */
  logFormat?: 'json' | 'pretty';
}

/**
 * Runs Regent until a signal stops it. The command line is parsed by the `regent serve` command
 * (`src/cli/`), which `node dist/main.js [options]` runs too, so both refuse unknown flags and print
 * the same `--help`.
 */
export async function main(options: MainOptions = {}): Promise<void> {
  let config: Readonly<RegentConfig>;
  try {
    const overrides: Record<string, unknown> = {};
    if (options.dev) overrides.dev = true;
    if (options.logFormat) overrides.log = { format: options.logFormat };
    config = loadConfig({ file: options.config, overrides });
  } catch (error) {
    process.stderr.write(`regent: ${redactUrls((error as Error).message)}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  let regent: RunningRegent;
  try {
    regent = await startRegent(config, logger);
  } catch (error) {
    reportStartupFailure(error, { logger, dataDir: resolve(config.dataDir), stderr: (text) => process.stderr.write(text) });
    process.exit(1);
  }
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'shutting down');
    regent.close().then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // SIGHUP re-reads the agent tokens file (it is also re-read when it changes).
  process.on('SIGHUP', () => {
    regent.agents.reload('SIGHUP');
    regent.workers?.reload();
  });
  // Without its lock another Regent could start on the same data directory: stop rather than share it.
  regent.dataDirLock.onLost((reason) => {
    logger.fatal({ reason, lock: regent.dataDirLock.path }, 'lost the data directory lock; stopping');
    regent.close().finally(() => process.exit(1));
  });
}

// `node dist/main.js [options]` is `regent serve [options]`.
if (process.argv[1] && isThisFile(process.argv[1])) {
  const { runCliProcess } = await import('./cli/regent.js');
  runCliProcess(['serve', ...process.argv.slice(2)]);
}

/** Whether `path` (a symlink, e.g. a clone whose dist/ is linked, or not) is this module. */
function isThisFile(path: string): boolean {
  try {
    return realpathSync(path) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

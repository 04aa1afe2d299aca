import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import type { ScheduledTask } from 'node-cron';
import { createAdminApi } from './composition/admin-api.js';
import { createBuildPipeline } from './composition/build-pipeline.js';
import { createBundleSets } from './composition/bundle-sets.js';
import { openDataDir, reportStartupFailure } from './composition/data-dir.js';
import { openDecisionLogs } from './composition/decision-logs.js';
import { openFleet } from './composition/fleet.js';
import { createMetrics } from './composition/metrics.js';
import { createLogger } from './composition/logger.js';
import { startRemoteSync } from './composition/remote-sync.js';
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
import { loadAdminTokenKey, type LoadedAdminTokenKey } from './keys/load-admin-token-key.js';
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
  /** Configured environments (empty when none): their refs, pipelines and promotion. */
  environments: EnvironmentService;
  signingKey: LoadedSigningKey;
  /** The key admin API tokens are verified with (in dev mode, the generated secret's file). */
  adminTokenKey: LoadedAdminTokenKey;
  /** The data directory's lock, held until {@link close} (one Regent per data directory). */
  dataDirLock: DataDirLock;
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
  if (remoteSettings?.insecureHttp) {
    logger.warn({ remote: remoteSettings.remote.url, token: remoteSettings.remote.credentials.kind === 'token' }, 'remote.allowInsecureHttp: the remote is reached over plain http; fetched policies and pushed commits (and a token, if any) are not protected on the wire');
  }
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

  const pipeline = await createBuildPipeline(config, { dataDir, signingKey, projectRoot: PROJECT_ROOT, logger });
  const sets = await createBundleSets(config, { dataDir, store, systemIdentity, gate: pipeline.gate, builder: pipeline.builder, logger });

  const audit = await FileAuditLog.open(join(dataDir, 'audit', 'audit.jsonl'), {
    logger, name: 'audit/audit.jsonl', onBrokenChain: config.audit.onBrokenChain ?? (config.dev ? 'read-only' : 'refuse'),
  });
  // A crash between a commit and its audit record leaves the commit unrecorded: record it now (not on
  // a broken chain, which takes no records; that start-up said so and the next one will).
  if (audit.chain().chain === 'ok') await reconcileAuditWithHistory({ store, audit, logger: logger.child({ component: 'audit' }) });
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
  const fleet = await openFleet(config, { dataDir, sets: { environments: config.environments.map((environment) => environment.name), served: (name) => sets.served(name) }, audit, logger });
  // Who may report (status, decision logs): one middleware for both, replaced as one piece.
  const reportAuth = agentReportAuth({ reportToken: config.fleet.reportToken, acceptWithoutToken: config.dev });
  // Batches arrive only once the server listens, after `metrics` below exists.
  const decisionLogs = await openDecisionLogs(config, { dataDir, authenticate: reportAuth, onBatch: (outcome) => metrics.onDecisionBatch(outcome), logger });
  const admin = createAdminApi(config, { dataDir, store, systemIdentity, pipeline, sets, audit, mirror, fleet, decisions: decisionLogs.store, adminTokenKey, logger });
  await admin.start();

  const { catalog, waiters, activation, environmentSets } = sets;
  const metrics = createMetrics(config, { sets, opa: pipeline.opa, audit, mirror, fleet, decisions: decisionLogs.store });
  const app = createApp({
    logger, activation, catalog, waiters, branch: config.store.branch, version: VERSION, adminRouter: admin.router,
    webhookRouter: createWebhookRouter({ receiver: webhooks, maxBodyBytes: config.remote.webhookMaxBodyBytes }),
    statusReportRouter: createStatusReportRouter({ registry: fleet.registry, reportToken: config.fleet.reportToken, acceptWithoutToken: config.dev, body: { maxBytes: config.fleet.maxReportBytes, maxDepth: config.http.maxJsonDepth } }),
    decisionLogsRouter: decisionLogs.router,
    metricsRouter: metrics.router,
    requestCounters: metrics.requestCounters,
    opaStatus: () => ({ version: pipeline.opa.version, ...pipeline.opa.stats() }),
    mirrorStatus: mirror ? () => ({ ...mirror.status(), webhooks: webhooks ? { ...webhooks.counts } : null }) : undefined,
    environmentsStatus: sets.environments.length > 0 ? () => environmentsStatus(admin.environments, environmentSets) : undefined,
    auditStatus: () => audit.chain(),
    fleetStatus: () => fleetStatus(fleet),
  });
  const bundles = createBundleHandler({ catalog, waiters, environments: environmentSets, longPollMaxSeconds: config.bundles.longPollMaxSeconds, logger, counters: metrics.bundleCounters });
  const server = createRegentServer({ bundles, app });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(planListen({ port: config.port, host: config.host }).options, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url, node: process.version, dataDir, branch: config.store.branch, opa: pipeline.opa.path, opaVersion: pipeline.opa.version, keyId: signingKey.key.keyId, algorithm: signingKey.key.algorithm, keySource: signingKey.source }, 'regent listening');
  let cronTask: ScheduledTask | undefined;
  if (mirror && remoteSettings) {
    cronTask = await startRemoteSync({ mirror, schedule: remoteSettings.syncSchedule, emptyStore, logger });
    logger.info({ remote: store.mirror!.description, schedule: remoteSettings.syncSchedule, webhooks: webhooks !== undefined }, 'remote mode');
  }
  await sets.start();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      server.close();
      sets.stop();
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 5000);
      await new Promise<void>((done) => server.once('close', () => done()));
      clearTimeout(force);
      await cronTask?.destroy();
      await mirror?.stop();
      await sets.close();
      await admin.close();
      await decisionLogs.close();
      await fleet.close();
      await store.close();
      await audit.close();
      await lock.release();
    })();
    return closing;
  };
  return { url, server, app, store, activation, catalog, environments: admin.environments, signingKey, adminTokenKey, dataDirLock: lock, close };
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

/** `node dist/main.js [--dev] [--config file]`. */
export async function main(argv: readonly string[]): Promise<void> {
  const dev = argv.includes('--dev');
  const configIndex = argv.indexOf('--config');
  const file = configIndex >= 0 ? argv[configIndex + 1] : undefined;
  let config: Readonly<RegentConfig>;
  try {
    config = loadConfig({ file, overrides: dev ? { dev: true } : {} });
  } catch (error) {
    process.stderr.write(`regent: ${redactUrls((error as Error).message)}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.log.level);
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
  // Without its lock another Regent could start on the same data directory: stop rather than share it.
  regent.dataDirLock.onLost((reason) => {
    logger.fatal({ reason, lock: regent.dataDirLock.path }, 'lost the data directory lock; stopping');
    regent.close().finally(() => process.exit(1));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main(process.argv.slice(2));
}

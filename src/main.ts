import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import type { Express } from 'express';
import { pino } from 'pino';
import { loadConfig } from './config/load-config.js';
import type { RegentConfig } from './config/schema.js';
import { ActivationPipeline } from './domain/activation/activation-pipeline.js';
import { BundleCatalog } from './domain/activation/bundle-catalog.js';
import { MemoizedPolicyGate } from './domain/activation/memoized-policy-gate.js';
import type { AuditRecordInput } from './domain/audit/audit-log.js';
import { reconcileAuditWithHistory } from './domain/audit/audit-reconciler.js';
import { AdminTokenVerifier } from './domain/auth/admin-token-verifier.js';
import { BundleBuilder } from './domain/bundles/bundle-builder.js';
import { BundleSigner } from './domain/bundles/bundle-signer.js';
import { BundleVerifier } from './domain/bundles/bundle-verifier.js';
import { CanonicalFormMemo } from './domain/bundles/canonical-form-memo.js';
import { verificationKeyFor } from './domain/bundles/signing-key.js';
import type { Logger } from './domain/logger.js';
import { ChangeValidator } from './domain/policies/change-validator.js';
import { PolicyChangeService } from './domain/policies/policy-change-service.js';
import { PolicyReadService } from './domain/policies/policy-read-service.js';
import { RevisionResolver } from './domain/store/revision-resolver.js';
import type { PolicyStore } from './domain/store/policy-store.js';
import { GitPolicyRepository } from './git/git-policy-repository.js';
import { seedFromDirectory } from './git/seed-from-directory.js';
import { createAdminRouter } from './http/admin/create-admin-router.js';
import { createAuditRouter } from './http/admin/audit-router.js';
import { createPoliciesRouter } from './http/admin/policies-router.js';
import { createChangeRequestsRouter } from './http/admin/change-requests-router.js';
import { ChangeRequestChecks } from './domain/change-requests/change-request-checks.js';
import { ChangeRequestService } from './domain/change-requests/change-request-service.js';
import { GitChangeRequestBranches } from './git/change-request-branches.js';
import { FileChangeRequestStore } from './storage/file-change-request-store.js';
import { createVersionsRouter } from './http/admin/versions-router.js';
import { createMirrorRouter } from './http/admin/mirror-router.js';
import { createEnvironmentsRouter } from './http/admin/environments-router.js';
import { createFleetRouter } from './http/admin/fleet-router.js';
import { createStatusReportRouter } from './http/fleet/status-report-router.js';
import { FleetRegistry, type ServedBundle } from './domain/fleet/fleet-registry.js';
import { environmentsStatus } from './http/environment-views.js';
import { EnvironmentService, type Environment } from './domain/environments/environment-service.js';
import { environmentRefName, GitRefFollower } from './git/git-ref-follower.js';
import { createWebhookRouter } from './http/hooks/webhook-router.js';
import { MirrorService } from './domain/mirror/mirror-service.js';
import { WebhookReceiver } from './domain/mirror/webhook-receiver.js';
import { loadRemoteSettings } from './keys/load-remote-settings.js';
import { schedule as scheduleCron, type ScheduledTask } from 'node-cron';
import { createBundleHandler, type BundleSet } from './http/bundles/bundle-handler.js';
import { LongPollWaiters } from './http/bundles/long-poll-waiters.js';
import { createApp } from './http/create-app.js';
import { authenticate } from './http/middleware/authenticate.js';
import { createRegentServer } from './http/regent-server.js';
import { loadAdminTokenKey, type LoadedAdminTokenKey } from './keys/load-admin-token-key.js';
import { loadSigningKey, type LoadedSigningKey } from './keys/load-signing-key.js';
import { writeRestrictedCapabilities } from './opa/capabilities.js';
import { defaultOpaPath, OpaCli } from './opa/opa-cli.js';
import { OpaPolicyEvaluator } from './opa/opa-policy-evaluator.js';
import { OpaPolicyGate } from './opa/opa-policy-gate.js';
import { OpaPolicyInspector } from './opa/opa-policy-inspector.js';
import { FileActivationStateStore } from './storage/file-activation-state-store.js';
import { FileAuditLog } from './storage/file-audit-log.js';
import { FileFleetStore } from './storage/file-fleet-store.js';
import { FileSignatureCache } from './storage/file-signature-cache.js';

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
  /** Stops accepting work, answers held long polls, closes the store. */
  close(): Promise<void>;
}

/** The composition root: config → deps → listen. `main()` adds the logger and signal handling. */
export async function startRegent(config: Readonly<RegentConfig>, logger: Logger): Promise<RunningRegent> {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const signingKey = loadSigningKey(config.signing, { dataDir, dev: config.dev, logger });
  const adminTokenKey = loadAdminTokenKey(config.auth, { dataDir, dev: config.dev, logger, signingKey: signingKey.key });
  // Remote mode: mirror a Git host's branch and push our own commits there (undefined in local mode).
  const remoteSettings = loadRemoteSettings(config, dataDir);

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
  if (emptyStore && !remoteSettings) {
    const seedDir = resolve(config.store.seedDir);
    if (existsSync(seedDir)) {
      const seeded = await seedFromDirectory(store, seedDir, systemIdentity);
      logger.info({ seedDir, revision: seeded?.revision }, 'policy store seeded');
    } else {
      logger.warn({ seedDir }, 'policy store is empty and the seed directory does not exist');
    }
  }

  const opa = await OpaCli.create({ path: config.opa.path ?? defaultOpaPath(PROJECT_ROOT), timeoutMs: config.opa.timeoutMs, logger });
  const capabilitiesPath = await writeRestrictedCapabilities(opa, join(dataDir, 'opa'));
  // One OPA verdict per candidate tree: an API write is checked before its commit, not again at activation.
  const gate = new MemoizedPolicyGate(OpaPolicyGate.create({ opa, capabilitiesPath, logger: logger.child({ component: 'gate' }), workDir: join(dataDir, 'tmp') }));

  const signer = BundleSigner.create({ key: signingKey.key, scope: config.signing.scope, cache: FileSignatureCache.open(join(dataDir, 'cache', 'signatures.jsonl')) });
  const canonicalForms = new CanonicalFormMemo();
  const verifier = BundleVerifier.create([{ ...verificationKeyFor(signingKey.key), scope: config.signing.scope }], { canonicalForms });
  const builder = BundleBuilder.create({
    signerFor: (keyId) => (keyId === signingKey.key.keyId ? signer : undefined),
    defaultKeyId: signingKey.key.keyId,
    verifier,
    canonicalForms,
    reservedNames: new Set(config.environments.map((environment) => environment.name)),
    limits: { maxFiles: config.bundles.maxFiles, maxFileBytes: config.bundles.maxFileBytes, maxBundleBytes: config.bundles.maxBundleBytes },
    logger: logger.child({ component: 'builder' }),
  });

  const catalog = BundleCatalog.create();
  const waiters = LongPollWaiters.create({ batchSize: config.bundles.releaseBatchSize, logger: logger.child({ component: 'long-poll' }) });
  catalog.onChange((changed) => waiters.release(changed));
  const activation = ActivationPipeline.create({
    store,
    gate,
    builder,
    publishers: [catalog],
    state: FileActivationStateStore.create(join(dataDir, 'state', 'activation.json')),
    logger: logger.child({ component: 'activation' }),
  });

  // Environments: each follows its own tag or branch through its own pipeline (same gate, builder and
  // signer, so the same revision gives the same bytes everywhere), catalog, waiters and last-good state.
  const environmentSets = new Map<string, BundleSet>();
  const environmentList: Array<Environment & { activation: ActivationPipeline; ref: GitRefFollower }> = [];
  for (const { name, ref } of config.environments) {
    const follower = await GitRefFollower.open({
      dir: join(dataDir, 'store.git'), ref, trackedBranch: config.store.branch, store, systemIdentity,
      intervalMs: config.store.watchIntervalMs, logger: logger.child({ component: 'environment', environment: name }), pusher: store.mirror,
    });
    const envCatalog = BundleCatalog.create();
    const envWaiters = LongPollWaiters.create({ batchSize: config.bundles.releaseBatchSize, logger: logger.child({ component: 'long-poll', environment: name }) });
    envCatalog.onChange((changed) => envWaiters.release(changed));
    const envActivation = ActivationPipeline.create({
      store: follower,
      gate,
      builder,
      publishers: [envCatalog],
      state: FileActivationStateStore.create(join(dataDir, 'state', 'environments', `${name}.json`)),
      logger: logger.child({ component: 'activation', environment: name }),
    });
    environmentSets.set(name, { catalog: envCatalog, waiters: envWaiters });
    environmentList.push({ name, ref: follower, activation: envActivation });
  }

  const audit = await FileAuditLog.open(join(dataDir, 'audit', 'audit.jsonl'), { logger });
  // A crash between a commit and its audit record leaves the commit unrecorded: record it now.
  await reconcileAuditWithHistory({ store, audit, logger: logger.child({ component: 'audit' }) });
  const mirror = store.mirror && remoteSettings
    ? MirrorService.create({ mirror: store.mirror, audit, logger: logger.child({ component: 'mirror' }), backoffInitialMs: config.remote.backoffInitialMs, backoffMaxMs: config.remote.backoffMaxMs })
    : undefined;
  const webhooks = mirror && remoteSettings?.webhookSecret
    ? WebhookReceiver.create({ secret: remoteSettings.webhookSecret, requestSync: (trigger) => mirror.request(trigger), logger: logger.child({ component: 'webhooks' }) })
    : undefined;
  const auditActivations = (pipeline: ActivationPipeline, environment?: string): void => {
    pipeline.onEvent((event) => {
      const record: AuditRecordInput = event.type === 'activated'
        ? { action: 'activation.succeeded', outcome: 'success', subject: 'system', environment, revision: event.result.revision, detail: `bundles ${event.result.bundles.join(', ')} in ${event.result.timings.totalMs} ms` }
        : { action: 'activation.rejected', outcome: 'failed', subject: 'system', environment, revision: event.failure.revision, reason: event.failure.code, detail: `${event.failure.step}: ${event.failure.message}`.slice(0, 2000) };
      audit.append(record).catch((error: unknown) => logger.error({ err: error, revision: record.revision }, 'could not record an activation in the audit log'));
    });
  };
  auditActivations(activation);
  for (const environment of environmentList) auditActivations(environment.activation, environment.name);

  // Admin API (/api): every route behind authenticate(); each resource router checks its role.
  const { algorithms, keyId: adminKeyId, issuer, audience, roleClaim, clockToleranceSeconds, maxTokenLifetimeSeconds } = config.auth;
  const adminTokens = AdminTokenVerifier.create({ algorithms, key: adminTokenKey.key, keyId: adminKeyId, issuer, audience, roleClaim, clockToleranceSeconds, maxTokenLifetimeSeconds });
  const resolver = RevisionResolver.create(store, () => activation.status().active);
  const changes = PolicyChangeService.create({
    store,
    validator: ChangeValidator.create({ store, gate, builder }),
    activation,
    audit,
    limits: { maxFileBytes: config.api.maxFileBytes, maxFilesPerChange: config.api.maxFilesPerChange, activationWaitMs: config.api.activationWaitMs },
    logger: logger.child({ component: 'changes' }),
    requireApproval: config.changeRequests.requireApproval,
  });
  // Change requests: proposals on refs/regent/change-requests/<id>, records in <dataDir>/change-requests.
  const changeRequestBranches = GitChangeRequestBranches.open({ dir: join(dataDir, 'store.git'), systemIdentity, logger });
  const changeRequests = ChangeRequestService.create({
    store,
    branches: changeRequestBranches,
    repository: FileChangeRequestStore.create(join(dataDir, 'change-requests'), logger.child({ component: 'change-requests' })),
    checks: ChangeRequestChecks.create({ store, validator: ChangeValidator.create({ store, gate, builder }) }),
    activation,
    audit,
    limits: { maxFileBytes: config.api.maxFileBytes, maxFilesPerChange: config.api.maxFilesPerChange, activationWaitMs: config.api.activationWaitMs },
    mergeStrategy: config.changeRequests.mergeStrategy,
    logger: logger.child({ component: 'change-requests' }),
  });
  const environments = EnvironmentService.create({
    environments: environmentList,
    store,
    resolver,
    validator: ChangeValidator.create({ store, gate, builder }),
    audit,
    activationWaitMs: config.api.activationWaitMs,
    logger: logger.child({ component: 'environments' }),
  });
  const reads = PolicyReadService.create({
    store,
    resolver,
    inspector: OpaPolicyInspector.create({ opa, workDir: join(dataDir, 'tmp'), logger: logger.child({ component: 'inspector' }) }),
    evaluator: OpaPolicyEvaluator.create({ opa, capabilitiesPath, workDir: join(dataDir, 'tmp') }),
  });
  // The fleet as its agents report it: restored from the data directory, written back when it changed.
  const fleet = FleetRegistry.create({ maxAgents: config.fleet.maxAgents, staleAfterMs: config.fleet.staleAfterSeconds * 1000 });
  const fleetStore = FileFleetStore.create(join(dataDir, 'fleet', 'agents.json'), logger);
  fleet.restore(await fleetStore.load());
  const saveFleet = async (): Promise<void> => {
    const { agents, changed } = fleet.snapshot();
    if (changed) await fleetStore.save(agents);
  };
  const fleetTimer = setInterval(() => void saveFleet().catch((error: unknown) => logger.error({ err: error }, 'cannot save the fleet snapshot')), config.fleet.snapshotIntervalMs);
  fleetTimer.unref();
  const servedBundle = (name: string): ServedBundle | undefined => {
    const slash = name.indexOf('/');
    const set = slash > 0 ? environmentSets.get(name.slice(0, slash)) : undefined;
    const source = set ? set.catalog : catalog;
    const bundle = source.get(set ? name.slice(slash + 1) : name);
    const published = source.published;
    return bundle && published ? { revision: bundle.revision, publishedAt: published.publishedAt } : undefined;
  };

  const adminRouter = createAdminRouter({
    authenticate: authenticate({ verifier: adminTokens, audit, logger }),
    routers: [
      createPoliciesRouter({ reads, changes, resolver, maxBodyBytes: config.api.maxBodyBytes }),
      createChangeRequestsRouter({ changeRequests, maxBodyBytes: config.api.maxBodyBytes }),
      createVersionsRouter({ store, resolver }),
      createAuditRouter({ audit }),
      createMirrorRouter({ mirror, maxBodyBytes: config.api.maxBodyBytes }),
      createEnvironmentsRouter({ environments, sets: environmentSets, maxBodyBytes: config.api.maxBodyBytes }),
      createFleetRouter({ registry: fleet, served: servedBundle }),
    ],
  });

  // Records are loaded before the first request can reach them; revalidation runs in the background.
  await changeRequests.start();
  const app = createApp({
    logger, activation, catalog, waiters, branch: config.store.branch, version: VERSION, adminRouter,
    webhookRouter: createWebhookRouter({ receiver: webhooks, maxBodyBytes: config.remote.webhookMaxBodyBytes }),
    statusReportRouter: createStatusReportRouter({ registry: fleet, reportToken: config.fleet.reportToken, maxBodyBytes: config.fleet.maxReportBytes }),
    mirrorStatus: mirror ? () => ({ ...mirror.status(), webhooks: webhooks ? { ...webhooks.counts } : null }) : undefined,
    environmentsStatus: environmentList.length > 0 ? () => environmentsStatus(environments, environmentSets) : undefined,
  });
  const bundles = createBundleHandler({ catalog, waiters, environments: environmentSets, longPollMaxSeconds: config.bundles.longPollMaxSeconds, logger });
  const server = createRegentServer({ bundles, app });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url, dataDir, branch: config.store.branch, opa: opa.path, opaVersion: opa.version, keyId: signingKey.key.keyId, algorithm: signingKey.key.algorithm, keySource: signingKey.source }, 'regent listening');
  let cronTask: ScheduledTask | undefined;
  if (mirror && remoteSettings) {
    // An empty store is cloned before activation starts (a failure is retried with backoff while Regent
    // stays up, not ready); otherwise the last good revision is served at once and the sync runs alongside.
    if (emptyStore) await mirror.requestAndWait('start');
    else mirror.request('start');
    const cronLog = logger.child({ component: 'cron' });
    cronTask = scheduleCron(remoteSettings.syncSchedule, () => mirror.request('cron'), {
      name: 'regent-remote-sync',
      noOverlap: true,
      // node-cron's own messages (missed ticks under load) as JSON log lines, not console output.
      logger: {
        info: (message) => cronLog.debug({ detail: message }, 'cron'),
        warn: (message) => cronLog.warn({ detail: message }, 'cron'),
        error: (message, err) => cronLog.error({ err: err ?? message }, 'cron'),
        debug: (message, err) => cronLog.debug({ err: err ?? message }, 'cron'),
      },
    });
    logger.info({ remote: store.mirror!.description, schedule: remoteSettings.syncSchedule, webhooks: webhooks !== undefined }, 'remote mode');
  }
  await activation.start();
  await Promise.all(environmentList.map((environment) => environment.activation.start()));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      activation.stop();
      for (const environment of environmentList) environment.activation.stop();
      server.close();
      waiters.expireAll();
      for (const set of environmentSets.values()) set.waiters.expireAll();
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 5000);
      await new Promise<void>((done) => server.once('close', () => done()));
      clearTimeout(force);
      await cronTask?.destroy();
      await mirror?.stop();
      await activation.idle();
      for (const environment of environmentList) {
        await environment.activation.idle();
        environment.ref.close();
      }
      await changeRequests.stop();
      await changeRequestBranches.close();
      clearInterval(fleetTimer);
      await saveFleet().catch((error: unknown) => logger.error({ err: error }, 'cannot save the fleet snapshot'));
      await store.close();
      await audit.close();
    })();
    return closing;
  };
  return { url, server, app, store, activation, catalog, environments, signingKey, adminTokenKey, close };
}

export function createLogger(level: string): pino.Logger {
  return pino({
    level,
    base: { service: 'regent' },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.privateKey', '*.secret', '*.token', 'signing.privateKey'], censor: '[redacted]' },
  });
}

/** `node dist/main.js [--dev] [--config file]`. */
export async function main(argv: readonly string[]): Promise<void> {
  const dev = argv.includes('--dev');
  const configIndex = argv.indexOf('--config');
  const file = configIndex >= 0 ? argv[configIndex + 1] : undefined;
  let config: Readonly<RegentConfig>;
  try {
    config = loadConfig({ file, overrides: dev ? { dev: true } : {} });
  } catch (error) {
    process.stderr.write(`regent: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.log.level);
  let regent: RunningRegent;
  try {
    regent = await startRegent(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'regent failed to start');
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
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main(process.argv.slice(2));
}

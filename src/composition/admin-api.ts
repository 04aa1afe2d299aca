import { join } from 'node:path';
import type { RequestHandler } from 'express';
import type { RegentConfig } from '../config/schema.js';
import type { ActivationPipeline } from '../domain/activation/activation-pipeline.js';
import type { AuditLog } from '../domain/audit/audit-log.js';
import { AdminTokenVerifier } from '../domain/auth/admin-token-verifier.js';
import { ChangeRequestChecks } from '../domain/change-requests/change-request-checks.js';
import { ChangeRequestService } from '../domain/change-requests/change-request-service.js';
import { EnvironmentService } from '../domain/environments/environment-service.js';
import type { DecisionLog } from '../domain/decisions/decision-log.js';
import type { ConvergenceTracker } from '../domain/fleet/convergence-tracker.js';
import type { FleetRegistry, ServedBundle } from '../domain/fleet/fleet-registry.js';
import { ChangeRequestImpact } from '../domain/impact/change-request-impact.js';
import { ImpactAnalysis } from '../domain/impact/impact-analysis.js';
import type { Logger } from '../domain/logger.js';
import type { MirrorService } from '../domain/mirror/mirror-service.js';
import { ChangeValidator } from '../domain/policies/change-validator.js';
import { PolicyChangeService } from '../domain/policies/policy-change-service.js';
import { PolicyReadService } from '../domain/policies/policy-read-service.js';
import type { Identity } from '../domain/store/policy-store.js';
import { RevisionResolver } from '../domain/store/revision-resolver.js';
import { GitChangeRequestBranches } from '../git/change-request-branches.js';
import type { GitPolicyRepository } from '../git/git-policy-repository.js';
import { createAuditRouter } from '../http/admin/audit-router.js';
import { createChangeRequestsRouter } from '../http/admin/change-requests-router.js';
import { createDecisionsRouter } from '../http/admin/decisions-router.js';
import { createAdminRouter } from '../http/admin/create-admin-router.js';
import { createEnvironmentsRouter } from '../http/admin/environments-router.js';
import { createFleetRouter } from '../http/admin/fleet-router.js';
import { createImpactRouter } from '../http/admin/impact-router.js';
import { createMirrorRouter } from '../http/admin/mirror-router.js';
import { createPoliciesRouter } from '../http/admin/policies-router.js';
import { createVersionsRouter } from '../http/admin/versions-router.js';
import { authenticate } from '../http/middleware/authenticate.js';
import type { LoadedAdminTokenKey } from '../keys/load-admin-token-key.js';
import { OpaPolicyEvaluator } from '../opa/opa-policy-evaluator.js';
import { OpaPolicyInspector } from '../opa/opa-policy-inspector.js';
import { FileChangeRequestStore } from '../storage/file-change-request-store.js';
import type { BuildPipeline } from './build-pipeline.js';
import type { BundleSets } from './bundle-sets.js';

export interface AdminApi {
  /** Mounted at `/api`: every route behind authentication, each resource router checks its role. */
  router: RequestHandler;
  environments: EnvironmentService;
  /** Loads change requests (before the first request can reach them); revalidation runs in the background. */
  start(): Promise<void>;
  close(): Promise<void>;
}

interface AdminApiDeps {
  dataDir: string;
  store: GitPolicyRepository;
  systemIdentity: Identity;
  pipeline: BuildPipeline;
  sets: BundleSets;
  audit: AuditLog;
  mirror: MirrorService | undefined;
  fleet: { registry: FleetRegistry; tracker: ConvergenceTracker; served(name: string): ServedBundle | undefined };
  decisions: DecisionLog;
  adminTokenKey: LoadedAdminTokenKey;
  logger: Logger;
}

/** The admin API's services (writes, reads, change requests, environments) and its router. */
export function createAdminApi(config: Readonly<RegentConfig>, deps: AdminApiDeps): AdminApi {
  const { dataDir, store, audit, logger, sets } = deps;
  const { check, specs, opa, capabilitiesPath } = deps.pipeline;
  const activation: ActivationPipeline = sets.activation;
  const { algorithms, keyId, issuer, audience, roleClaim, clockToleranceSeconds, maxTokenLifetimeSeconds } = config.auth;
  const tokens = AdminTokenVerifier.create({ algorithms, key: deps.adminTokenKey.key, keyId, issuer, audience, roleClaim, clockToleranceSeconds, maxTokenLifetimeSeconds });
  const resolver = RevisionResolver.create(store, () => activation.status().active);
  const validator = ChangeValidator.create({ store, check });
  const limits = { maxFileBytes: config.api.maxFileBytes, maxFilesPerChange: config.api.maxFilesPerChange, activationWaitMs: config.api.activationWaitMs };

  const changes = PolicyChangeService.create({
    store, validator, activation, audit, limits, logger: logger.child({ component: 'changes' }), requireApproval: config.changeRequests.requireApproval,
  });
  // Change requests: proposals on refs/regent/change-requests/<id>, records in <dataDir>/change-requests.
  const changeRequestBranches = GitChangeRequestBranches.open({ dir: join(dataDir, 'store.git'), systemIdentity: deps.systemIdentity, logger });
  const changeRequests = ChangeRequestService.create({
    store,
    branches: changeRequestBranches,
    repository: FileChangeRequestStore.create(join(dataDir, 'change-requests'), logger.child({ component: 'change-requests' })),
    checks: ChangeRequestChecks.create({ store, validator }),
    activation,
    audit,
    limits,
    mergeStrategy: config.changeRequests.mergeStrategy,
    logger: logger.child({ component: 'change-requests' }),
  });
  const environments = EnvironmentService.create({
    environments: sets.environments, store, resolver, validator, audit, activationWaitMs: config.api.activationWaitMs, logger: logger.child({ component: 'environments' }),
  });
  const unwatchEnvironments = environments.watchOutsideMoves();
  const evaluator = OpaPolicyEvaluator.create({ opa, capabilitiesPath, workDir: join(dataDir, 'tmp') });
  const reads = PolicyReadService.create({
    store,
    resolver,
    inspector: OpaPolicyInspector.create({ opa, workDir: join(dataDir, 'tmp'), logger: logger.child({ component: 'inspector' }) }),
    evaluator,
    check,
    specs,
  });
  // Impact analysis replays given inputs or the decisions the fleet logged (`POST /logs`).
  const impact = ImpactAnalysis.create({ resolve: (ref) => resolver.resolve(ref), filesAt: (revision) => reads.evaluableFiles(revision), evaluator, decisions: deps.decisions });
  const changeRequestImpact = ChangeRequestImpact.create({
    store, compile: (entries, readBlobs) => check.compile(entries, readBlobs), analysis: impact, logger: logger.child({ component: 'impact' }),
    window: { hours: config.impact.changeRequestWindowHours, maxDecisions: config.impact.changeRequestMaxDecisions, examples: config.impact.maxExamples },
  });

  const body = { maxBytes: config.api.maxBodyBytes, maxDepth: config.http.maxJsonDepth };
  const router = createAdminRouter({
    authenticate: authenticate({ verifier: tokens, audit, logger }),
    audit,
    routers: [
      createPoliciesRouter({ reads, changes, resolver, body }),
      createChangeRequestsRouter({ changeRequests, impact: changeRequestImpact, body }),
      createImpactRouter({ impact, limits: { maxInputs: config.impact.maxInputs, maxExamples: config.impact.maxExamples }, body }),
      createVersionsRouter({ store, resolver }),
      createAuditRouter({ audit }),
      createMirrorRouter({ mirror: deps.mirror, body }),
      createEnvironmentsRouter({ environments, sets: sets.environmentSets, body }),
      createFleetRouter({ registry: deps.fleet.registry, served: (name) => deps.fleet.served(name), convergence: () => deps.fleet.tracker.list() }),
      createDecisionsRouter({ decisions: deps.decisions }),
    ],
  });
  return {
    router,
    environments,
    start: () => changeRequests.start(),
    async close() {
      unwatchEnvironments();
      await changeRequests.stop();
      await changeRequestBranches.close();
    },
  };
}

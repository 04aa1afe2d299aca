import { Router } from 'express';
import type { ActivationPipeline } from '../domain/activation/activation-pipeline.js';
import type { BundleCatalog } from '../domain/activation/bundle-catalog.js';
import type { AuditChainState } from '../domain/audit/audit-log.js';
import type { SinkStatus } from '../domain/publishing/sink-publisher.js';
import type { LongPollWaiters } from './bundles/long-poll-waiters.js';
import { bundlesOf } from './environment-views.js';

export interface StatusRouterDeps {
  activation: ActivationPipeline;
  catalog: BundleCatalog;
  waiters: LongPollWaiters;
  branch: string;
  version: string;
  /** Remote mode: the mirror's state (fresh/stale/diverged, since when, last error, syncs, webhooks). */
  mirrorStatus?: () => Record<string, unknown>;
  /** The OPA runner: version, processes running, queued by priority, limits, refusals and kills. */
  opaStatus?: () => Record<string, unknown>;
  /** The OPA release the gate checks against (the fleet's oldest: `gate.minAgentVersion` or a live agent's). */
  gateStatus?: () => Record<string, unknown>;
  /** Agent access: open or credentials, tokens, held polls per agent, re-fetches held. */
  agentsStatus?: () => Record<string, unknown>;
  /** Environments (bundle sets following a tag or branch), keyed by name. */
  environmentsStatus?: () => Promise<Record<string, unknown>>;
  /** The audit log's hash chain as found at start-up (`audit: {chain, brokenAt}`). */
  auditStatus?: () => AuditChainState;
  /** Publishing sinks (S3, OCI): per sink what it holds, what is pending, the last error, attempts. */
  sinksStatus?: () => SinkStatus[];
  /** The fleet: agents live and stale, per served bundle how far the served revision got and how fast. */
  fleetStatus?: () => Record<string, unknown>;
  /** Worker processes (`server.workers` > 1): how many live, how many were replaced; absent with one process. */
  workersStatus?: () => Record<string, unknown>;
}

/**
 * `GET /status`: head, active revision, every served bundle (revision, ETag, size, build time) and the
 * last failure, so an operator sees at once when head and active differ, and why; the same per
 * environment under `environments` when any are configured; and whether the audit log's hash chain
 * held at start-up (`audit`), and where it breaks when it did not; each publishing sink's state
 * (`sinks`), which never changes what is served; and the fleet (`fleet`): per served bundle, how many
 * live agents enforce the served revision and how long it took 50%, 90% and 100% of them.
 */
export function createStatusRouter(deps: StatusRouterDeps): Router {
  const router = Router();
  router.get('/status', async (_req, res) => {
    const status = deps.activation.status();
    const bundles = bundlesOf(deps);
    const environments = deps.environmentsStatus ? await deps.environmentsStatus() : undefined;
    res.json({
      version: deps.version,
      branch: deps.branch,
      head: status.head ?? null,
      active: status.active ?? null,
      activatedAt: status.activatedAt ?? null,
      headDiffersFromActive: status.headDiffersFromActive,
      inProgress: status.inProgress ?? null,
      bundles,
      longPollWaiters: deps.waiters.size,
      lastActivation: status.lastSuccess ?? null,
      lastError: status.lastFailure ?? null,
      ...(deps.opaStatus ? { opa: deps.opaStatus() } : {}),
      ...(deps.gateStatus ? { gate: deps.gateStatus() } : {}),
      ...(deps.agentsStatus ? { agents: deps.agentsStatus() } : {}),
      ...(deps.auditStatus ? { audit: deps.auditStatus() } : {}),
      ...(deps.mirrorStatus ? { mirror: deps.mirrorStatus() } : {}),
      sinks: deps.sinksStatus ? deps.sinksStatus() : [],
      ...(deps.fleetStatus ? { fleet: deps.fleetStatus() } : {}),
      ...(deps.workersStatus ? { workers: deps.workersStatus() } : {}),
      ...(environments ? { environments } : {}),
    });
  });
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', (_req, res) => {
    const ready = deps.catalog.published !== undefined;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', active: deps.activation.status().active ?? null });
  });
  return router;
}

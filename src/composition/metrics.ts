import type { RequestHandler } from 'express';
import type { RegentConfig } from '../config/schema.js';
import type { AuditLog } from '../domain/audit/audit-log.js';
import type { MirrorService } from '../domain/mirror/mirror-service.js';
import { BundleCounters } from '../http/bundles/bundle-counters.js';
import type { DecisionBatchOutcome } from '../http/fleet/decision-logs-router.js';
import { createMetricsRouter } from '../http/metrics/metrics-router.js';
import { createRegentMetrics, type MetricsAgentStats, type MetricsSinkStats, type MetricsWorkerStats } from '../http/metrics/regent-metrics.js';
import { RequestCounters } from '../http/request-counters.js';
import type { OpaCli } from '../opa/opa-cli.js';
import type { DecisionLogStats } from '../storage/decisions/file-decision-log.js';
import type { BundleSets } from './bundle-sets.js';
import type { Fleet } from './fleet.js';

export interface Metrics {
  /** `GET /metrics`; undefined when `metrics.enabled` is false (404). */
  router?: RequestHandler;
  /** Express requests by route and status; undefined when metrics are off. */
  requestCounters?: RequestCounters;
  /** The bundle path's plain counters (always kept: two increments cost nothing measurable). */
  bundleCounters: BundleCounters;
  onDecisionBatch(outcome: DecisionBatchOutcome): void;
}

/** Prometheus metrics over Regent's own state (see `createRegentMetrics`), unless `metrics.enabled` is false. */
export function createMetrics(config: Readonly<RegentConfig>, deps: { sets: BundleSets; opa: OpaCli; audit: AuditLog; mirror: MirrorService | undefined; fleet: Fleet; decisions: { stats(): DecisionLogStats }; sinks?: () => readonly MetricsSinkStats[]; agents?: () => MetricsAgentStats; workers?: () => MetricsWorkerStats }): Metrics {
  const bundleCounters = new BundleCounters();
  if (!config.metrics.enabled) return { bundleCounters, onDecisionBatch: () => undefined };
  const requestCounters = new RequestCounters();
  const { sets, fleet } = deps;
  const metrics = createRegentMetrics({
    requests: requestCounters,
    bundles: bundleCounters,
    sets: [
      { environment: '', status: () => sets.activation.status(), waiters: sets.waiters, onEvent: (listener) => sets.activation.onEvent(listener) },
      ...sets.environments.map((environment) => ({
        environment: environment.name, status: () => environment.activation.status(), waiters: sets.environmentSets.get(environment.name)!.waiters,
        onEvent: (listener: Parameters<typeof environment.activation.onEvent>[0]) => environment.activation.onEvent(listener),
      })),
    ],
    opa: () => deps.opa.stats(),
    audit: () => deps.audit.chain(),
    mirror: deps.mirror ? () => deps.mirror!.status() : undefined,
    fleet: () => ({ ...fleet.registry.counts(), bundles: fleet.summary().bundles }),
    decisions: () => deps.decisions.stats(),
    sinks: deps.sinks,
    agents: deps.agents,
    workers: deps.workers,
  });
  return { router: createMetricsRouter({ registry: metrics.registry, token: config.metrics.token }), requestCounters, bundleCounters, onDecisionBatch: metrics.onDecisionBatch };
}

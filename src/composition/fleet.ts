import { join } from 'node:path';
import type { RegentConfig } from '../config/schema.js';
import type { AuditLog } from '../domain/audit/audit-log.js';
import { countBundleAs, type ServedSets } from '../domain/fleet/bundle-attribution.js';
import { ConvergenceTracker, type ConvergenceEvent } from '../domain/fleet/convergence-tracker.js';
import { FleetRegistry, type FleetSummary, type ServedBundle } from '../domain/fleet/fleet-registry.js';
import type { Logger } from '../domain/logger.js';
import { FileConvergenceStore } from '../storage/file-convergence-store.js';
import { FileFleetStore } from '../storage/file-fleet-store.js';

export interface Fleet {
  registry: FleetRegistry;
  tracker: ConvergenceTracker;
  /** What is served under a bundle name, its publication time kept across restarts (for the fleet view). */
  served(name: string): ServedBundle | undefined;
  summary(): FleetSummary;
  /** Starts looking at the fleet every second, recording `fleet.converged` / `fleet.stuck` in `audit`. */
  observe(audit: AuditLog): void;
  /** Stops the periodic snapshot and writes a last one. */
  close(): Promise<void>;
}

/** How often the convergence tracker looks at the fleet. */
const OBSERVE_INTERVAL_MS = 1000;

/**
 * The fleet registry, restored from `<dataDir>/fleet/agents.json` and written back when it changed; the
 * convergence tracker (`<dataDir>/fleet/convergence.json`), which, once `observe` is called, looks at the
 * fleet every second and records `fleet.converged` / `fleet.stuck` in the audit log. Opened before the
 * build pipeline (the gate asks which OPA versions the live agents run), so `sets` may answer nothing
 * until the bundle sets exist.
 */
export async function openFleet(config: Readonly<RegentConfig>, deps: { dataDir: string; sets: ServedSets; logger: Logger }): Promise<Fleet> {
  const { dataDir, sets, logger } = deps;
  const registry = FleetRegistry.create({
    maxAgents: config.fleet.maxAgents, maxStoredBytes: config.fleet.maxStoredBytes, staleAfterMs: config.fleet.staleAfterSeconds * 1000,
    countedAs: (bundle, partition, previous) => countBundleAs(sets, bundle, partition, previous),
  });
  const store = FileFleetStore.create(join(dataDir, 'fleet', 'agents.json'), logger);
  registry.restore(await store.load());
  const tracker = ConvergenceTracker.create({ stuckAfterMs: config.fleet.stuckAfterSeconds * 1000 });
  const trackerStore = FileConvergenceStore.create(join(dataDir, 'fleet', 'convergence.json'), logger);
  tracker.restore(await trackerStore.load());
  const served = (name: string): ServedBundle | undefined => {
    const current = sets.served(name);
    if (!current) return undefined;
    const first = tracker.firstPublished(name, current.revision);
    return first && first < current.publishedAt ? { revision: current.revision, publishedAt: first } : current;
  };
  const summary = (): FleetSummary => registry.summary(served);

  const save = async (): Promise<void> => {
    const { agents, changed } = registry.snapshot();
    if (changed) await store.save(agents);
    const convergence = tracker.snapshot();
    if (convergence.changed) await trackerStore.save(convergence.entries);
  };
  // One save at a time: an interval tick while a save is still writing waits for the next tick.
  let saving: Promise<void> | undefined;
  const saveLogged = async (): Promise<void> => {
    while (saving) await saving;
    saving = save().catch((error: unknown) => logger.error({ err: error }, 'cannot save the fleet snapshot')).finally(() => {
      saving = undefined;
    });
    await saving;
  };
  const timer = setInterval(() => {
    if (!saving) void saveLogged();
  }, config.fleet.snapshotIntervalMs);
  timer.unref();
  let observer: NodeJS.Timeout | undefined;
  return {
    registry,
    tracker,
    served,
    summary,
    observe(audit) {
      if (observer) return;
      observer = setInterval(() => {
        const events = tracker.observe(summary().bundles, (name) => served(name)?.publishedAt, (bundle, revision, limit) => registry.laggards(bundle, revision, limit));
        for (const event of events) recordConvergence(event, audit, logger);
      }, OBSERVE_INTERVAL_MS);
      observer.unref();
    },
    async close() {
      clearInterval(timer);
      clearInterval(observer);
      await saveLogged();
    },
  };
}

/** `fleet.converged` / `fleet.stuck` in the audit log (and the log), with the times and the agents behind. */
function recordConvergence(event: ConvergenceEvent, audit: AuditLog, logger: Logger): void {
  const { convergence } = event;
  const slash = convergence.bundle.indexOf('/');
  const environment = slash > 0 ? convergence.bundle.slice(0, slash) : undefined;
  const seconds = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  const times = `50% in ${seconds(convergence.p50Ms)}, 90% in ${seconds(convergence.p90Ms)}, 100% in ${seconds(convergence.p100Ms)}`;
  const base = { subject: 'system', revision: convergence.revision, ...(environment ? { environment } : {}), paths: [convergence.bundle] };
  if (event.type === 'converged') {
    logger.info({ bundle: convergence.bundle, revision: convergence.revision, agents: convergence.agents, p50Ms: convergence.p50Ms, p90Ms: convergence.p90Ms, p100Ms: convergence.p100Ms }, 'fleet converged');
    audit.append({ ...base, action: 'fleet.converged', outcome: 'success', detail: `${convergence.bundle}: all ${convergence.agents} live agents enforce it; ${times}` })
      .catch((error: unknown) => logger.error({ err: error }, 'could not record fleet.converged in the audit log'));
    return;
  }
  const names = event.laggards.map((agent) => `${agent.agentId} (${agent.activeRevision ?? 'no revision'}${agent.code ? `; ${agent.code}: ${(agent.message ?? '').slice(0, 120)}` : ''})`);
  logger.warn({ bundle: convergence.bundle, revision: convergence.revision, agents: convergence.agents, laggards: event.laggards }, 'fleet stuck: not every live agent enforces the served revision');
  audit.append({
    ...base, action: 'fleet.stuck', outcome: 'failed', reason: 'not_converged',
    detail: `${convergence.bundle}: not on every live agent after ${seconds(Date.parse(convergence.stuckAt ?? '') - Date.parse(convergence.publishedAt))} (${times}); behind: ${names.join(', ')}${event.moreLaggards ? ', and more' : ''}`.slice(0, 4000),
  }).catch((error: unknown) => logger.error({ err: error }, 'could not record fleet.stuck in the audit log'));
}

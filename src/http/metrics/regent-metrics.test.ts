import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, test } from 'vitest';
import { silentLogger } from '../../../test/helpers/git-repo.js';
import { sample } from '../../../test/helpers/prometheus.js';
import type { ActivationEvent, ActivationStatus } from '../../domain/activation/activation-pipeline.js';
import type { MirrorStatus } from '../../domain/mirror/mirror-service.js';
import { BundleCounters } from '../bundles/bundle-counters.js';
import { LongPollWaiters } from '../bundles/long-poll-waiters.js';
import { RequestCounters } from '../request-counters.js';
import { createRegentMetrics, type MetricsBundleSet, type MetricsSinkStats } from './regent-metrics.js';

const R1 = 'a'.repeat(40);
const R2 = 'b'.repeat(40);

function mirrorStatus(overrides: Partial<MirrorStatus>): MirrorStatus {
  return {
    url: 'https://git.example/acme/policies.git', branch: 'main', insecureHttp: false, state: 'fresh', lastOutcome: 'up_to_date', remoteTip: R1,
    lastAttemptAt: null, lastSuccessAt: '2026-12-01T10:00:00.000Z', staleSince: null, lastError: null, diverged: null,
    syncs: { started: 7, inFlight: false, queued: false, consecutiveFailures: 0, nextRetryAt: null, requests: { start: 1, cron: 6, webhook: 0, admin: 0, retry: 0 } },
    ...overrides,
  };
}

describe('createRegentMetrics', () => {
  test('reads per-environment revisions, held polls, the mirror, the fleet and the decision store when scraped', async () => {
    const listeners: Array<(event: ActivationEvent) => void> = [];
    const set = (environment: string, status: ActivationStatus): MetricsBundleSet => ({
      environment, status: () => status, waiters: LongPollWaiters.create({ batchSize: 10, logger: silentLogger() }), onEvent: (listener) => listeners.push(listener),
    });
    const prod = set('prod', { head: R2, active: R1, headDiffersFromActive: true });
    const cancel = prod.waiters.hold({ bundle: 'rbac', etag: '"x"', release: () => undefined, expire: () => undefined }, 60_000);
    let mirror = mirrorStatus({});
    const requests = new RequestCounters();
    requests.count('/status', 200, 512);
    requests.count('(unmatched)', 404, 100);
    const bundles = new BundleCounters();
    bundles.notModified = 41;
    bundles.count(200, 2300);
    bundles.count(404, 90);
    const metrics = createRegentMetrics({
      requests, bundles,
      sets: [set('', { head: R1, active: R1, headDiffersFromActive: false }), prod],
      opa: () => ({ maxConcurrency: 2, running: 1, runningByPriority: { activation: 1, write: 0 }, queued: { activation: 0, write: 3 }, peakRunning: 2, started: 9, refusedBusy: 1, killed: { timeout: 2 } }),
      audit: () => ({ chain: 'broken', brokenAt: { file: 'audit/audit.jsonl', line: 3, seq: 3, reason: 'edited' } }),
      mirror: () => mirror,
      fleet: () => ({ live: 3, stale: 1, bundles: [{ name: 'prod/rbac', servedRevision: R1, agents: 3, onServedRevision: 2, withErrors: 1, revisions: {}, convergence: { p50Ms: 1500 } }, { name: 'other', agents: 1, onServedRevision: 0, withErrors: 0, revisions: {} }] }),
      decisions: () => ({ segments: 2, bytes: 4096, records: 10, oldestReceivedMs: 1_764_583_200_000 }),
    });
    listeners[1]!({ type: 'rejected', failure: { revision: R2, step: 'gate', code: 'gate_failed', verdict: true, message: 'x', at: '' } });
    metrics.onDecisionBatch({ code: 'accepted', events: 10, compressedBytes: 300, bytes: 4000 });
    metrics.onDecisionBatch({ code: 'decompressed_body_too_large', events: 0, compressedBytes: 0, bytes: 0 });
    const families = parsePrometheusTextFormat(await metrics.registry.metrics());

    expect(sample(families, 'regent_revision_info', { environment: 'prod', role: 'head', revision: R2 })).toBe(1);
    expect(sample(families, 'regent_head_active_equal', { environment: 'prod' })).toBe(0);
    expect(sample(families, 'regent_head_active_equal', { environment: '' })).toBe(1);
    expect(sample(families, 'regent_long_polls_held', { environment: 'prod' })).toBe(1);
    expect(sample(families, 'regent_activation_failures_total', { environment: 'prod', step: 'gate', code: 'gate_failed' })).toBe(1);
    expect(sample(families, 'regent_http_requests_total', { route: '/bundles/:name', status: '304' })).toBe(41);
    expect(sample(families, 'regent_http_requests_total', { route: '/bundles/:name', status: '404' })).toBe(1);
    expect(sample(families, 'regent_http_requests_total', { route: '(unmatched)', status: '404' })).toBe(1);
    expect(sample(families, 'regent_http_response_bytes_total', { route: '/bundles/:name' })).toBe(2300);
    expect(sample(families, 'regent_opa_queued', { priority: 'write' })).toBe(3);
    expect(sample(families, 'regent_opa_killed_total', { reason: 'timeout' })).toBe(2);
    expect(sample(families, 'regent_audit_chain_ok')).toBe(0);
    expect(sample(families, 'regent_remote_sync_state', { state: 'fresh' })).toBe(1);
    expect(sample(families, 'regent_remote_sync_state', { state: 'stale' })).toBe(0);
    expect(sample(families, 'regent_remote_stale_seconds')).toBe(0);
    expect(sample(families, 'regent_fleet_agents', { state: 'stale' })).toBe(1);
    expect(sample(families, 'regent_fleet_bundle_agents_on_served_revision', { bundle: 'prod/rbac' })).toBe(2);
    expect(sample(families, 'regent_fleet_bundle_agents', { bundle: 'other' })).toBeUndefined();
    expect(sample(families, 'regent_fleet_convergence_seconds', { bundle: 'prod/rbac', fraction: '0.5' })).toBe(1.5);
    expect(sample(families, 'regent_fleet_convergence_seconds', { bundle: 'prod/rbac', fraction: '1' })).toBeUndefined();
    expect(sample(families, 'regent_decision_batches_total', { outcome: 'decompressed_body_too_large' })).toBe(1);
    expect(sample(families, 'regent_decision_events_total')).toBe(10);
    expect(sample(families, 'regent_decision_log_oldest_timestamp_seconds')).toBe(1_764_583_200);

    // Staleness grows with the time since syncs started failing.
    mirror = mirrorStatus({ state: 'stale', staleSince: new Date(Date.now() - 90_000).toISOString(), syncs: { ...mirror.syncs, consecutiveFailures: 4 } });
    const later = parsePrometheusTextFormat(await metrics.registry.metrics());
    expect(sample(later, 'regent_remote_sync_state', { state: 'stale' })).toBe(1);
    expect(sample(later, 'regent_remote_stale_seconds')).toBeGreaterThanOrEqual(90);
    expect(sample(later, 'regent_remote_consecutive_failures')).toBe(4);
    cancel();
  });

  test('reads each publishing sink, agent access and the worker processes when scraped', async () => {
    let sinks: MetricsSinkStats[] = [{ name: 'bucket', kind: 's3', bundlesPublished: 4, bytesPublished: 9000, failures: 1, attempts: 0, pendingSets: 0, pendingSeconds: 0, lastPublishSeconds: 0.25 }];
    const metrics = createRegentMetrics({
      requests: new RequestCounters(), bundles: new BundleCounters(), sets: [],
      opa: () => ({ maxConcurrency: 2, running: 0, runningByPriority: {}, queued: {}, peakRunning: 0, started: 0, refusedBusy: 0, killed: {} }),
      audit: () => ({ chain: 'ok', brokenAt: null }),
      fleet: () => ({ live: 0, stale: 0, bundles: [] }),
      decisions: () => ({ segments: 0, bytes: 0, records: 0, oldestReceivedMs: null }),
      sinks: () => sinks,
      agents: () => ({ accepted: 12, refused: 3, heldPollsRefused: 2, refetchesHeld: 5 }),
      workers: () => ({ configured: 3, live: 2, longPollWaiters: 40, replaced: 1 }),
    });
    const first = parsePrometheusTextFormat(await metrics.registry.metrics());
    expect(sample(first, 'regent_sink_bundles_published_total', { sink: 'bucket', kind: 's3' })).toBe(4);
    expect(sample(first, 'regent_sink_failures_total', { sink: 'bucket', kind: 's3' })).toBe(1);
    expect(sample(first, 'regent_sink_pending_sets', { sink: 'bucket', kind: 's3' })).toBe(0);
    expect(sample(first, 'regent_sink_last_publish_seconds', { sink: 'bucket', kind: 's3' })).toBe(0.25);
    expect(sample(first, 'regent_agent_auth_total', { outcome: 'refused' })).toBe(3);
    expect(sample(first, 'regent_agent_held_polls_refused_total')).toBe(2);
    expect(sample(first, 'regent_agent_refetches_held_total')).toBe(5);
    expect(sample(first, 'regent_workers', { state: 'configured' })).toBe(3);
    expect(sample(first, 'regent_workers', { state: 'live' })).toBe(2);
    expect(sample(first, 'regent_worker_long_polls_held')).toBe(40);
    expect(sample(first, 'regent_workers_replaced_total')).toBe(1);

    // A sink that is down: behind, failing in a row, no publish time while it has none.
    sinks = [{ name: 'bucket', kind: 's3', bundlesPublished: 4, bytesPublished: 9000, failures: 4, attempts: 3, pendingSets: 1, pendingSeconds: 42, }];
    const later = parsePrometheusTextFormat(await metrics.registry.metrics());
    expect(sample(later, 'regent_sink_consecutive_failures', { sink: 'bucket', kind: 's3' })).toBe(3);
    expect(sample(later, 'regent_sink_pending_seconds', { sink: 'bucket', kind: 's3' })).toBe(42);
    expect(sample(later, 'regent_sink_last_publish_seconds', { sink: 'bucket', kind: 's3' })).toBeUndefined();
  });
});

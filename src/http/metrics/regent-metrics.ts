import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ActivationEvent, ActivationStatus } from '../../domain/activation/activation-pipeline.js';
import type { AuditChainState } from '../../domain/audit/audit-log.js';
import type { BundleConvergence } from '../../domain/fleet/fleet-registry.js';
import type { MirrorStatus } from '../../domain/mirror/mirror-service.js';
import type { BundleCounters } from '../bundles/bundle-counters.js';
import type { LongPollWaiters } from '../bundles/long-poll-waiters.js';
import type { DecisionBatchOutcome } from '../fleet/decision-logs-router.js';
import type { RequestCounters } from '../request-counters.js';
import type { SinkStats } from '../../domain/publishing/sink-publisher.js';

/** One bundle set as metrics see it: the tracked branch's (`environment: ''`) or an environment's. */
export interface MetricsBundleSet {
  environment: string;
  status(): ActivationStatus;
  waiters: LongPollWaiters;
  onEvent(listener: (event: ActivationEvent) => void): void;
}

/** The OPA runner's counts (`OpaCli.stats()`). */
export interface MetricsOpaStats {
  maxConcurrency: number;
  running: number;
  runningByPriority: Record<string, number>;
  queued: Record<string, number>;
  peakRunning: number;
  started: number;
  refusedBusy: number;
  killed: Record<string, number>;
}

/** The decision-log store's counts. */
export interface MetricsDecisionLogStats {
  segments: number;
  bytes: number;
  records: number;
  oldestReceivedMs: number | null;
}

/** Everything `/metrics` reads when scraped: state that exists anyway, read, never copied on the hot path. */
export interface MetricsSources {
  requests: RequestCounters;
  bundles: BundleCounters;
  sets: readonly MetricsBundleSet[];
  opa: () => MetricsOpaStats;
  audit: () => AuditChainState;
  mirror?: () => MirrorStatus;
  fleet: () => { live: number; stale: number; bundles: readonly BundleConvergence[] };
  decisions: () => MetricsDecisionLogStats;
  /** Publishing sinks (S3, OCI): what each wrote, its failures, what it is behind. */
  sinks?: () => readonly MetricsSinkStats[];
  /** Agent credentials: tokens accepted and refused, held polls refused, re-fetches held. */
  agents?: () => MetricsAgentStats;
  /** Worker processes (`server.workers` > 1): live, replaced, the long polls they hold. */
  workers?: () => MetricsWorkerStats;
}

export interface MetricsWorkerStats {
  configured: number;
  live: number;
  longPollWaiters: number;
  replaced: number;
}

/** What `/metrics` reads of each publishing sink (the publisher's own counters). */
export type MetricsSinkStats = Pick<SinkStats, 'name' | 'kind' | 'bundlesPublished' | 'bytesPublished' | 'failures' | 'attempts' | 'pendingSets' | 'pendingSeconds' | 'lastPublishSeconds'>;

export interface MetricsAgentStats {
  accepted: number;
  refused: number;
  heldPollsRefused: number;
  refetchesHeld: number;
}

export interface RegentMetrics {
  registry: Registry;
  /** Counts one `POST /logs` (accepted or refused). */
  onDecisionBatch(outcome: DecisionBatchOutcome): void;
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STEPS = ['snapshot', 'gate', 'build', 'publish', 'total'] as const;
const MIRROR_STATES = ['initializing', 'fresh', 'stale', 'diverged', 'missing_ref'] as const;

/**
 * Regent's Prometheus metrics, all named `regent_*` (README, "Metrics"). Almost every one is read from
 * existing state when `/metrics` is scraped (collect-on-scrape): served and head revisions, held long polls,
 * the OPA runner, the audit chain, the mirror, the fleet, the decision-log store, and the plain counters
 * the request paths keep. Only activation timings are observed as they happen (histograms).
 */
export function createRegentMetrics(sources: MetricsSources): RegentMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'regent_' });

  new Counter({
    name: 'regent_http_requests_total', help: 'HTTP requests answered, by route template and status (bundles under /bundles/:name)', labelNames: ['route', 'status'] as const, registers,
    collect() {
      this.reset();
      for (const entry of sources.requests.entries()) this.inc({ route: entry.route, status: String(entry.status) }, entry.requests);
      const { bundles } = sources;
      if (bundles.ok > 0) this.inc({ route: '/bundles/:name', status: '200' }, bundles.ok);
      if (bundles.notModified > 0) this.inc({ route: '/bundles/:name', status: '304' }, bundles.notModified);
      for (const [status, count] of bundles.others) this.inc({ route: '/bundles/:name', status: String(status) }, count);
    },
  });
  new Counter({
    name: 'regent_http_response_bytes_total', help: 'Body bytes sent, by route template (bundles: the tarballs of 200 answers)', labelNames: ['route'] as const, registers,
    collect() {
      this.reset();
      const byRoute = new Map<string, number>();
      for (const entry of sources.requests.entries()) byRoute.set(entry.route, (byRoute.get(entry.route) ?? 0) + entry.bytes);
      byRoute.set('/bundles/:name', sources.bundles.bytesSent);
      for (const [route, bytes] of byRoute) if (bytes > 0) this.inc({ route }, bytes);
    },
  });
  new Counter({
    name: 'regent_bundle_responses_total', help: 'Bundle answers: 200 (bundle sent) and 304 (unchanged)', labelNames: ['status'] as const, registers,
    collect() {
      this.reset();
      this.inc({ status: '200' }, sources.bundles.ok);
      this.inc({ status: '304' }, sources.bundles.notModified);
    },
  });
  new Gauge({
    name: 'regent_long_polls_held', help: 'Long-poll requests held now, per bundle set (environment "" = the tracked branch)', labelNames: ['environment'] as const, registers,
    collect() {
      for (const set of sources.sets) this.set({ environment: set.environment }, set.waiters.size);
    },
  });
  new Counter({
    name: 'regent_long_poll_outcomes_total', help: 'Held long polls by how they ended: released (a new bundle), expired (304 after the wait), cancelled (client gone)', labelNames: ['environment', 'outcome'] as const, registers,
    collect() {
      this.reset();
      for (const set of sources.sets) {
        const { released, expired, cancelled } = set.waiters.outcomes;
        this.inc({ environment: set.environment, outcome: 'released' }, released);
        this.inc({ environment: set.environment, outcome: 'expired' }, expired);
        this.inc({ environment: set.environment, outcome: 'cancelled' }, cancelled);
      }
    },
  });

  const steps = new Histogram({ name: 'regent_activation_step_seconds', help: 'Duration of each activation step of a revision that was activated (snapshot, gate = OPA check + test, build = build + sign + self-verify, publish, total)', labelNames: ['environment', 'step'] as const, buckets: DURATION_BUCKETS, registers });
  const activations = new Counter({ name: 'regent_activations_total', help: 'Revisions activated or rejected', labelNames: ['environment', 'outcome'] as const, registers });
  const failures = new Counter({ name: 'regent_activation_failures_total', help: 'Revisions not activated, by step and error code (gate_failed, gate_unavailable, roots_overlap, ...)', labelNames: ['environment', 'step', 'code'] as const, registers });
  for (const set of sources.sets) {
    const environment = set.environment;
    set.onEvent((event) => {
      if (event.type === 'activated') {
        activations.inc({ environment, outcome: 'activated' });
        for (const step of STEPS) steps.observe({ environment, step }, event.result.timings[`${step}Ms`] / 1000);
      } else {
        activations.inc({ environment, outcome: 'rejected' });
        failures.inc({ environment, step: event.failure.step, code: event.failure.code });
      }
    });
  }
  new Gauge({
    name: 'regent_revision_info', help: 'The head revision (what should be active) and the active one (served), per bundle set; value 1', labelNames: ['environment', 'role', 'revision'] as const, registers,
    collect() {
      this.reset();
      for (const set of sources.sets) {
        const status = set.status();
        if (status.head) this.set({ environment: set.environment, role: 'head', revision: status.head }, 1);
        if (status.active) this.set({ environment: set.environment, role: 'active', revision: status.active }, 1);
      }
    },
  });
  new Gauge({
    name: 'regent_head_active_equal', help: '1 when the active revision is head, 0 when they differ (head failing or still activating)', labelNames: ['environment'] as const, registers,
    collect() {
      for (const set of sources.sets) this.set({ environment: set.environment }, set.status().headDiffersFromActive ? 0 : 1);
    },
  });
  new Gauge({
    name: 'regent_active_revision_timestamp_seconds', help: 'When the active revision was published (Unix time)', labelNames: ['environment'] as const, registers,
    collect() {
      this.reset();
      for (const set of sources.sets) {
        const at = set.status().activatedAt;
        if (at) this.set({ environment: set.environment }, Date.parse(at) / 1000);
      }
    },
  });

  registerOpaMetrics(registers, sources.opa);
  new Gauge({
    name: 'regent_audit_chain_ok', help: '1 when the audit log hash chain held at start-up, 0 when it is broken (admin writes refused or start-up refused)', registers,
    collect() {
      this.set(sources.audit().chain === 'ok' ? 1 : 0);
    },
  });
  if (sources.mirror) registerMirrorMetrics(registers, sources.mirror);
  registerFleetMetrics(registers, sources.fleet);
  const decisions = registerDecisionMetrics(registers, sources.decisions);
  if (sources.sinks) registerSinkMetrics(registers, sources.sinks);
  if (sources.agents) registerAgentMetrics(registers, sources.agents);
  if (sources.workers) registerWorkerMetrics(registers, sources.workers);
  return { registry, onDecisionBatch: decisions };
}

function registerSinkMetrics(registers: Registry[], sinks: () => readonly MetricsSinkStats[]): void {
  const labels = (sink: MetricsSinkStats): { sink: string; kind: string } => ({ sink: sink.name, kind: sink.kind });
  const counter = (name: string, help: string, value: (sink: MetricsSinkStats) => number): void => {
    new Counter({ name, help, labelNames: ['sink', 'kind'] as const, registers, collect() {
      this.reset();
      for (const sink of sinks()) this.inc(labels(sink), value(sink));
    } });
  };
  const gauge = (name: string, help: string, value: (sink: MetricsSinkStats) => number | undefined): void => {
    new Gauge({ name, help, labelNames: ['sink', 'kind'] as const, registers, collect() {
      this.reset();
      for (const sink of sinks()) {
        const figure = value(sink);
        if (figure !== undefined) this.set(labels(sink), figure);
      }
    } });
  };
  counter('regent_sink_bundles_published_total', 'Bundles a publishing sink wrote (revision object and latest)', (sink) => sink.bundlesPublished);
  counter('regent_sink_published_bytes_total', 'Bytes a publishing sink wrote', (sink) => sink.bytesPublished);
  counter('regent_sink_failures_total', 'Failed publish attempts of a sink', (sink) => sink.failures);
  gauge('regent_sink_consecutive_failures', 'Failed publish attempts of a sink in a row (0 after a success)', (sink) => sink.attempts);
  gauge('regent_sink_pending_sets', 'Bundle sets a sink is behind what is served', (sink) => sink.pendingSets);
  gauge('regent_sink_pending_seconds', 'Seconds the oldest pending set of a sink has been behind (0 when none)', (sink) => sink.pendingSeconds);
  gauge('regent_sink_last_publish_seconds', 'How long the last completed publish of a sink took', (sink) => sink.lastPublishSeconds);
}

function registerWorkerMetrics(registers: Registry[], workers: () => MetricsWorkerStats): void {
  new Gauge({ name: 'regent_workers', help: 'Worker processes serving /bundles/: configured, and live (listening) now', labelNames: ['state'] as const, registers, collect() {
    const { configured, live } = workers();
    this.set({ state: 'configured' }, configured);
    this.set({ state: 'live' }, live);
  } });
  new Gauge({ name: 'regent_worker_long_polls_held', help: 'Long polls the worker processes hold (as they last reported, each second)', registers, collect() {
    this.set(workers().longPollWaiters);
  } });
  new Counter({ name: 'regent_workers_replaced_total', help: 'Worker processes replaced (died, or too slow to take a revision in)', registers, collect() {
    this.reset();
    this.inc(workers().replaced);
  } });
}

function registerAgentMetrics(registers: Registry[], agents: () => MetricsAgentStats): void {
  new Counter({ name: 'regent_agent_auth_total', help: 'Agent credentials checked, accepted or refused', labelNames: ['outcome'] as const, registers, collect() {
    this.reset();
    const { accepted, refused } = agents();
    this.inc({ outcome: 'accepted' }, accepted);
    this.inc({ outcome: 'refused' }, refused);
  } });
  new Counter({ name: 'regent_agent_held_polls_refused_total', help: 'Long polls refused with 429 too_many_held_polls (agents.maxHeldPollsPerAgent)', registers, collect() {
    this.reset();
    this.inc(agents().heldPollsRefused);
  } });
  new Counter({ name: 'regent_agent_refetches_held_total', help: 'Re-downloads of a just-sent revision held back (agents that fail to activate it)', registers, collect() {
    this.reset();
    this.inc(agents().refetchesHeld);
  } });
}

function registerOpaMetrics(registers: Registry[], opa: () => MetricsOpaStats): void {
  new Gauge({ name: 'regent_opa_processes', help: 'opa processes running now, by priority', labelNames: ['priority'] as const, registers, collect() {
    for (const [priority, count] of Object.entries(opa().runningByPriority)) this.set({ priority }, count);
  } });
  new Gauge({ name: 'regent_opa_queued', help: 'Requests waiting for an opa process, by priority', labelNames: ['priority'] as const, registers, collect() {
    for (const [priority, count] of Object.entries(opa().queued)) this.set({ priority }, count);
  } });
  new Gauge({ name: 'regent_opa_max_concurrency', help: 'opa processes allowed at once (opa.maxConcurrency)', registers, collect() {
    this.set(opa().maxConcurrency);
  } });
  new Gauge({ name: 'regent_opa_peak_processes', help: 'Most opa processes running at once since start', registers, collect() {
    this.set(opa().peakRunning);
  } });
  new Counter({ name: 'regent_opa_processes_started_total', help: 'opa processes started', registers, collect() {
    this.reset();
    this.inc(opa().started);
  } });
  new Counter({ name: 'regent_opa_refused_total', help: 'Requests refused with opa_busy (queue full or no slot within the budget)', registers, collect() {
    this.reset();
    this.inc(opa().refusedBusy);
  } });
  new Counter({ name: 'regent_opa_killed_total', help: 'opa processes killed, by reason', labelNames: ['reason'] as const, registers, collect() {
    this.reset();
    for (const [reason, count] of Object.entries(opa().killed)) this.inc({ reason }, count);
  } });
}

function registerMirrorMetrics(registers: Registry[], mirror: () => MirrorStatus): void {
  new Gauge({ name: 'regent_remote_sync_state', help: 'Remote mode: 1 for the mirror state it is in (fresh, stale, diverged, missing_ref, initializing)', labelNames: ['state'] as const, registers, collect() {
    const { state } = mirror();
    for (const candidate of MIRROR_STATES) this.set({ state: candidate }, candidate === state ? 1 : 0);
  } });
  new Gauge({ name: 'regent_remote_stale_seconds', help: 'Remote mode: seconds since syncs started failing (0 while fresh)', registers, collect() {
    const { staleSince } = mirror();
    this.set(staleSince ? Math.max(0, (Date.now() - Date.parse(staleSince)) / 1000) : 0);
  } });
  new Gauge({ name: 'regent_remote_last_success_timestamp_seconds', help: 'Remote mode: when the last sync succeeded (Unix time; 0 never)', registers, collect() {
    const { lastSuccessAt } = mirror();
    this.set(lastSuccessAt ? Date.parse(lastSuccessAt) / 1000 : 0);
  } });
  new Gauge({ name: 'regent_remote_consecutive_failures', help: 'Remote mode: failed syncs since the last success', registers, collect() {
    this.set(mirror().syncs.consecutiveFailures);
  } });
  new Counter({ name: 'regent_remote_syncs_total', help: 'Remote mode: syncs started', registers, collect() {
    this.reset();
    this.inc(mirror().syncs.started);
  } });
}

function registerFleetMetrics(registers: Registry[], fleet: MetricsSources['fleet']): void {
  new Gauge({ name: 'regent_fleet_agents', help: 'OPA agents remembered, live (reported within fleet.staleAfterSeconds) or stale', labelNames: ['state'] as const, registers, collect() {
    const { live, stale } = fleet();
    this.set({ state: 'live' }, live);
    this.set({ state: 'stale' }, stale);
  } });
  const perBundle = (name: string, help: string, value: (bundle: BundleConvergence) => number): void => {
    new Gauge({ name, help, labelNames: ['bundle'] as const, registers, collect() {
      this.reset();
      for (const bundle of fleet().bundles) if (bundle.servedRevision !== undefined) this.set({ bundle: bundle.name }, value(bundle));
    } });
  };
  perBundle('regent_fleet_bundle_agents', 'Live agents counted against a served bundle (`prod/rbac` for an environment\'s)', (bundle) => bundle.agents);
  perBundle('regent_fleet_bundle_agents_on_served_revision', 'Of those, agents enforcing the revision Regent serves', (bundle) => bundle.onServedRevision);
  perBundle('regent_fleet_bundle_agents_with_errors', 'Of those, agents whose last attempt failed', (bundle) => bundle.withErrors);
  new Gauge({ name: 'regent_fleet_convergence_seconds', help: 'Seconds from publishing the served revision until 50%, 90% and 100% of live agents enforced it (present once reached)', labelNames: ['bundle', 'fraction'] as const, registers, collect() {
    this.reset();
    for (const bundle of fleet().bundles) {
      const times = bundle.convergence;
      if (!times) continue;
      if (times.p50Ms !== undefined) this.set({ bundle: bundle.name, fraction: '0.5' }, times.p50Ms / 1000);
      if (times.p90Ms !== undefined) this.set({ bundle: bundle.name, fraction: '0.9' }, times.p90Ms / 1000);
      if (times.p100Ms !== undefined) this.set({ bundle: bundle.name, fraction: '1' }, times.p100Ms / 1000);
    }
  } });
}

function registerDecisionMetrics(registers: Registry[], stats: () => MetricsDecisionLogStats): (outcome: DecisionBatchOutcome) => void {
  const batches = new Counter({ name: 'regent_decision_batches_total', help: 'Decision-log batches (POST /logs): accepted, or refused by error code', labelNames: ['outcome'] as const, registers });
  const events = new Counter({ name: 'regent_decision_events_total', help: 'Decisions stored', registers });
  const bytes = new Counter({ name: 'regent_decision_batch_bytes_total', help: 'Bytes of accepted batches, as sent (compressed) and inflated', labelNames: ['form'] as const, registers });
  new Gauge({ name: 'regent_decision_log_bytes', help: 'Bytes of decisions kept (all segments)', registers, collect() {
    this.set(stats().bytes);
  } });
  new Gauge({ name: 'regent_decision_log_segments', help: 'Segment files kept', registers, collect() {
    this.set(stats().segments);
  } });
  new Gauge({ name: 'regent_decision_log_records', help: 'Decisions kept', registers, collect() {
    this.set(stats().records);
  } });
  new Gauge({ name: 'regent_decision_log_oldest_timestamp_seconds', help: 'When the oldest decision kept was received (Unix time; 0 when none is)', registers, collect() {
    const oldest = stats().oldestReceivedMs;
    this.set(oldest === null ? 0 : oldest / 1000);
  } });
  return (outcome) => {
    batches.inc({ outcome: outcome.code });
    if (outcome.code !== 'accepted') return;
    events.inc(outcome.events);
    bytes.inc({ form: 'compressed' }, outcome.compressedBytes);
    bytes.inc({ form: 'inflated' }, outcome.bytes);
  };
}

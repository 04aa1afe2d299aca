import { z } from 'zod';
import { InputError } from '../errors.js';

/** One bundle as an agent reported it. */
export interface ReportedBundle {
  name: string;
  /** The revision the agent is enforcing (OPA's `active_revision`), when it has activated one. */
  activeRevision?: string;
  lastSuccessfulDownload?: string;
  lastSuccessfulActivation?: string;
  lastRequest?: string;
  /** OPA's error code and message for the last attempt (`bundle_error`, ...), when it failed. */
  code?: string;
  message?: string;
  httpCode?: number;
}

/** The parts of an OPA status report (opa:v1/plugins/status `UpdateRequestV1`) Regent keeps. */
export interface AgentStatusReport {
  /** `labels.id`: OPA's instance id (random per process unless configured). */
  agentId: string;
  /** String labels, including `version` (the OPA version) and any the operator configured. */
  labels: Record<string, string>;
  bundles: ReportedBundle[];
  /** Plugin name → state (`OK`, `NOT_READY`, `ERROR`, `WARN`). */
  plugins: Record<string, string>;
}

// Small on purpose: reports are unauthenticated claims unless a report token is set, and each is kept
// per agent. An agent worst case is about 8 KiB in memory (16 bundles, 16 labels, short strings).
const MAX_LABELS = 16;
const MAX_BUNDLES = 16;
const MAX_PLUGINS = 16;
const GO_ZERO_TIME = /^0001-01-01T00:00:00/;

const text = (max: number) => z.string().max(max);
const time = z.string().max(64).optional().transform((value) => (value === undefined || GO_ZERO_TIME.test(value) ? undefined : value));

const bundleSchema = z.object({
  name: text(128).optional(),
  active_revision: text(128).optional(),
  last_successful_download: time,
  last_successful_activation: time,
  last_request: time,
  code: text(64).optional(),
  message: z.string().optional().transform((value) => value?.slice(0, 200)),
  http_code: z.number().int().optional(),
});

const reportSchema = z.object({
  labels: z.record(z.string().max(64), z.unknown()),
  bundles: z.record(z.string().max(128), bundleSchema).optional(),
  plugins: z.record(z.string().max(64), z.object({ state: text(32).optional() })).optional(),
});

/**
 * Reads an OPA status report (the JSON body of `POST /status`). Only what the fleet view needs is kept:
 * labels with string values, per-bundle revision, times and last error, plugin states; metrics (tens of
 * kilobytes of Prometheus text per report) are dropped. `InputError` `invalid_status_report` naming the
 * field when it is not an OPA status report: no `labels.id`, wrong types, too many entries.
 */
export function parseAgentStatusReport(body: unknown): AgentStatusReport {
  const parsed = reportSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'body';
    throw new InputError('invalid_status_report', `not an OPA status report: ${field}: ${issue.message}`, { field });
  }
  const { labels, bundles = {}, plugins = {} } = parsed.data;
  const agentId = labels.id;
  if (typeof agentId !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(agentId)) {
    throw new InputError('invalid_status_report', 'labels.id must be the OPA instance id (letters, digits, . _ : -, at most 128)', { field: 'labels.id' });
  }
  if (Object.keys(labels).length > MAX_LABELS) throw new InputError('invalid_status_report', `at most ${MAX_LABELS} labels`, { field: 'labels' });
  if (Object.keys(bundles).length > MAX_BUNDLES) throw new InputError('invalid_status_report', `at most ${MAX_BUNDLES} bundles`, { field: 'bundles' });
  if (Object.keys(plugins).length > MAX_PLUGINS) throw new InputError('invalid_status_report', `at most ${MAX_PLUGINS} plugins`, { field: 'plugins' });
  return {
    agentId,
    labels: Object.fromEntries(Object.entries(labels).filter((entry): entry is [string, string] => typeof entry[1] === 'string').map(([key, value]) => [key, value.slice(0, 128)])),
    bundles: Object.entries(bundles).map(([name, bundle]) => ({
      name,
      activeRevision: bundle.active_revision || undefined,
      lastSuccessfulDownload: bundle.last_successful_download,
      lastSuccessfulActivation: bundle.last_successful_activation,
      lastRequest: bundle.last_request,
      code: bundle.code || undefined,
      message: bundle.message || undefined,
      httpCode: bundle.http_code,
    })),
    plugins: Object.fromEntries(Object.entries(plugins).flatMap(([name, plugin]) => (plugin.state ? [[name, plugin.state]] : []))),
  };
}

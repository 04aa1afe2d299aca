import { z } from 'zod';
import { dictionary } from '../dictionary.js';
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
  /**
   * The served bundle this one is counted against (`rbac`, or `prod/rbac` for environment `prod`'s), when
   * Regent told it apart from the name the agent reported (see `countedAs` of the registry).
   */
  countedAs?: string;
}

/** The parts of an OPA status report (opa:v1/plugins/status `UpdateRequestV1`) Regent keeps. */
export interface AgentStatusReport {
  /** `labels.id`: OPA's instance id (random per process unless configured). */
  agentId: string;
  /** String labels, including `version` (the OPA version) and any the operator configured. A null-prototype object. */
  labels: Record<string, string>;
  bundles: ReportedBundle[];
  /** Plugin name → state (`OK`, `NOT_READY`, `ERROR`, `WARN`). A null-prototype object. */
  plugins: Record<string, string>;
  /** The partition the agent reports to (`POST /status/<partition>`: OPA's `status.partition_name`). */
  partition?: string;
}

// Small on purpose: reports are unauthenticated claims unless a report token is set, and each is kept
// per agent. The registry also bounds all agents together in bytes (`fleet.maxStoredBytes`).
export const MAX_LABELS = 16;
export const MAX_BUNDLES = 16;
export const MAX_PLUGINS = 16;
export const AGENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
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

const pluginSchema = z.object({ state: text(32).optional() });

/**
 * Reads an OPA status report (the JSON body of `POST /status`). Only what the fleet view needs is kept:
 * labels with string values, per-bundle revision, times and last error, plugin states; metrics (tens of
 * kilobytes of Prometheus text per report) are dropped. Names come from outside, so they are read as
 * own keys and kept in null-prototype objects: a label, bundle or plugin called `__proto__` or
 * `constructor` is a name like any other. `InputError` `invalid_status_report` naming the field when it
 * is not an OPA status report: no `labels.id`, wrong types, too many entries.
 */
export function parseAgentStatusReport(body: unknown): AgentStatusReport {
  const report = objectAt(body, 'body');
  const labels = entriesAt(report.labels, 'labels', MAX_LABELS, 64);
  const agentId = labels.find(([key]) => key === 'id')?.[1];
  if (typeof agentId !== 'string' || !AGENT_ID.test(agentId)) {
    throw invalid('labels.id', 'labels.id must be the OPA instance id (letters, digits, . _ : -, at most 128)');
  }
  const bundles = report.bundles === undefined ? [] : entriesAt(report.bundles, 'bundles', MAX_BUNDLES, 128);
  const plugins = report.plugins === undefined ? [] : entriesAt(report.plugins, 'plugins', MAX_PLUGINS, 64);
  return {
    agentId,
    labels: dictionary(labels.flatMap(([key, value]) => (typeof value === 'string' ? [[key, value.slice(0, 128)] as const] : []))),
    bundles: bundles.map(([name, value]) => {
      const bundle = valueAt(bundleSchema, value, `bundles.${name}`);
      return {
        name,
        activeRevision: bundle.active_revision || undefined,
        lastSuccessfulDownload: bundle.last_successful_download,
        lastSuccessfulActivation: bundle.last_successful_activation,
        lastRequest: bundle.last_request,
        code: bundle.code || undefined,
        message: bundle.message || undefined,
        httpCode: bundle.http_code,
      };
    }),
    plugins: dictionary(plugins.flatMap(([name, value]) => {
      const { state } = valueAt(pluginSchema, value, `plugins.${name}`);
      return state ? [[name, state] as const] : [];
    })),
  };
}

const PARTITION = /^[A-Za-z0-9._-]{1,64}(?:\/[A-Za-z0-9._-]{1,64}){0,3}$/;

/**
 * The partition of `POST /status/<partition>` or `POST /logs/<partition>` (the path segments after the
 * endpoint, joined by `/`): letters, digits, `.`, `_`, `-`, at most four segments of 64. Undefined when
 * none was given; `InputError` with `code` and `field: partition` otherwise.
 */
export function parsePartition(segments: readonly string[] | undefined, code: string): string | undefined {
  if (segments === undefined || segments.length === 0) return undefined;
  const partition = segments.join('/');
  // Checked on the joined text, not the segments as routed: an escaped slash (`a%2F..%2Fb`) arrives as one
  // segment `a/../b`, whose parts must obey the rule as much as real segments do.
  if (!PARTITION.test(partition) || partition.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new InputError(code, 'the partition must be 1 to 4 path segments of letters, digits, . _ - (at most 64 each)', { field: 'partition' });
  }
  return partition;
}

function objectAt(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, `${field} must be an object`);
  return value as Record<string, unknown>;
}

/** The own entries of an object from JSON (where `__proto__` is an own key), at most `max`, keys at most `maxKey` long. */
function entriesAt(value: unknown, field: string, max: number, maxKey: number): Array<[string, unknown]> {
  const entries = Object.entries(objectAt(value, field));
  if (entries.length > max) throw invalid(field, `at most ${max} ${field}`);
  const long = entries.find(([key]) => key.length > maxKey);
  if (long) throw invalid(field, `${field} names are at most ${maxKey} characters`);
  return entries;
}

function valueAt<T extends z.ZodType>(schema: T, value: unknown, field: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = [field, ...issue.path.map(String)].join('.');
  throw invalid(path, `not an OPA status report: ${path}: ${issue.message}`);
}

function invalid(field: string, message: string): InputError {
  return new InputError('invalid_status_report', message, { field });
}

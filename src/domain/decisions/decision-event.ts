import { dictionary } from '../dictionary.js';
import { InputError, PayloadTooLargeError } from '../errors.js';
import { AGENT_ID } from '../fleet/agent-status-report.js';
import type { DecisionRecord } from './decision-log.js';

/** Limits of one batch of OPA decision events (`decisionLogs.*`). */
export interface DecisionBatchLimits {
  /** Events in one batch at most (413 `too_many_decisions`). */
  maxEvents: number;
}

/** What every record of a batch shares: when Regent received it, the partition it was posted to, the credential it came with. */
export interface DecisionBatchContext {
  receivedAt: string;
  partition?: string;
  /** The agent credential's name (absent for anonymous access or the fleet report token). */
  identity?: string;
}

// Bounds on the parts the store indexes and filters on; payloads (input, result, error) are bounded by
// the size of the stored line (`decisionLogs.maxEventBytes`), checked where the line is made.
const MAX_LABELS = 32;
const MAX_LABEL_KEY = 128;
const MAX_LABEL_VALUE = 256;
const MAX_BUNDLES = 64;
const MAX_NAME = 256;
const MAX_PATH = 1024;
const MAX_QUERY = 64 * 1024;
const MAX_POINTERS = 1024;
const DECISION_ID = /^[\x21-\x7e]{1,128}$/;
/** RFC 3339 with a zone, as Go's `time.RFC3339Nano` writes it. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Reads one batch of OPA's decision-log plugin (`POST /logs`: a JSON array of `EventV1`, opa:v1/plugins/logs)
 * into records. Every event is checked: `labels.id` (the agent), `decision_id`, an RFC 3339 `timestamp`,
 * string `path`/`query`, `bundles.<name>.revision`, `erased`/`masked` as lists of JSON pointers; payloads
 * (`input`, `result`, `error`, `nd_builtin_cache`) are kept exactly as the agent sent them, so what OPA
 * masked or erased stays so. Fields Regent has no use for (`metrics`, `req_id`, `requested_by`, trace ids)
 * are dropped. Names from outside become keys of null-prototype objects.
 *
 * The batch is all or nothing: `InputError` `invalid_decision_batch` naming the event and field
 * (`[3].timestamp`) when any event is not an OPA decision, `PayloadTooLargeError` `too_many_decisions`
 * beyond `maxEvents`. OPA re-sends a refused batch, so nothing is half-stored.
 */
export function parseDecisionBatch(body: unknown, limits: DecisionBatchLimits, context: DecisionBatchContext): DecisionRecord[] {
  if (!Array.isArray(body)) throw invalid('body', 'a decision-log batch is a JSON array of OPA decision events');
  if (body.length > limits.maxEvents) {
    throw new PayloadTooLargeError('too_many_decisions', `a batch holds at most ${limits.maxEvents} decisions (decisionLogs.maxEventsPerBatch); this one holds ${body.length}`, { field: 'body', limit: limits.maxEvents });
  }
  return body.map((event: unknown, index) => parseDecisionEvent(event, `[${index}]`, context));
}

function parseDecisionEvent(value: unknown, at: string, context: DecisionBatchContext): DecisionRecord {
  const event = objectAt(value, at);
  const labels = stringMap(event.labels, `${at}.labels`);
  const agentId = labels.id;
  if (typeof agentId !== 'string' || !AGENT_ID.test(agentId)) throw invalid(`${at}.labels.id`, 'labels.id must be the OPA instance id (letters, digits, . _ : -, at most 128)');
  const decisionId = event.decision_id;
  if (typeof decisionId !== 'string' || !DECISION_ID.test(decisionId)) throw invalid(`${at}.decision_id`, 'decision_id must be a string of 1 to 128 printable ASCII characters');
  const timestamp = event.timestamp;
  if (typeof timestamp !== 'string' || !RFC3339.test(timestamp) || Number.isNaN(Date.parse(timestamp))) {
    throw invalid(`${at}.timestamp`, 'timestamp must be an RFC 3339 time with a zone, as OPA writes it');
  }
  const record: DecisionRecord = {
    decisionId,
    timestamp,
    path: optionalString(event.path, `${at}.path`, MAX_PATH) ?? '',
    agentId,
    labels,
    bundles: bundlesAt(event.bundles, `${at}.bundles`),
    receivedAt: context.receivedAt,
  };
  const query = optionalString(event.query, `${at}.query`, MAX_QUERY);
  if (query !== undefined) record.query = query;
  if (event.input !== undefined) record.input = event.input;
  if (event.result !== undefined) record.result = event.result;
  const erased = pointersAt(event.erased, `${at}.erased`);
  if (erased) record.erased = erased;
  const masked = pointersAt(event.masked, `${at}.masked`);
  if (masked) record.masked = masked;
  if (event.error !== undefined && event.error !== null) record.error = event.error;
  if (event.nd_builtin_cache !== undefined && event.nd_builtin_cache !== null) record.ndBuiltinCache = event.nd_builtin_cache;
  if (context.partition !== undefined) record.partition = context.partition;
  if (context.identity !== undefined) record.identity = context.identity;
  return record;
}

function objectAt(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, `${field} must be an object`);
  return value as Record<string, unknown>;
}

function stringMap(value: unknown, field: string): Record<string, string> {
  const entries = Object.entries(objectAt(value, field));
  if (entries.length > MAX_LABELS) throw invalid(field, `at most ${MAX_LABELS} labels`);
  for (const [key, item] of entries) {
    if (key.length > MAX_LABEL_KEY) throw invalid(field, `label names are at most ${MAX_LABEL_KEY} characters`);
    if (typeof item !== 'string' || item.length > MAX_LABEL_VALUE) throw invalid(`${field}.${key.slice(0, 64)}`, `labels are strings of at most ${MAX_LABEL_VALUE} characters`);
  }
  return dictionary(entries as Array<[string, string]>);
}

function bundlesAt(value: unknown, field: string): Record<string, { revision: string }> {
  if (value === undefined || value === null) return dictionary<{ revision: string }>();
  const entries = Object.entries(objectAt(value, field));
  if (entries.length > MAX_BUNDLES) throw invalid(field, `at most ${MAX_BUNDLES} bundles`);
  return dictionary(entries.map(([name, bundle]) => {
    if (name.length > MAX_NAME) throw invalid(field, `bundle names are at most ${MAX_NAME} characters`);
    const revision = objectAt(bundle, `${field}.${name.slice(0, 64)}`).revision;
    if (typeof revision !== 'string' || revision.length > MAX_NAME) throw invalid(`${field}.${name.slice(0, 64)}.revision`, `revision must be a string of at most ${MAX_NAME} characters`);
    return [name, { revision }] as const;
  }));
}

function optionalString(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max) throw invalid(field, `${field} must be a string of at most ${max} characters`);
  return value;
}

function pointersAt(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > MAX_POINTERS || value.some((item) => typeof item !== 'string' || item.length > MAX_PATH)) {
    throw invalid(field, `${field} must be a list of at most ${MAX_POINTERS} JSON pointers`);
  }
  return value as string[];
}

function invalid(field: string, message: string): InputError {
  return new InputError('invalid_decision_batch', `not an OPA decision-log batch: ${message}`, { field });
}

import { InputError } from '../errors.js';

/** Where the decisions to replay come from: given inputs for one query, or the stored decision logs. */
export type ImpactSource =
  | { kind: 'inputs'; query: string; inputs: unknown[] }
  | { kind: 'decisions'; since?: Date; until?: Date; path?: string; limit: number };

/** `POST /api/impact`: replay decisions on two revisions and report the ones that change. */
export interface ImpactRequest {
  /** Revisions as users name them (`head`, `active`, a SHA, a branch or tag). */
  from: string;
  to: string;
  source: ImpactSource;
  /** Changed decisions shown as examples, at most (bounded by `impact.maxExamples`). */
  examples: number;
}

export interface ImpactLimits {
  /** Inputs or decisions replayed by one analysis, at most. */
  maxInputs: number;
  maxExamples: number;
}

const QUERY = /^data(\.[A-Za-z_][A-Za-z0-9_]*){0,16}$/;
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*){0,15}$/;
const KEYS = new Set(['from', 'to', 'query', 'inputs', 'decisions', 'examples']);
const DECISION_KEYS = new Set(['since', 'until', 'path', 'limit']);

/**
 * Reads an impact request body. `inputs` (a list of input documents, evaluated with `query`, by default
 * `data`, the whole document) or `decisions` (`{since, until, path, limit}`, recorded decisions, each
 * evaluated at the path it was made for): exactly one. Every problem is `invalid_field` naming the field;
 * more inputs (or a larger `limit`) than `impact.maxInputs` is `too_many_inputs`.
 */
export function parseImpactRequest(body: Record<string, unknown>, limits: ImpactLimits): ImpactRequest {
  for (const key of Object.keys(body)) if (!KEYS.has(key)) throw field(key, `unknown field '${key.slice(0, 64)}' (allowed: ${[...KEYS].join(', ')})`);
  const from = revisionName(body.from, 'from');
  const to = revisionName(body.to, 'to');
  const examples = body.examples === undefined ? limits.maxExamples : wholeNumber(body.examples, 'examples', 0, limits.maxExamples);
  if ((body.inputs === undefined) === (body.decisions === undefined)) throw field('inputs', "give either 'inputs' (a list of input documents) or 'decisions' ({since, until, path, limit})");
  if (body.inputs !== undefined) {
    if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw field('inputs', "'inputs' must be a non-empty list of input documents");
    if (body.inputs.length > limits.maxInputs) throw tooMany('inputs', body.inputs.length, limits.maxInputs);
    const query = body.query === undefined ? 'data' : body.query;
    if (typeof query !== 'string' || !QUERY.test(query)) throw field('query', "'query' must be a data reference such as data.rbac.allow");
    return { from, to, examples, source: { kind: 'inputs', query, inputs: body.inputs } };
  }
  if (body.query !== undefined) throw field('query', "'query' goes with 'inputs': recorded decisions are replayed at the path each was made for (filter with decisions.path)");
  const decisions = body.decisions;
  if (typeof decisions !== 'object' || decisions === null || Array.isArray(decisions)) throw field('decisions', "'decisions' must be an object {since, until, path, limit}");
  const filter = decisions as Record<string, unknown>;
  for (const key of Object.keys(filter)) if (!DECISION_KEYS.has(key)) throw field(`decisions.${key.slice(0, 64)}`, `unknown field 'decisions.${key.slice(0, 64)}' (allowed: since, until, path, limit)`);
  const limit = filter.limit === undefined ? Math.min(1000, limits.maxInputs) : wholeNumber(filter.limit, 'decisions.limit', 1, Number.MAX_SAFE_INTEGER);
  if (limit > limits.maxInputs) throw tooMany('decisions.limit', limit, limits.maxInputs);
  const source: ImpactSource = { kind: 'decisions', limit };
  if (filter.since !== undefined) source.since = time(filter.since, 'decisions.since');
  if (filter.until !== undefined) source.until = time(filter.until, 'decisions.until');
  if (source.since && source.until && source.since > source.until) throw field('decisions.until', "'decisions.until' is before 'decisions.since'");
  if (filter.path !== undefined) {
    if (typeof filter.path !== 'string' || !PATH.test(filter.path)) throw field('decisions.path', "'decisions.path' is a decision path as OPA logs it, such as rbac/allow");
    source.path = filter.path;
  }
  return { from, to, examples, source };
}

function revisionName(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '' || value.length > 255) throw field(name, `'${name}' must name a revision (a SHA, head, active, a branch or a tag)`);
  return value;
}

function wholeNumber(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw field(name, `'${name}' must be a whole number from ${min} to ${max}`);
  return value;
}

function time(value: unknown, name: string): Date {
  const date = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw field(name, `'${name}' must be an RFC 3339 time such as 2026-12-01T00:00:00Z`);
  return date;
}

function field(name: string, message: string): InputError {
  return new InputError('invalid_field', message, { field: name });
}

function tooMany(name: string, count: number, limit: number): InputError {
  return new InputError('too_many_inputs', `${count} decisions to replay; one analysis takes at most ${limit} (impact.maxInputs)`, { field: name, limit });
}

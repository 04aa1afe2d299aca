import type { Request, Response } from 'express';
import type { Principal } from '../../domain/auth/principal.js';
import { InputError, PreconditionRequiredError } from '../../domain/errors.js';

/** The verified principal the authenticate middleware put on the response. */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error('no principal: the route is not behind authenticate()');
  return principal;
}

export function requestIdOf(res: Response): string {
  return String(res.locals.reqId ?? 'unknown');
}

/** The body as an object (an empty object when there was none). */
export function bodyOf(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError('invalid_body', 'the request body must be a JSON object', { field: 'body' });
  return body as Record<string, unknown>;
}

const SHA = /^[0-9a-f]{40}$/;

/**
 * The revision a write is based on: `If-Match: "<sha>"` or the body's `baseRevision`. Required, so an
 * admin cannot overwrite a change they never saw; both given and different is an error.
 */
export function baseRevisionOf(req: Request, body: Record<string, unknown>): string {
  const header = req.headers['if-match'];
  let fromHeader: string | undefined;
  if (typeof header === 'string') {
    const match = /^\s*(?:W\/)?"([^"]*)"\s*$/.exec(header);
    if (!match || !SHA.test(match[1]!)) throw new InputError('invalid_if_match', 'If-Match must be the quoted 40-hex revision the change is based on', { field: 'If-Match' });
    fromHeader = match[1];
  }
  const fromBody = body.baseRevision;
  if (fromBody !== undefined && (typeof fromBody !== 'string' || !SHA.test(fromBody))) {
    throw new InputError('invalid_revision', "'baseRevision' must be a 40-hex revision", { field: 'baseRevision' });
  }
  if (fromHeader && fromBody && fromHeader !== fromBody) throw new InputError('invalid_revision', 'If-Match and baseRevision name different revisions', { field: 'baseRevision' });
  const base = fromHeader ?? (fromBody as string | undefined);
  if (!base) throw new PreconditionRequiredError('base_revision_required', 'say which revision the change is based on: If-Match: "<revision>" or "baseRevision" in the body', { field: 'baseRevision' });
  return base;
}

/** A string field of the body; undefined when absent and optional. */
export function stringField(body: Record<string, unknown>, field: string, options: { optional?: boolean } = {}): string | undefined {
  const value = body[field];
  if (value === undefined && options.optional) return undefined;
  if (typeof value !== 'string') throw new InputError('invalid_field', `'${field}' must be a string`, { field });
  return value;
}

/** The value of an Express 5 wildcard parameter (`/*name`), its segments joined with `/`. */
export function wildcardParam(req: Request, name: string): string {
  const segments = (req.params as Record<string, unknown>)[name];
  return Array.isArray(segments) ? segments.join('/') : String(segments ?? '');
}

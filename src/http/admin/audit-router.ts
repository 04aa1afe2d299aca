import { Router } from 'express';
import { AUDIT_ACTIONS, type AuditChainState, type AuditLog, type AuditQuery } from '../../domain/audit/audit-log.js';
import { InputError } from '../../domain/errors.js';
import { isoTime, oneOf, plainText, positiveInteger, readQuery } from './query-params.js';
import { requireRole } from '../middleware/require-role.js';

/** Largest `limit` of `GET /audit`. */
export const MAX_AUDIT_QUERY_LIMIT = 500;

/** What {@link createAuditRouter} reads from. */
export interface AuditRouterDeps {
  audit: AuditLog;
}

/**
 * `GET /audit?subject=&path=&action=&since=&until=&before=&limit=` → `{ records: AuditRecord[], nextBefore:
 * number | null }`, newest first; pass `nextBefore` back as `before` for the next page. Mounted under
 * `/api` behind `auditor`. `action` is one of the closed set of audit actions, `since`/`until` ISO 8601
 * (both inclusive), `before` and `limit` (1–500, default 50) positive integers, `path` a file or a
 * directory. Anything else is `invalid_query` (400) naming the parameter. Answers carry
 * `Cache-Control: no-store`: who did what is nobody's cache entry. Every answer says whether the log's
 * hash chain held at start-up: `chain` in the body (`{chain: 'ok'|'broken', brokenAt}`) and the
 * `Regent-Audit-Chain` header (`ok`, or `broken; file="..."; line=N; seq=N`), so a reader of records
 * that follow a break knows not to trust them.
 */
export function createAuditRouter(deps: AuditRouterDeps): Router {
  const router = Router();
  router.get('/audit', requireRole('auditor'), async (req, res) => {
    const params = readQuery(req.query, ['subject', 'path', 'action', 'since', 'until', 'before', 'limit']);
    const since = params.since === undefined ? undefined : isoTime(params.since, 'since');
    const until = params.until === undefined ? undefined : isoTime(params.until, 'until');
    if (since !== undefined && until !== undefined && until < since) {
      throw new InputError('invalid_query', "'until' is before 'since'", { field: 'until' });
    }
    const query: AuditQuery = {
      subject: params.subject === undefined ? undefined : plainText(params.subject, 'subject', 256),
      path: params.path === undefined ? undefined : auditPath(params.path),
      action: params.action === undefined ? undefined : oneOf(params.action, 'action', AUDIT_ACTIONS),
      since: since === undefined ? undefined : new Date(since).toISOString(),
      until: until === undefined ? undefined : new Date(until).toISOString(),
      before: params.before === undefined ? undefined : positiveInteger(params.before, 'before'),
      limit: params.limit === undefined ? undefined : positiveInteger(params.limit, 'limit', MAX_AUDIT_QUERY_LIMIT),
    };
    const { records, nextBefore } = await deps.audit.query(query);
    const chain = deps.audit.chain();
    res.set('Cache-Control', 'no-store').set(AUDIT_CHAIN_HEADER, chainHeader(chain)).json({ records, nextBefore: nextBefore ?? null, chain });
  });
  return router;
}

/** Response header of `GET /api/audit` saying whether the hash chain holds. */
export const AUDIT_CHAIN_HEADER = 'Regent-Audit-Chain';

function chainHeader(state: AuditChainState): string {
  const broken = state.brokenAt;
  if (!broken) return 'ok';
  const file = JSON.stringify(broken.file.replace(/[^\x20-\x7e]/g, '?'));
  return `broken; file=${file}; line=${broken.line}${broken.seq === null ? '' : `; seq=${broken.seq}`}`;
}

function auditPath(value: string): string {
  const path = plainText(value, 'path', 512);
  if (path.replace(/\/+$/, '') === '') throw new InputError('invalid_query', "'path' must name a file or directory", { field: 'path' });
  return path;
}

import { Router } from 'express';
import type { DecisionLog, DecisionQuery } from '../../domain/decisions/decision-log.js';
import { InputError } from '../../domain/errors.js';
import { requireRole } from '../middleware/require-role.js';
import { isoTime, plainText, positiveInteger, readQuery } from './query-params.js';

/** Decisions per page unless `limit` says otherwise, and the most `limit` may ask for. */
export const DECISIONS_PAGE_DEFAULT = 50;
export const DECISIONS_PAGE_MAX = 500;

export interface DecisionsRouterDeps {
  decisions: DecisionLog;
}

/**
 * `GET /decisions?since=&until=&revision=&path=&result=&agent=&identity=&decision_id=&limit=&cursor=` (auditor): the
 * decisions OPA agents reported (`POST /logs`), most recently received first, filtered (all filters
 * AND): `since`/`until` on the decision's own time (ISO 8601, inclusive), `revision` (any bundle's),
 * `path` (`rbac/allow`), `result` (JSON: `true`, `false`, `"x"`, `{"a":1}`; compared as values), `agent`
 * (`labels.id`), `identity` (the agent credential's name the batch came with), `decision_id`. `nextCursor` fetches the next page; `partial: true` says the store stopped
 * reading before the page was full (its read budget per query) and `nextCursor` goes on from there. A
 * page also ends at `decisionLogs.maxPageBytes` of stored decisions (at least one), with a `nextCursor`.
 * Masked and erased fields are as the agent sent them. `Cache-Control: no-store`.
 */
export function createDecisionsRouter(deps: DecisionsRouterDeps): Router {
  const router = Router();
  router.get('/decisions', requireRole('auditor'), async (req, res) => {
    const params = readQuery(req.query, ['since', 'until', 'revision', 'path', 'result', 'agent', 'identity', 'decision_id', 'limit', 'cursor']);
    const since = params.since === undefined ? undefined : isoTime(params.since, 'since');
    const until = params.until === undefined ? undefined : isoTime(params.until, 'until');
    if (since !== undefined && until !== undefined && until < since) throw new InputError('invalid_query', "'until' is before 'since'", { field: 'until' });
    const query: DecisionQuery = {
      since: since === undefined ? undefined : new Date(since),
      until: until === undefined ? undefined : new Date(until),
      revision: params.revision === undefined ? undefined : plainText(params.revision, 'revision', 256),
      path: params.path === undefined ? undefined : decisionPath(plainText(params.path, 'path', 1024)),
      result: params.result === undefined ? undefined : jsonParam(params.result, 'result'),
      agentId: params.agent === undefined ? undefined : plainText(params.agent, 'agent', 128),
      identity: params.identity === undefined ? undefined : plainText(params.identity, 'identity', 256),
      decisionId: params.decision_id === undefined ? undefined : plainText(params.decision_id, 'decision_id', 128),
      limit: params.limit === undefined ? DECISIONS_PAGE_DEFAULT : positiveInteger(params.limit, 'limit', DECISIONS_PAGE_MAX),
      cursor: params.cursor,
    };
    const page = await deps.decisions.query(query);
    res.set('Cache-Control', 'no-store').json({ decisions: page.records, nextCursor: page.nextCursor ?? null, partial: page.partial === true, limit: query.limit });
  });
  return router;
}

/** OPA logs `rbac/allow`; `data.rbac.allow` (how a query names it) is taken as the same path. */
function decisionPath(value: string): string {
  return value.startsWith('data.') ? value.slice('data.'.length).replaceAll('.', '/') : value;
}

function jsonParam(value: string, field: string): unknown {
  try {
    return JSON.parse(plainText(value, field, 4096));
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError('invalid_query', `'${field}' must be JSON: true, false, a number, a "string", an array or an object`, { field });
  }
}

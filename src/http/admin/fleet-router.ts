import { Router } from 'express';
import { AGENT_ID } from '../../domain/fleet/agent-status-report.js';
import { InputError } from '../../domain/errors.js';
import type { RevisionConvergence } from '../../domain/fleet/convergence-tracker.js';
import type { FleetRegistry, ServedBundle } from '../../domain/fleet/fleet-registry.js';
import { requireRole } from '../middleware/require-role.js';
import { positiveInteger, readQuery } from './query-params.js';

export interface FleetRouterDeps {
  registry: FleetRegistry;
  /** What Regent serves under a bundle name (`rbac`, or `prod/rbac` for an environment's set). */
  served: (bundle: string) => ServedBundle | undefined;
  /** Per served bundle, its last revisions and how they spread (the convergence tracker). */
  convergence?: () => RevisionConvergence[];
}

/** Agents per page unless `limit` says otherwise, and the most `limit` may ask for. */
export const FLEET_PAGE_DEFAULT = 100;
export const FLEET_PAGE_MAX = 1000;
/** Bundle errors of live agents listed with every page (the newest reports). */
export const FAILING_AGENTS_SHOWN = 100;

/**
 * `GET /fleet?limit=&cursor=` (auditor): one page of agents as they last reported (labels, per-bundle
 * enforced revision, last download, activation and error, stale when silent too long), in agent id
 * order, and per bundle, over the whole fleet, how much of it enforces the revision Regent serves and
 * how long it took 50%, 90% and 100% of the live agents (`convergence`; every bundle Regent serves, and
 * the 50 other names most reported; `omittedBundles` counts the rest); `revisions` keeps the last
 * revisions of every served bundle with their times and state (`converging`, `converged`, `stuck`); and
 * the live agents whose last report has a bundle error (`failingAgents`, newest 100;
 * `failingAgentsTotal`). `nextCursor` fetches the next page; paging by id is stable while agents
 * report (each agent that stays is listed once; one that first reports meanwhile may or may not be).
 */
export function createFleetRouter(deps: FleetRouterDeps): Router {
  const router = Router();
  router.get('/fleet', requireRole('auditor'), (req, res) => {
    const query = readQuery(req.query, ['limit', 'cursor']);
    const limit = query.limit === undefined ? FLEET_PAGE_DEFAULT : positiveInteger(query.limit, 'limit', FLEET_PAGE_MAX);
    const after = query.cursor === undefined ? undefined : agentIdOfCursor(query.cursor);
    const page = deps.registry.page({ limit, after });
    const summary = deps.registry.summary(deps.served);
    const failing = deps.registry.failing(FAILING_AGENTS_SHOWN);
    res.set('Cache-Control', 'no-store').json({
      agents: page.agents,
      bundles: summary.bundles,
      omittedBundles: summary.omittedBundles,
      failingAgents: failing.failing,
      failingAgentsTotal: failing.total,
      revisions: deps.convergence?.() ?? [],
      total: page.total,
      limit,
      nextCursor: page.next === undefined ? null : Buffer.from(page.next, 'utf8').toString('base64url'),
    });
  });
  return router;
}

function agentIdOfCursor(cursor: string): string {
  const id = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!AGENT_ID.test(id)) throw new InputError('invalid_query', "'cursor' must be a nextCursor from an earlier answer", { field: 'cursor' });
  return id;
}

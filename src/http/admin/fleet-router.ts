import { Router } from 'express';
import type { FleetRegistry, ServedBundle } from '../../domain/fleet/fleet-registry.js';
import { requireRole } from '../middleware/require-role.js';
import { readQuery } from './query-params.js';

export interface FleetRouterDeps {
  registry: FleetRegistry;
  /** What Regent serves under a bundle name (`rbac`, or `prod/rbac` for an environment's set). */
  served: (bundle: string) => ServedBundle | undefined;
}

/**
 * `GET /fleet` (auditor): the agents as they last reported (labels, per-bundle enforced revision, last
 * download, activation and error, stale when silent too long) and, per bundle, how much of the fleet
 * enforces the revision Regent serves and how long convergence took.
 */
export function createFleetRouter(deps: FleetRouterDeps): Router {
  const router = Router();
  router.get('/fleet', requireRole('auditor'), (req, res) => {
    readQuery(req.query, []);
    res.set('Cache-Control', 'no-store').json(deps.registry.view(deps.served));
  });
  return router;
}

import { Router, type Request } from 'express';
import type { EnvironmentService } from '../../domain/environments/environment-service.js';
import { InputError, PreconditionRequiredError } from '../../domain/errors.js';
import type { BundleSet } from '../bundles/bundle-handler.js';
import { environmentJson } from '../environment-views.js';
import { requireRole } from '../middleware/require-role.js';
import { jsonBody, type JsonBodyLimits } from '../body/json-body.js';
import { bodyOf, principalOf, requestIdOf } from './request-context.js';

export interface EnvironmentsRouterDeps {
  environments: EnvironmentService;
  sets: ReadonlyMap<string, BundleSet>;
  /** Size and nesting limits of JSON bodies. */
  body: JsonBodyLimits;
}

/**
 * Environments (bundle sets following a tag or branch): `GET /environments` and
 * `GET /environments/<env>` (viewer) show each ref, the revision it names and the one served;
 * `PUT /environments/<env>` (admin) promotes or rolls back, naming the revision the admin saw
 * (`If-Match: "<sha>"`, or `If-None-Match: *` while the ref does not exist), so two admins promoting at
 * once cannot both win.
 */
export function createEnvironmentsRouter(deps: EnvironmentsRouterDeps): Router {
  const router = Router();
  const json = jsonBody(deps.body);

  router.get('/environments', requireRole('viewer'), async (_req, res) => {
    const views = await deps.environments.list();
    res.json({ environments: views.map((view) => environmentJson(view, deps.sets.get(view.name))) });
  });

  router.get('/environments/:environment', requireRole('viewer'), async (req, res) => {
    const environment = deps.environments.get(req.params.environment as string);
    const view = await deps.environments.view(environment);
    if (view.revision) res.set('ETag', `"${view.revision}"`);
    res.json(environmentJson(view, deps.sets.get(view.name)));
  });

  router.put('/environments/:environment', requireRole('admin'), ...json, async (req, res) => {
    const name = req.params.environment as string;
    deps.environments.get(name);
    const body = bodyOf(req);
    const expected = expectedRevisionOf(req);
    const revision = body.revision;
    if (typeof revision !== 'string' || revision.length === 0) {
      throw new InputError('invalid_revision', "'revision' is required: the revision of the tracked branch to promote to", { field: 'revision' });
    }
    const result = await deps.environments.promote({
      environment: name, revision, expected, message: body.message, principal: principalOf(res), requestId: requestIdOf(res),
    });
    res.set('ETag', `"${result.revision}"`).json(result);
  });

  return router;
}

/** `If-Match: "<sha>"` (the environment's current revision), or `If-None-Match: *` (it has none yet). */
function expectedRevisionOf(req: Request): string | null {
  const ifMatch = req.headers['if-match'];
  const ifNoneMatch = req.headers['if-none-match'];
  if (typeof ifMatch === 'string') {
    const match = /^\s*"([0-9a-f]{40})"\s*$/.exec(ifMatch);
    if (!match) throw new InputError('invalid_if_match', "If-Match must be the environment's current revision, quoted: \"<40-hex sha>\"", { field: 'If-Match' });
    if (ifNoneMatch !== undefined) throw new InputError('invalid_if_match', 'send If-Match or If-None-Match, not both', { field: 'If-None-Match' });
    return match[1]!;
  }
  if (typeof ifNoneMatch === 'string') {
    if (ifNoneMatch.trim() !== '*') throw new InputError('invalid_if_none_match', "If-None-Match on a promotion can only be '*' (the environment's ref does not exist yet)", { field: 'If-None-Match' });
    return null;
  }
  throw new PreconditionRequiredError('environment_revision_required', 'say which revision the environment is at now: If-Match: "<revision>" (GET /api/environments), or If-None-Match: * when its ref does not exist yet', { field: 'If-Match' });
}

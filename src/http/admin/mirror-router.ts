import { Router, type Request } from 'express';
import { InputError, NotFoundError } from '../../domain/errors.js';
import type { MirrorService } from '../../domain/mirror/mirror-service.js';
import { requireRole } from '../middleware/require-role.js';
import { jsonBody, type JsonBodyLimits } from '../body/json-body.js';
import { bodyOf, principalOf, requestIdOf } from './request-context.js';

export interface MirrorRouterDeps {
  /** Undefined in local mode: the routes then answer 404 `remote_not_configured`. */
  mirror?: MirrorService;
  /** Size and nesting limits of JSON bodies. */
  body: JsonBodyLimits;
}

const SHA = /^[0-9a-f]{40}$/;

/**
 * Remote mode administration: `POST /mirror/sync` asks for a sync now (202), `POST /mirror/accept` moves
 * head to a remote history that diverged from it (force-push), naming the remote tip the admin looked at
 * (`remoteTip` in the body or `If-Match: "<sha>"`), so a tip that changed since is never accepted blind.
 */
export function createMirrorRouter(deps: MirrorRouterDeps): Router {
  const router = Router();
  const json = jsonBody(deps.body);
  const mirrorOf = (): MirrorService => {
    if (!deps.mirror) throw new NotFoundError('remote_not_configured', 'Regent runs without a remote (remote.url)', { field: 'remote.url' });
    return deps.mirror;
  };

  router.post('/mirror/sync', requireRole('admin'), (_req, res) => {
    const mirror = mirrorOf();
    mirror.request('admin');
    res.status(202).json({ status: 'sync_requested', mirror: mirror.status() });
  });

  router.post('/mirror/accept', requireRole('admin'), ...json, async (req, res) => {
    const mirror = mirrorOf();
    const remoteTip = remoteTipOf(req, bodyOf(req));
    const result = await mirror.accept(remoteTip, { principal: principalOf(res), requestId: requestIdOf(res) });
    res.json({ ...result, mirror: mirror.status() });
  });

  return router;
}

function remoteTipOf(req: Request, body: Record<string, unknown>): string {
  const header = req.headers['if-match'];
  const fromHeader = typeof header === 'string' ? /^\s*"([0-9a-f]{40})"\s*$/.exec(header)?.[1] : undefined;
  if (typeof header === 'string' && !fromHeader) throw new InputError('invalid_if_match', 'If-Match must be the quoted 40-hex remote tip to accept', { field: 'If-Match' });
  const fromBody = body.remoteTip;
  if (fromBody !== undefined && (typeof fromBody !== 'string' || !SHA.test(fromBody))) throw new InputError('invalid_revision', "'remoteTip' must be a 40-hex revision", { field: 'remoteTip' });
  if (fromHeader && fromBody && fromHeader !== fromBody) throw new InputError('invalid_revision', 'If-Match and remoteTip name different revisions', { field: 'remoteTip' });
  const tip = fromHeader ?? (fromBody as string | undefined);
  if (!tip) throw new InputError('remote_tip_required', "name the remote tip you accept: 'remoteTip' in the body or If-Match: \"<sha>\" (GET /status shows it under mirror.diverged)", { field: 'remoteTip' });
  return tip;
}

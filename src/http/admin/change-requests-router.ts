import { Router, type Request } from 'express';
import type { ChangeRequestService } from '../../domain/change-requests/change-request-service.js';
import type { ChangeRequestImpact } from '../../domain/impact/change-request-impact.js';
import { checkState, parseChangeRequestId } from '../../domain/change-requests/change-request-views.js';
import { InputError } from '../../domain/errors.js';
import { requireRole } from '../middleware/require-role.js';
import { changesOf } from './policies-router.js';
import { readQuery } from './query-params.js';
import { jsonBody, type JsonBodyLimits } from '../body/json-body.js';
import { bodyOf, principalOf, requestIdOf, stringField } from './request-context.js';

export interface ChangeRequestsRouterDeps {
  changeRequests: ChangeRequestService;
  /** Its impact on the fleet's recent decisions, shown with a change request. */
  impact: ChangeRequestImpact;
  /** Size and nesting limits of JSON bodies. */
  body: JsonBodyLimits;
}

const SHA = /^[0-9a-f]{40}$/;

/**
 * Change requests (four-eyes review), mounted under `/api`:
 *
 * - `POST /change-requests` (editor) `{ title, description?, message?, changes, baseRevision? }` → 201
 * - `GET /change-requests?state=open|approved|rejected|merged` (viewer) → `{ changeRequests }`
 * - `GET /change-requests/:id` (viewer) → the request with its comments, commits, diff against its base,
 *   its latest validation (`current: false` while it is being revalidated on a new head) and its impact
 *   on the last day's recorded decisions
 * - `POST /change-requests/:id/commits` (the author, or an admin) `{ message, changes, tip? }` → 201;
 *   approvals are reset
 * - `POST /change-requests/:id/comments` (editor) `{ body }` → 201
 * - `POST /change-requests/:id/approve` (admin who put no commit on it) `{ comment?, tip? }`
 * - `POST /change-requests/:id/reject` (admin, or the author withdrawing it) `{ reason? }`
 * - `POST /change-requests/:id/merge` (admin): approved and valid on the current head, else 409/422
 *
 * `tip` (or `If-Match: "<tip>"`) makes a write conditional on the request still being at that commit:
 * an approver approves exactly what they reviewed.
 */
export function createChangeRequestsRouter(deps: ChangeRequestsRouterDeps): Router {
  const { changeRequests } = deps;
  const router = Router();
  const json = jsonBody(deps.body);

  router.post('/change-requests', requireRole('editor'), ...json, async (req, res) => {
    const body = bodyOf(req);
    const baseRevision = stringField(body, 'baseRevision', { optional: true });
    if (baseRevision !== undefined && !SHA.test(baseRevision)) throw new InputError('invalid_revision', "'baseRevision' must be a 40-hex revision", { field: 'baseRevision' });
    const created = await changeRequests.create({
      title: stringField(body, 'title')!,
      description: stringField(body, 'description', { optional: true }),
      message: stringField(body, 'message', { optional: true }),
      changes: changesOf(body),
      baseRevision,
      principal: principalOf(res),
      requestId: requestIdOf(res),
    });
    res.status(201).location(`/api/change-requests/${created.id}`).json(created);
  });

  router.get('/change-requests', requireRole('viewer'), async (req, res) => {
    const { state } = readQuery(req.query, ['state']);
    res.set('Cache-Control', 'no-store').json({ changeRequests: await changeRequests.list(state === undefined ? undefined : checkState(state)) });
  });

  router.get('/change-requests/:id', requireRole('viewer'), async (req, res) => {
    readQuery(req.query, []);
    const detail = await changeRequests.show(idOf(req));
    const impact = await deps.impact.of({ baseRevision: detail.baseRevision, tip: detail.tip, open: detail.state === 'open' || detail.state === 'approved' });
    res.set('Cache-Control', 'no-store').json({ ...detail, impact });
  });

  router.post('/change-requests/:id/commits', requireRole('editor'), ...json, async (req, res) => {
    const id = idOf(req);
    const body = bodyOf(req);
    const updated = await changeRequests.addCommit(id, {
      message: stringField(body, 'message')!,
      changes: changesOf(body),
      expectedTip: expectedTipOf(req, body),
      principal: principalOf(res),
      requestId: requestIdOf(res),
    });
    res.status(201).location(`/api/change-requests/${id}`).json(updated);
  });

  router.post('/change-requests/:id/comments', requireRole('editor'), ...json, async (req, res) => {
    const id = idOf(req);
    const comment = await changeRequests.comment(id, { body: stringField(bodyOf(req), 'body')!, principal: principalOf(res), requestId: requestIdOf(res) });
    res.status(201).location(`/api/change-requests/${id}`).json(comment);
  });

  router.post('/change-requests/:id/approve', requireRole('admin'), ...json, async (req, res) => {
    const body = bodyOf(req);
    res.json(await changeRequests.approve(idOf(req), {
      comment: stringField(body, 'comment', { optional: true }),
      expectedTip: expectedTipOf(req, body),
      principal: principalOf(res),
      requestId: requestIdOf(res),
    }));
  });

  router.post('/change-requests/:id/reject', requireRole('editor'), ...json, async (req, res) => {
    res.json(await changeRequests.reject(idOf(req), { reason: stringField(bodyOf(req), 'reason', { optional: true }), principal: principalOf(res), requestId: requestIdOf(res) }));
  });

  router.post('/change-requests/:id/merge', requireRole('admin'), ...json, async (req, res) => {
    bodyOf(req);
    const result = await changeRequests.merge(idOf(req), { principal: principalOf(res), requestId: requestIdOf(res) });
    res.location(`/api/versions/${result.revision}`).json(result);
  });

  return router;
}

function idOf(req: Request): number {
  return parseChangeRequestId(String(req.params.id));
}

/** `If-Match: "<tip>"` or the body's `tip`: optional, but both given and different is an error. */
function expectedTipOf(req: Request, body: Record<string, unknown>): string | undefined {
  const header = req.headers['if-match'];
  let fromHeader: string | undefined;
  if (typeof header === 'string') {
    const match = /^\s*(?:W\/)?"([0-9a-f]{40})"\s*$/.exec(header);
    if (!match) throw new InputError('invalid_if_match', "If-Match must be the quoted 40-hex tip of the change request", { field: 'If-Match' });
    fromHeader = match[1];
  }
  const fromBody = stringField(body, 'tip', { optional: true });
  if (fromBody !== undefined && !SHA.test(fromBody)) throw new InputError('invalid_revision', "'tip' must be a 40-hex revision", { field: 'tip' });
  if (fromHeader && fromBody && fromHeader !== fromBody) throw new InputError('invalid_revision', 'If-Match and tip name different revisions', { field: 'tip' });
  return fromHeader ?? fromBody;
}

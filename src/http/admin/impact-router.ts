import { Router } from 'express';
import type { ImpactAnalysis } from '../../domain/impact/impact-analysis.js';
import { parseImpactRequest, type ImpactLimits } from '../../domain/impact/impact-request.js';
import { jsonBody, type JsonBodyLimits } from '../body/json-body.js';
import { requireRole } from '../middleware/require-role.js';
import { bodyOf } from './request-context.js';

export interface ImpactRouterDeps {
  impact: ImpactAnalysis;
  limits: ImpactLimits;
  /** Size and nesting limits of JSON bodies. */
  body: JsonBodyLimits;
}

/**
 * `POST /api/impact` (editor) `{from, to, inputs?, query?, decisions?: {since, until, path, limit}, examples?}`:
 * the decisions that change between two revisions, replayed by real OPA (one process per revision).
 */
export function createImpactRouter(deps: ImpactRouterDeps): Router {
  const router = Router();
  router.post('/impact', requireRole('editor'), ...jsonBody(deps.body), async (req, res) => {
    const request = parseImpactRequest(bodyOf(req), deps.limits);
    res.set('Cache-Control', 'no-store').json(await deps.impact.analyze(request));
  });
  return router;
}

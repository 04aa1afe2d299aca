import express, { Router } from 'express';
import { NotFoundError } from '../../domain/errors.js';
import type { WebhookReceiver } from '../../domain/mirror/webhook-receiver.js';

export interface WebhookRouterDeps {
  /** Undefined in local mode, or when no webhook secret is configured: every delivery is then refused (404). */
  receiver?: WebhookReceiver;
  maxBodyBytes: number;
}

/**
 * `POST /hooks/git`, mounted at `/hooks` before `/api` (no bearer token: the Git host signs instead).
 * The raw body is read (size-capped, never inflated) only to check its HMAC; it is never parsed, so no
 * payload field can influence anything: a valid delivery only asks for a sync, and Regent fetches and
 * decides for itself. 202 when a sync was requested, 200 for a delivery seen before, 401 problem
 * (`webhook_signature_missing` / `webhook_signature_invalid`) otherwise.
 */
export function createWebhookRouter(deps: WebhookRouterDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const raw = express.raw({ type: () => true, limit: deps.maxBodyBytes, inflate: false });
  router.post('/git', (_req, _res, next) => {
    if (!deps.receiver) {
      next(new NotFoundError('webhook_not_configured', 'webhooks need remote mode and a webhook secret (remote.url, remote.webhookSecretFile)', { field: 'remote.webhookSecret' }));
      return;
    }
    next();
  }, raw, (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const outcome = deps.receiver!.receive(req.headers, body);
    res.status(outcome.status === 'sync_requested' ? 202 : 200).json(outcome);
  });
  return router;
}

import express, { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import { NotFoundError } from '../../domain/errors.js';
import type { WebhookReceiver } from '../../domain/mirror/webhook-receiver.js';

export interface WebhookRouterDeps {
  /** Undefined in local mode, or when no webhook secret is configured: every delivery is then refused (404). */
  receiver?: WebhookReceiver;
  maxBodyBytes: number;
  /** A body not read whole within this long is dropped (the connection is closed), freeing its slot. */
  bodyTimeoutMs?: number;
}

/**
 * `POST /hooks/git`, mounted at `/hooks` before `/api` (no bearer token: the Git host signs instead).
 * Before a byte of the body is read, the receiver refuses what cannot be genuine (no signature header,
 * a malformed one, a wrong GitLab token: 401), a declared length over `remote.webhookMaxBodyBytes`
 * (413), and a delivery beyond the bodies already being read (503 `webhooks_busy`, `Retry-After: 1`).
 * Then the raw body is read (size-capped as it streams, never inflated) only to check its HMAC; it is
 * never parsed, so no payload field can influence anything: a valid delivery only asks for a sync, and
 * Regent fetches and decides for itself. 202 when a sync was requested, 200 for a delivery seen before.
 */
export function createWebhookRouter(deps: WebhookRouterDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const raw = express.raw({ type: () => true, limit: deps.maxBodyBytes, inflate: false });
  const admit: RequestHandler = (req, res, next) => {
    if (!deps.receiver) {
      next(new NotFoundError('webhook_not_configured', 'webhooks need remote mode and a webhook secret (remote.url, remote.webhookSecretFile)', { field: 'remote.webhookSecret' }));
      return;
    }
    const length = req.headers['content-length'];
    try {
      const release = deps.receiver.admit(req.headers, length === undefined ? undefined : Number(length), req.socket.remoteAddress);
      // A body trickled in to hold a slot is cut off: Git hosts send theirs at once.
      const deadline = setTimeout(() => {
        if (!req.complete) req.destroy();
      }, deps.bodyTimeoutMs ?? 5000);
      // The slot is free once the answer is sent or the client went away, whichever comes first.
      res.once('close', () => {
        clearTimeout(deadline);
        release();
      });
      next();
    } catch (error) {
      next(error);
    }
  };
  const countTooLarge: ErrorRequestHandler = (error: unknown, _req, _res, next) => {
    if ((error as { type?: unknown }).type === 'entity.too.large') deps.receiver?.noteTooLarge();
    next(error);
  };
  const receive: RequestHandler = (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const outcome = deps.receiver!.receive(req.headers, body);
    res.status(outcome.status === 'sync_requested' ? 202 : 200).json(outcome);
  };
  router.post('/git', admit, raw, receive, countTooLarge);
  return router;
}

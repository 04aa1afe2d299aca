import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { Registry } from 'prom-client';
import { AuthenticationError } from '../../domain/errors.js';

export interface MetricsRouterDeps {
  registry: Registry;
  /** When set, scrapers must send `Authorization: Bearer <token>` (`metrics.token`). */
  token?: string;
}

/**
 * `GET /metrics`: Prometheus text format (version 0.0.4). Public by default, like `/status`, which says
 * the same things (Prometheus scrapers usually carry no token); with `metrics.token` set, 401
 * `metrics_token_invalid` without it (Prometheus: `authorization: {credentials_file: ...}`).
 * `Cache-Control: no-store`.
 */
export function createMetricsRouter(deps: MetricsRouterDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const expected = deps.token === undefined ? undefined : digest(deps.token);
  router.get('/metrics', async (req, res) => {
    if (expected) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
        throw new AuthenticationError('metrics_token_invalid', 'metrics need the scrape token: Authorization: Bearer <metrics.token>', { field: 'Authorization' });
      }
    }
    const text = await deps.registry.metrics();
    res.set('Cache-Control', 'no-store').type(deps.registry.contentType).send(text);
  });
  return router;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

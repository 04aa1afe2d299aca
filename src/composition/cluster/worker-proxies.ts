import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../domain/logger.js';
import { createPrimaryProxy } from '../../http/primary-proxy.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** How many requests of each kind a worker passes to the primary at once, at most. */
export interface WorkerProxyLimits {
  /** The admin API, `/status`, `/health/*`, the web view, status reports, decision logs, webhooks. */
  app: number;
  /** Delta bundle requests (`?deltas=true`), which only the primary builds; long polls among them are held there. */
  deltas: number;
}

export const WORKER_PROXY_LIMITS: Readonly<WorkerProxyLimits> = { app: 1024, deltas: 1024 };

/**
 * A worker's two ways to the primary, each with its own bound: delta long polls, held at the primary
 * for up to `bundles.longPollMaxSeconds`, can fill theirs without taking a slot from the admin API or
 * `/health` (which then still answer through this worker).
 */
export function createWorkerProxies(options: { socketPath: string; logger: Logger; idleTimeoutMs: number; limits?: WorkerProxyLimits }): { app: Handler; deltas: Handler } {
  const limits = options.limits ?? WORKER_PROXY_LIMITS;
  const common = { socketPath: options.socketPath, logger: options.logger, idleTimeoutMs: options.idleTimeoutMs };
  return {
    app: createPrimaryProxy({ ...common, maxInFlight: limits.app }),
    deltas: createPrimaryProxy({ ...common, maxInFlight: limits.deltas, what: 'delta bundle requests' }),
  };
}

import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../domain/logger.js';

const bootId = randomBytes(4).toString('hex');
let counter = 0;
const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The caller's `X-Request-Id` when it is sane, else a cheap unique id (boot id + counter). */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return requestIdFrom(typeof given === 'string' ? given : undefined);
}

/** {@link requestIdOf} for an `X-Request-Id` value read elsewhere (the bundle fast path). */
export function requestIdFrom(given: string | undefined): string {
  if (given !== undefined && VALID_REQUEST_ID.test(given)) return given;
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${bootId}-${counter.toString(36)}`;
}

export interface Completion {
  reqId: string;
  method: string;
  route: string;
  status: number;
  bytes: number;
  ms: number;
  subject?: string;
  [extra: string]: unknown;
}

/**
 * One completion line per request; 499 when the client went away first; 5xx at error, but 503 (not
 * ready yet, remote unavailable) at warn. Unchanged-bundle answers (304)
 * are logged at debug: they are the fleet's heartbeat, tens of thousands a second at scale.
 */
export function logCompletion(logger: Logger, completion: Completion): void {
  const fields = { ...completion, ms: Math.round(completion.ms * 100) / 100 };
  // 503 is Regent saying "not yet" (no active revision, remote unreachable): expected, not a fault.
  if (completion.status >= 500 && completion.status !== 503) logger.error(fields, 'request completed');
  else if (completion.status === 503) logger.warn(fields, 'request completed');
  else if (completion.status === 304) logger.debug(fields, 'request completed');
  else logger.info(fields, 'request completed');
}

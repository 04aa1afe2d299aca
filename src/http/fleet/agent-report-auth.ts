import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AuthenticationError, NotAllowedError } from '../../domain/errors.js';

export interface AgentReportAuthOptions {
  /** When set, agents must send `Authorization: Bearer <token>` (OPA: `services.regent.credentials.bearer`). */
  reportToken?: string;
  /** Whether reports without a configured token are accepted (development mode); otherwise they are refused. */
  acceptWithoutToken: boolean;
}

/**
 * Who may send what agents report (`POST /status`, `POST /logs`): everything they send is a claim Regent
 * keeps. With `fleet.reportToken` set, the agent must present it as a bearer token (401
 * `report_token_invalid`, compared in constant time); without one, reports are taken in development mode
 * only (403 `fleet_reports_disabled` otherwise). One middleware for both endpoints, so replacing it
 * (per-agent credentials) changes both at once.
 */
export function agentReportAuth(options: AgentReportAuthOptions): RequestHandler {
  const expected = options.reportToken === undefined ? undefined : digest(options.reportToken);
  return (req, _res, next) => {
    if (!expected) {
      next(options.acceptWithoutToken ? undefined : new NotAllowedError('fleet_reports_disabled', 'agent reports (status, decision logs) are off: set fleet.reportToken (REGENT_FLEET_REPORT_TOKEN) and give agents the same bearer token', { field: 'fleet.reportToken' }));
      return;
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      next(new AuthenticationError('report_token_invalid', 'agent reports need the fleet report token: Authorization: Bearer <fleet.reportToken>', { field: 'Authorization' }));
      return;
    }
    next();
  };
}

/** SHA-256 of a token: compared in constant time whatever the lengths. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

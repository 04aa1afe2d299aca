import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AgentAuthError, type AgentAuthenticator } from '../../domain/agents/agent-authenticator.js';
import { AuthenticationError, NotAllowedError } from '../../domain/errors.js';
import type { Logger } from '../../domain/logger.js';
import { setAgent } from '../agents/agent-auth.js';

export interface AgentReportAuthOptions {
  /** When set, agents may send `Authorization: Bearer <token>` (OPA: `services.regent.credentials.bearer`). */
  reportToken?: string;
  /** Whether reports without a configured token are accepted (development mode); otherwise they are refused. */
  acceptWithoutToken: boolean;
  /**
   * Agent credentials (`agents.*`). When they are required, a report needs an agent token (its name is
   * kept with what it reported: `identity` in the fleet view, `agent` on a decision) or the fleet report
   * token; when access is open, the report token rules alone apply.
   */
  agents?: AgentAuthenticator;
  logger?: Logger;
}

/**
 * Who may send what agents report (`POST /status`, `POST /logs`): everything they send is a claim Regent
 * keeps. When agent credentials are required, an agent token (401 `agent_token_missing` /
 * `agent_token_invalid`) or the fleet report token is needed. Otherwise, with `fleet.reportToken` set,
 * the agent must present it as a bearer token (401 `report_token_invalid`, compared in constant time);
 * without one, reports are taken in development mode only (403 `fleet_reports_disabled` otherwise). One
 * middleware for both endpoints, so they can never disagree.
 */
export function agentReportAuth(options: AgentReportAuthOptions): RequestHandler {
  const expected = options.reportToken === undefined ? undefined : digest(options.reportToken);
  const reportTokenMatches = (authorization: string | undefined): boolean => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    return expected !== undefined && match !== null && timingSafeEqual(digest(match[1]!), expected);
  };
  const withAgentCredentials = (agents: AgentAuthenticator): RequestHandler => (req, res, next) => {
    try {
      setAgent(res, agents.authenticate(req.headers.authorization));
      next();
    } catch (error) {
      if (error instanceof AgentAuthError && reportTokenMatches(req.headers.authorization)) {
        next();
        return;
      }
      if (error instanceof AgentAuthError) options.logger?.info({ reqId: res.locals.reqId, reason: error.code, detail: error.reason }, 'agent authentication refused');
      next(error);
    }
  };
  const withReportToken: RequestHandler = (req, _res, next) => {
    if (!expected) {
      next(options.acceptWithoutToken ? undefined : new NotAllowedError('fleet_reports_disabled', 'agent reports (status, decision logs) are off: set fleet.reportToken (REGENT_FLEET_REPORT_TOKEN) and give agents the same bearer token', { field: 'fleet.reportToken' }));
      return;
    }
    if (!reportTokenMatches(req.headers.authorization)) {
      next(new AuthenticationError('report_token_invalid', 'agent reports need the fleet report token: Authorization: Bearer <fleet.reportToken>', { field: 'Authorization' }));
      return;
    }
    next();
  };
  return options.agents && !options.agents.open ? withAgentCredentials(options.agents) : withReportToken;
}

/** SHA-256 of a token: compared in constant time whatever the lengths. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

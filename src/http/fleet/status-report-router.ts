import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import { AgentAuthError, type AgentAuthenticator } from '../../domain/agents/agent-authenticator.js';
import { AuthenticationError, NotAllowedError } from '../../domain/errors.js';
import { jsonBody, type JsonBodyLimits } from '../body/json-body.js';
import { parseAgentStatusReport } from '../../domain/fleet/agent-status-report.js';
import type { FleetRegistry } from '../../domain/fleet/fleet-registry.js';
import type { Logger } from '../../domain/logger.js';
import { agentOf, setAgent } from '../agents/agent-auth.js';

export interface StatusReportRouterDeps {
  registry: FleetRegistry;
  /** When set, agents must send `Authorization: Bearer <token>` (OPA: `services.regent.credentials.bearer`). */
  reportToken?: string;
  /** Whether reports without a configured token are accepted (development mode); otherwise they are refused. */
  acceptWithoutToken: boolean;
  /** Size (`fleet.maxReportBytes`) and nesting limits of a report. */
  body: JsonBodyLimits;
  /**
   * Agent credentials (`agents.*`). When they are required, a report needs an agent token (its name is
   * kept with the agent in the fleet view) or the fleet report token; when access is open, the report
   * token rules alone apply.
   */
  agents?: AgentAuthenticator;
  logger?: Logger;
}

/**
 * `POST /status` and `POST /status/<partition>`: OPA's status API (`status: {service: regent}` in the agent
 * config). Each report says which revision of each bundle the agent enforces, when it last downloaded
 * and activated, and its last error; it goes into the fleet registry (`GET /api/fleet`). 200 `{}` as OPA
 * expects; 400 `invalid_status_report` naming the field, 413 over `fleet.maxReportBytes`, 401
 * `report_token_invalid` when a report token is configured and the agent did not send it; outside
 * development mode, without a token configured, 403 `fleet_reports_disabled` (reports are claims anyone
 * could make, and each is kept). When agent credentials are required (`agents.*`), a report needs an
 * agent token (401 `agent_token_missing` / `agent_token_invalid` otherwise) or the report token, and the
 * token's name is kept with the agent (`identity` in the fleet view).
 */
export function createStatusReportRouter(deps: StatusReportRouterDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const expected = deps.reportToken === undefined ? undefined : digest(deps.reportToken);
  const json = jsonBody({ ...deps.body, inflate: true, requireJsonType: false });
  const reportTokenMatches = (authorization: string | undefined): boolean => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    return expected !== undefined && match !== null && timingSafeEqual(digest(match[1]!), expected);
  };
  const withAgentCredentials: RequestHandler = (req, res, next) => {
    try {
      setAgent(res, deps.agents!.authenticate(req.headers.authorization));
      next();
    } catch (error) {
      if (error instanceof AgentAuthError && reportTokenMatches(req.headers.authorization)) {
        next();
        return;
      }
      if (error instanceof AgentAuthError) deps.logger?.info({ reqId: res.locals.reqId, reason: error.code, detail: error.reason }, 'agent authentication refused');
      next(error);
    }
  };
  const withReportToken: RequestHandler = (req, _res, next) => {
    if (!expected) {
      next(deps.acceptWithoutToken ? undefined : new NotAllowedError('fleet_reports_disabled', 'status reports are off: set fleet.reportToken (REGENT_FLEET_REPORT_TOKEN) and give agents the same bearer token', { field: 'fleet.reportToken' }));
      return;
    }
    if (!reportTokenMatches(req.headers.authorization)) {
      next(new AuthenticationError('report_token_invalid', 'status reports need the fleet report token: Authorization: Bearer <fleet.reportToken>', { field: 'Authorization' }));
      return;
    }
    next();
  };
  const authenticate = deps.agents && !deps.agents.open ? withAgentCredentials : withReportToken;
  router.post(['/status', '/status/*partition'], authenticate, ...json, (req, res) => {
    deps.registry.record(parseAgentStatusReport(req.body), agentOf(res)?.name);
    res.status(200).json({});
  });
  return router;
}

/** SHA-256 of a token: compared in constant time whatever the lengths. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

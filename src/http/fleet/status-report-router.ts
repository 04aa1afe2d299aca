import { Router, type RequestHandler } from 'express';
import type { AgentAuthenticator } from '../../domain/agents/agent-authenticator.js';
import { jsonBody, type JsonBodyLimits } from '../body/json-body.js';
import { parseAgentStatusReport, parsePartition } from '../../domain/fleet/agent-status-report.js';
import type { FleetRegistry } from '../../domain/fleet/fleet-registry.js';
import type { Logger } from '../../domain/logger.js';
import { agentOf } from '../agents/agent-auth.js';
import { agentReportAuth } from './agent-report-auth.js';

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
 * token's name is kept with the agent (`identity` in the fleet view). The partition of
 * `POST /status/<partition>` (OPA's `status.partition_name`) is kept on the agent's record.
 */
export function createStatusReportRouter(deps: StatusReportRouterDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const json = jsonBody({ ...deps.body, inflate: true, requireJsonType: false });
  const auth = agentReportAuth(deps);
  const receive: RequestHandler = (req, res) => {
    const partition = parsePartition((req.params as { partition?: string[] }).partition, 'invalid_status_report');
    deps.registry.record({ ...parseAgentStatusReport(req.body), ...(partition === undefined ? {} : { partition }) }, agentOf(res)?.name);
    res.status(200).json({});
  };
  // Two routes, so requests are counted under the path they took.
  router.post('/status', auth, ...json, receive);
  router.post('/status/*partition', auth, ...json, receive);
  return router;
}

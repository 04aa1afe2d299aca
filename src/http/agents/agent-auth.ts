import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { AgentAuthError, type AgentAuthenticator } from '../../domain/agents/agent-authenticator.js';
import type { AgentIdentity } from '../../domain/agents/agent-identity.js';
import type { Logger } from '../../domain/logger.js';
import { bearerChallenge } from '../error-handler.js';
import { writeProblem } from '../problem.js';

/**
 * The agent behind a bare node:http request (the bundle path), or undefined after answering 401 (a
 * problem document with `WWW-Authenticate: Bearer`). The reason goes to the log, never the token.
 */
export function agentOfRequest(req: IncomingMessage, res: ServerResponse, authenticator: AgentAuthenticator, logger: Logger): { identity: AgentIdentity } | { refused: number } {
  try {
    return { identity: authenticator.authenticate(req.headers.authorization) };
  } catch (error) {
    if (!(error instanceof AgentAuthError)) throw error;
    logger.info({ reason: error.code, detail: error.reason, url: req.url?.slice(0, 200) }, 'agent authentication refused');
    const bytes = writeProblem(res, { status: 401, code: error.code, title: 'Authentication required', detail: error.message, field: 'Authorization' }, { 'WWW-Authenticate': bearerChallenge(error) });
    return { refused: bytes };
  }
}

/**
 * Express middleware for agent endpoints (`POST /status`, `POST /logs`): sets `res.locals.agent` (an
 * {@link AgentIdentity}) and `res.locals.subject`, or passes the {@link AgentAuthError} on to the error
 * handler (401, `WWW-Authenticate: Bearer`).
 */
export function requireAgent(authenticator: AgentAuthenticator, logger?: Logger): RequestHandler {
  return (req, res, next) => {
    try {
      setAgent(res, authenticator.authenticate(req.headers.authorization));
      next();
    } catch (error) {
      if (error instanceof AgentAuthError) logger?.info({ reqId: res.locals.reqId, reason: error.code, detail: error.reason }, 'agent authentication refused');
      next(error);
    }
  };
}

/** The agent a request was authenticated as by {@link requireAgent}, if any. */
export function agentOf(res: Response): AgentIdentity | undefined {
  return res.locals.agent as AgentIdentity | undefined;
}

export function setAgent(res: Response, identity: AgentIdentity): void {
  res.locals.agent = identity;
  res.locals.subject = `agent:${identity.name}`;
}

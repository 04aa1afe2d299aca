import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { describe, expect, onTestFinished, test } from 'vitest';
import { AgentAuthenticator } from '../../domain/agents/agent-authenticator.js';
import { AgentTokenTable } from '../../domain/agents/agent-token-table.js';
import { createErrorHandler } from '../error-handler.js';
import { agentOf, requireAgent } from './agent-auth.js';

/** An Express app with one agent endpoint behind `requireAgent`, as `POST /logs` is wired. */
async function appWith(authenticator: AgentAuthenticator): Promise<string> {
  const app = express();
  app.post('/logs', requireAgent(authenticator), (_req, res) => {
    res.json({ agent: agentOf(res)?.name, subject: res.locals.subject });
  });
  app.use(createErrorHandler(pino({ level: 'silent' })));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('requireAgent (Express)', () => {
  const token = 'agent-token-0123456789abcdef';
  const authenticator = AgentAuthenticator.create({ tokens: AgentTokenTable.from([{ name: 'edge-7', sha256: createHash('sha256').update(token).digest('hex'), bundles: ['*'], environments: ['default'] }]) });

  test('sets the agent identity for the route', async () => {
    const url = await appWith(authenticator);
    const response = await fetch(`${url}/logs`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    expect(await response.json()).toEqual({ agent: 'edge-7', subject: 'agent:edge-7' });
  });

  test.each([
    ['no token', {}, 'agent_token_missing', 'Bearer realm="regent"'],
    ['a wrong token', { Authorization: 'Bearer nope-nope-nope' }, 'agent_token_invalid', expect.stringContaining('error="invalid_token"')],
  ])('answers %s with 401, a problem and a Bearer challenge', async (_name, headers, code, challenge) => {
    const url = await appWith(authenticator);
    const response = await fetch(`${url}/logs`, { method: 'POST', headers });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.headers.get('www-authenticate')).toEqual(challenge);
    expect(await response.json()).toMatchObject({ code, status: 401 });
  });

  test('open access lets everyone through as anonymous', async () => {
    const url = await appWith(AgentAuthenticator.open());
    expect(await (await fetch(`${url}/logs`, { method: 'POST' })).json()).toEqual({ agent: 'anonymous', subject: 'agent:anonymous' });
  });
});

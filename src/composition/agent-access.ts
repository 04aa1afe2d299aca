import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { RegentConfig } from '../config/schema.js';
import { AgentAuthenticator } from '../domain/agents/agent-authenticator.js';
import { AgentTokenTable } from '../domain/agents/agent-token-table.js';
import { InputError, isRegentError } from '../domain/errors.js';
import { RefetchTracker } from '../domain/fleet/refetch-tracker.js';
import type { Logger } from '../domain/logger.js';
import { HeldPollsPerAgent } from '../http/bundles/held-polls.js';
import { loadAgentJwtVerifier, readAgentTokensFile } from '../keys/load-agent-credentials.js';

export interface AgentAccess {
  authenticator: AgentAuthenticator;
  heldPolls: HeldPollsPerAgent;
  refetches: RefetchTracker;
  /** `GET /status` → `agents`. */
  status(): Record<string, unknown>;
  /** Reads the tokens file again (SIGHUP); a file that does not read keeps the tokens in force. */
  reload(trigger: string): void;
  close(): void;
}

/** How often the tokens file is looked at for changes (its mtime, size and inode). */
const TOKENS_FILE_POLL_MS = 1000;

/**
 * Agent credentials from `agents.*`: tokens from `agents.tokensFile` (re-read when the file changes and
 * on SIGHUP) and/or JWTs from `agents.jwt`. Without either, access is open in development mode or with
 * `agents.allowAnonymous` (said loudly at start-up and in `/status`); otherwise start-up stops with
 * `agent_credentials_missing` naming the keys, so a production Regent never serves bundles to anyone by
 * accident. Also the per-agent limit on held long polls and the re-fetch tracker of the bundle path.
 */
export function openAgentAccess(config: Readonly<RegentConfig>, logger: Logger): AgentAccess {
  const settings = config.agents;
  const log = logger.child({ component: 'agents' });
  const configured = settings.tokensFile !== undefined || settings.jwt !== undefined;
  if (configured && settings.allowAnonymous) {
    throw new InputError('invalid_config', "invalid configuration at 'agents.allowAnonymous': agent credentials are configured (agents.tokensFile / agents.jwt); open access would make them pointless", { field: 'agents.allowAnonymous' });
  }
  if (!configured && !config.dev && !settings.allowAnonymous) {
    throw new InputError('agent_credentials_missing', 'no agent credentials: set agents.tokensFile (REGENT_AGENT_TOKENS_FILE) or agents.jwt so agents prove who they are, or agents.allowAnonymous: true in the config file to serve every bundle to anyone who reaches Regent (development mode, --dev, is open by default)', { field: 'agents.tokensFile' });
  }

  const tokensFile = settings.tokensFile;
  const tokensState: { tokens: number; loadedAt?: string; lastError: { code: string; message: string; at: string } | null } = { tokens: 0, lastError: null };
  let authenticator: AgentAuthenticator;
  if (!configured) {
    authenticator = AgentAuthenticator.open();
    log.warn({ access: 'open', because: config.dev ? 'development mode' : 'agents.allowAnonymous' }, 'agent access is OPEN: anyone who reaches Regent reads every bundle and may report status; configure agents.tokensFile or agents.jwt');
  } else {
    const entries = tokensFile === undefined ? undefined : readAgentTokensFile(tokensFile);
    if (entries) Object.assign(tokensState, { tokens: entries.length, loadedAt: new Date().toISOString() });
    authenticator = AgentAuthenticator.create({
      tokens: entries ? AgentTokenTable.from(entries) : undefined,
      jwt: settings.jwt ? loadAgentJwtVerifier(settings.jwt) : undefined,
    });
    log.info({ tokensFile, tokens: entries?.length, jwtIssuer: settings.jwt?.issuer }, 'agent credentials required');
  }

  const reload = (trigger: string): void => {
    if (tokensFile === undefined) return;
    try {
      const entries = readAgentTokensFile(tokensFile);
      authenticator.replaceTokens(AgentTokenTable.from(entries));
      Object.assign(tokensState, { tokens: entries.length, loadedAt: new Date().toISOString(), lastError: null });
      log.info({ tokensFile, tokens: entries.length, trigger }, 'agent tokens reloaded');
    } catch (error) {
      const code = isRegentError(error) ? error.code : 'internal_error';
      tokensState.lastError = { code, message: (error as Error).message, at: new Date().toISOString() };
      log.error({ tokensFile, code, reason: (error as Error).message, trigger }, 'agent tokens file not reloaded; the tokens read before stay in force');
    }
  };
  const onChange = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size || current.ino !== previous.ino || current.mode !== previous.mode) reload('file changed');
  };
  if (tokensFile !== undefined) watchFile(tokensFile, { interval: TOKENS_FILE_POLL_MS, persistent: false }, onChange);

  const heldPolls = new HeldPollsPerAgent(settings.maxHeldPollsPerAgent);
  const longest = config.bundles.longPollMaxSeconds * 1000;
  const refetches = RefetchTracker.create({ initialHoldMs: 1000, maxHoldMs: longest, maxClients: 100_000, forgetAfterMs: Math.max(10 * 60_000, 2 * longest), newConnectionWindowMs: 2000 });
  return {
    authenticator,
    heldPolls,
    refetches,
    status() {
      return {
        ...authenticator.stats(),
        ...(authenticator.open ? { openBecause: config.dev ? 'development mode' : 'agents.allowAnonymous' } : {}),
        tokensFile: tokensFile === undefined ? null : { path: tokensFile, ...tokensState },
        jwt: settings.jwt ? { issuer: settings.jwt.issuer, audience: settings.jwt.audience } : null,
        heldPolls: heldPolls.stats(),
        refetches: refetches.stats(),
      };
    },
    reload,
    close() {
      if (tokensFile !== undefined) unwatchFile(tokensFile, onChange);
    },
  };
}

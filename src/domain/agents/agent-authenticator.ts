import { JwtCheckFailure, looksLikeJwt, MAX_TOKEN_BYTES } from '../auth/jwt-hardening.js';
import { AuthenticationError } from '../errors.js';
import { ANONYMOUS_AGENT, type AgentIdentity } from './agent-identity.js';
import type { AgentJwtVerifier } from './agent-jwt-verifier.js';
import type { AgentTokenTable } from './agent-token-table.js';

export type AgentAuthCode = 'agent_token_missing' | 'agent_token_invalid' | 'agent_token_expired';

const MESSAGES: Readonly<Record<AgentAuthCode, string>> = {
  agent_token_missing: "agents need an 'Authorization: Bearer <token>' header (OPA: services.<name>.credentials.bearer)",
  agent_token_invalid: 'the agent token is not valid for this service',
  agent_token_expired: 'the agent token has expired; the agent needs a new one',
};

/** An agent credential refused; `reason` (never the token) is for the log only. */
export class AgentAuthError extends AuthenticationError {
  declare readonly code: AgentAuthCode;
  readonly reason: string;

  constructor(code: AgentAuthCode, reason: string, options?: { cause?: unknown }) {
    super(code, MESSAGES[code], { field: 'Authorization' }, options);
    this.reason = reason;
  }
}

export interface AgentAuthenticatorOptions {
  /** Tokens from the tokens file (replaced on reload). */
  tokens?: AgentTokenTable;
  /** JWTs from an identity provider. */
  jwt?: AgentJwtVerifier;
  /** Authorization header values remembered with the identity they proved (default 10,000). */
  cacheSize?: number;
  now?: () => number;
}

/**
 * Who an OPA agent is, from its `Authorization: Bearer` header: a token from the tokens file (by its
 * SHA-256) or a JWT from an identity provider. Used by every agent endpoint (bundles, status reports,
 * decision logs). {@link open} accepts everyone as {@link ANONYMOUS_AGENT} (development mode, or
 * `agents.allowAnonymous`). Proven identities are remembered by the raw header value (bounded, oldest
 * forgotten first, JWTs until their `exp`), so the unchanged-bundle answer hashes no token and verifies
 * no signature; refusals are never remembered.
 */
export class AgentAuthenticator {
  private readonly cache = new Map<string, AgentIdentity>();
  private tokens: AgentTokenTable | undefined;
  private refusedCount = 0;
  private acceptedCount = 0;

  private constructor(private readonly options: AgentAuthenticatorOptions, readonly open: boolean) {
    this.tokens = options.tokens;
  }

  /** Everyone is {@link ANONYMOUS_AGENT}: open access. */
  static open(): AgentAuthenticator {
    return new AgentAuthenticator({}, true);
  }

  static create(options: AgentAuthenticatorOptions): AgentAuthenticator {
    if (!options.tokens && !options.jwt) throw new Error('agent credentials need a tokens table or a JWT verifier (or open access)');
    return new AgentAuthenticator(options, false);
  }

  /** The identity the header proves; throws {@link AgentAuthError}. */
  authenticate(authorization: string | undefined): AgentIdentity {
    if (this.open) return ANONYMOUS_AGENT;
    if (authorization === undefined) throw this.refuse(new AgentAuthError('agent_token_missing', 'no Authorization header'));
    const cached = this.cache.get(authorization);
    if (cached && (cached.expiresAtMs === undefined || cached.expiresAtMs > this.now())) {
      this.acceptedCount++;
      return cached;
    }
    if (cached) this.cache.delete(authorization);
    const identity = this.identify(authorization);
    const max = this.options.cacheSize ?? 10_000;
    if (this.cache.size >= max) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(authorization, identity);
    this.acceptedCount++;
    return identity;
  }

  /**
   * The identity `authorization` was proven to be and is still remembered as (open access: anonymous),
   * counted as accepted; undefined when it would take a check (a header never seen, expired, or none),
   * which {@link authenticate} then makes. Verifies nothing and refuses nothing: for a fast path that
   * hands everything else to the full check.
   */
  remembered(authorization: string | undefined): AgentIdentity | undefined {
    if (this.open) return ANONYMOUS_AGENT;
    if (authorization === undefined) return undefined;
    const cached = this.cache.get(authorization);
    if (!cached || (cached.expiresAtMs !== undefined && cached.expiresAtMs <= this.now())) return undefined;
    this.acceptedCount++;
    return cached;
  }

  /** The tokens file was read again: new tokens apply at once, removed ones stop working at once. */
  replaceTokens(tokens: AgentTokenTable): void {
    this.tokens = tokens;
    this.cache.clear();
  }

  stats(): { access: 'open' | 'credentials'; tokens: number; jwt: boolean; accepted: number; refused: number; remembered: number } {
    return { access: this.open ? 'open' : 'credentials', tokens: this.tokens?.size ?? 0, jwt: this.options.jwt !== undefined, accepted: this.acceptedCount, refused: this.refusedCount, remembered: this.cache.size };
  }

  private identify(authorization: string): AgentIdentity {
    const match = /^\s*(\S+)(?:\s+(.*?))?\s*$/s.exec(authorization);
    if (!match || match[1]!.toLowerCase() !== 'bearer') throw this.refuse(new AgentAuthError('agent_token_missing', 'Authorization scheme is not Bearer'));
    const token = match[2] ?? '';
    if (token === '' || /\s/.test(token)) throw this.refuse(new AgentAuthError('agent_token_invalid', 'Bearer must be followed by exactly one token'));
    if (token.length > MAX_TOKEN_BYTES) throw this.refuse(new AgentAuthError('agent_token_invalid', `token longer than ${MAX_TOKEN_BYTES} bytes`));
    const fromFile = this.tokens?.identify(token);
    if (fromFile) return fromFile;
    if (!this.options.jwt || !looksLikeJwt(token)) throw this.refuse(new AgentAuthError('agent_token_invalid', this.options.jwt ? 'not a listed token, nor a JWT' : 'not a listed token'));
    try {
      return this.options.jwt.verify(token);
    } catch (error) {
      if (!(error instanceof JwtCheckFailure)) throw error;
      throw this.refuse(new AgentAuthError(error.kind === 'expired' ? 'agent_token_expired' : 'agent_token_invalid', `JWT: ${error.reason}`, { cause: error.cause }));
    }
  }

  private refuse(error: AgentAuthError): AgentAuthError {
    this.refusedCount++;
    return error;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}

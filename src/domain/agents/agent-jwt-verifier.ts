import type { KeyObject } from 'node:crypto';
import { clip, JwtCheckFailure, plainClaim, verifyHardenedJwt } from '../auth/jwt-hardening.js';
import { AGENT_NAME, BUNDLE_PATTERN, DEFAULT_BUNDLE_SET, SET_PATTERN, type AgentIdentity } from './agent-identity.js';

export interface AgentJwtVerifierOptions {
  /** Accepted `alg` values (asymmetric: the identity provider keeps the private key). */
  algorithms: readonly string[];
  /** Verification keys by `kid` (a JWKS), or one key under `''` (a PEM public key file). */
  keys: ReadonlyMap<string, KeyObject>;
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  maxTokenLifetimeSeconds: number;
  /** Claim naming the agent (`sub`). */
  subjectClaim: string;
  /** Claim listing the bundles it may read: an array of names, or one space-separated string. */
  bundlesClaim: string;
  /** Claim listing the bundle sets it may read (environments, `default`); `[default]` when absent. */
  environmentsClaim: string;
  now?: () => number;
}

const MAX_LISTED = 1000;

/**
 * Agent credentials issued by an identity provider: JWTs (OAuth2 client credentials, a Kubernetes
 * projected service-account token read through OPA's `credentials.bearer.token_path`) with the same
 * hardening as admin tokens (pinned algorithms, `iss`, `aud`, `exp`, `iat`, a lifetime cap, size and
 * shape limits), verified with the provider's keys, never Regent's. The subject names the agent; a
 * claim lists the bundles it may read. Failures are `JwtCheckFailure`s.
 */
export class AgentJwtVerifier {
  private constructor(private readonly options: Readonly<AgentJwtVerifierOptions>) {}

  static create(options: AgentJwtVerifierOptions): AgentJwtVerifier {
    if (options.keys.size === 0) throw new Error('agent JWTs need at least one verification key');
    for (const key of options.keys.values()) if (key.type !== 'public') throw new Error('agent JWTs are verified with public keys');
    return new AgentJwtVerifier(Object.freeze({ ...options }));
  }

  verify(token: string): AgentIdentity {
    const { keys } = this.options;
    const claims = verifyHardenedJwt(token, {
      ...this.options,
      keyFor: (header) => {
        if (header.kid !== undefined) {
          const key = typeof header.kid === 'string' ? keys.get(header.kid) ?? (keys.size === 1 ? keys.get('') : undefined) : undefined;
          if (!key) throw new JwtCheckFailure('invalid', `unknown kid '${clip(header.kid)}'`);
          return key;
        }
        if (keys.size !== 1) throw new JwtCheckFailure('invalid', `kid missing (${keys.size} keys to choose from)`);
        return keys.values().next().value as KeyObject;
      },
    });
    const name = plainClaim(claims[this.options.subjectClaim]);
    if (!name || !AGENT_NAME.test(name)) throw new JwtCheckFailure('invalid', `claim '${this.options.subjectClaim}' missing or not a plain name (letters, digits, . _ : @ / -)`);
    const bundles = listClaim(claims[this.options.bundlesClaim], BUNDLE_PATTERN, this.options.bundlesClaim);
    if (!bundles) throw new JwtCheckFailure('invalid', `claim '${this.options.bundlesClaim}' missing: it lists the bundles the agent may read`);
    const environments = listClaim(claims[this.options.environmentsClaim], SET_PATTERN, this.options.environmentsClaim) ?? [DEFAULT_BUNDLE_SET];
    return Object.freeze({ name, source: 'jwt', bundles: Object.freeze(bundles), environments: Object.freeze(environments), expiresAtMs: (claims.exp as number) * 1000 });
  }
}

/** A claim listing names: an array of strings or one space-separated string; undefined when absent. */
function listClaim(value: unknown, pattern: RegExp, claim: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = typeof value === 'string' ? value.split(' ').filter(Boolean) : value;
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_LISTED || !items.every((item) => typeof item === 'string' && pattern.test(item))) {
    throw new JwtCheckFailure('invalid', `claim '${claim}' is not a list of names (an array of strings or a space-separated string)`);
  }
  return items as string[];
}

import { randomBytes, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { InputError } from '../errors.js';
import { algorithmFamily, gitSafeName, plausibleEmail, type AdminTokenAlgorithm } from './admin-token-verifier.js';
import { isRole, ROLES, type Role } from './principal.js';

/**
 * Mints admin API tokens for development and for operators (`regent token`): exactly the shape
 * {@link AdminTokenVerifier} accepts (`typ: JWT`, the configured `kid`, `iss`, `aud`, `sub`, the role
 * claim, `iat`, `exp`, a random `jti`). Regent itself never issues tokens while serving; a deployment
 * with an identity provider does not need this at all.
 */

export interface AdminTokenIssuerOptions {
  /** The algorithm tokens are signed with (the first of `auth.algorithms`). */
  algorithm: AdminTokenAlgorithm;
  /** The HMAC secret (`secret` KeyObject) or the private key (`private` KeyObject). */
  key: KeyObject;
  keyId?: string;
  issuer: string;
  audience: string;
  roleClaim: string;
  /** Longer requested lifetimes are cut to this. */
  maxTokenLifetimeSeconds: number;
  /** Current time in seconds since the epoch (tests). */
  now?: () => number;
}

export interface IssueAdminTokenOptions {
  sub: string;
  role: Role;
  /** Display name for commits; the verifier falls back to `sub`. */
  name?: string;
  /** Author email for commits; the verifier falls back to `<sub>@users.regent.invalid`. */
  email?: string;
  /** Lifetime; default 3600, capped by `maxTokenLifetimeSeconds`. */
  ttlSeconds?: number;
}

export interface IssuedAdminToken {
  token: string;
  /** The `jti`. */
  tokenId: string;
  issuedAt: number;
  expiresAt: number;
  /** The lifetime granted, after the cap. */
  ttlSeconds: number;
  /** True when the requested lifetime was cut to the maximum. */
  capped: boolean;
}

export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
const MIN_SECRET_BYTES = 32;

export class AdminTokenIssuer {
  private constructor(private readonly options: Readonly<AdminTokenIssuerOptions>) {}

  /** Checks that the key fits the algorithm; throws `InputError` (`invalid_auth_key`) otherwise. */
  static create(options: AdminTokenIssuerOptions): AdminTokenIssuer {
    const family = algorithmFamily([options.algorithm]);
    if (family === 'hmac') {
      if (options.key.type !== 'secret') throw new InputError('invalid_auth_key', `${options.algorithm} tokens are signed with the HMAC secret, not a ${options.key.type} key`);
      if ((options.key.symmetricKeySize ?? 0) < MIN_SECRET_BYTES) throw new InputError('invalid_auth_key', `the admin token secret must have at least ${MIN_SECRET_BYTES} bytes`);
    } else if (options.key.type !== 'private') {
      throw new InputError('invalid_auth_key', `${options.algorithm} tokens are signed with a private key (--private-key), not a ${options.key.type} key`, { field: 'privateKey' });
    }
    return new AdminTokenIssuer(Object.freeze({ ...options }));
  }

  /** Signs a token; refuses (`InputError` `invalid_field`) a subject, role, name, email or ttl the verifier would not take. */
  issue(request: IssueAdminTokenOptions): IssuedAdminToken {
    const { sub, role, name, email } = request;
    // eslint-disable-next-line no-control-regex
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256 || /[\x00-\x1f\x7f\u2028\u2029]/.test(sub)) {
      throw new InputError('invalid_field', 'sub must be a non-empty string of at most 256 characters without control characters', { field: 'sub' });
    }
    if (!isRole(role)) throw new InputError('invalid_field', `role must be one of ${ROLES.join(', ')}`, { field: 'role' });
    if (name !== undefined && gitSafeName(name) !== name) {
      throw new InputError('invalid_field', "name must be at most 256 characters without <, >, control characters, or leading/trailing whitespace or .,:;\"'\\", { field: 'name' });
    }
    if (email !== undefined && !plausibleEmail(email)) throw new InputError('invalid_field', 'email must be a plain address like alice@example.com', { field: 'email' });
    const requested = request.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    if (!Number.isSafeInteger(requested) || requested < 1) throw new InputError('invalid_field', 'ttl must be a whole number of seconds, at least 1', { field: 'ttl' });
    const ttlSeconds = Math.min(requested, this.options.maxTokenLifetimeSeconds);

    const issuedAt = this.options.now?.() ?? Math.floor(Date.now() / 1000);
    const expiresAt = issuedAt + ttlSeconds;
    const tokenId = randomBytes(16).toString('base64url');
    const payload: Record<string, unknown> = {
      iss: this.options.issuer,
      aud: this.options.audience,
      sub,
      [this.options.roleClaim]: role,
      iat: issuedAt,
      exp: expiresAt,
      jti: tokenId,
    };
    if (name !== undefined) payload.name = name;
    if (email !== undefined) payload.email = email;
    const token = jwt.sign(payload, this.options.key, {
      algorithm: this.options.algorithm,
      header: { alg: this.options.algorithm, typ: 'JWT', ...(this.options.keyId === undefined ? {} : { kid: this.options.keyId }) },
    });
    return { token, tokenId, issuedAt, expiresAt, ttlSeconds, capped: ttlSeconds < requested };
  }
}

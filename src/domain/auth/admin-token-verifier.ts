import type { KeyObject } from 'node:crypto';
import { AuthenticationError } from '../errors.js';
import { clip, hasControl, JwtCheckFailure, MAX_CLAIM_LENGTH, verifyHardenedJwt, type JwtFailureKind } from './jwt-hardening.js';

export { MAX_TOKEN_BYTES } from './jwt-hardening.js';
import { isRole, type Principal } from './principal.js';

/**
 * Verification of admin API bearer tokens (JWTs). The algorithms and the one key are pinned from config;
 * `exp`, `iat`, `iss`, `aud`, `sub` and the role claim are required, and a token may not live longer than
 * the configured maximum. Admin tokens never share a key with bundle signing, and a token carrying a `kid`
 * other than the configured one is refused, so a `.signatures.json` JWT (public: every agent downloads
 * it) can never pass as an admin credential.
 */

export type AdminTokenAlgorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512';

/** Stable codes of {@link AdminTokenError}; the HTTP layer answers all of them with 401. */
export type TokenFailureCode = 'token_missing' | 'token_malformed' | 'token_expired' | 'token_not_yet_valid' | 'token_invalid';

/**
 * One fixed message per code, safe to return to the caller: it never echoes the token, and every
 * signature, algorithm, issuer, audience, key id or claim problem reads the same (`token_invalid`), so
 * the answer is no oracle. The precise reason is in {@link AdminTokenError.reason}, for logs and audit.
 */
export const TOKEN_FAILURE_MESSAGES: Readonly<Record<TokenFailureCode, string>> = {
  token_missing: "this endpoint needs an 'Authorization: Bearer <token>' header",
  token_malformed: 'the bearer token is not a well-formed JWT',
  token_expired: 'the token has expired; get a new one',
  token_not_yet_valid: 'the token is not valid yet (hint: check the clocks of the issuer and of Regent)',
  token_invalid: 'the token is not valid for this service',
};

/** An authentication failure with a stable `code`; `reason` is for the server's log and audit only. */
export class AdminTokenError extends AuthenticationError {
  declare readonly code: TokenFailureCode;
  /** Why, precisely (e.g. `audience mismatch`); never contains the token. Not sent to the client. */
  readonly reason: string;

  constructor(code: TokenFailureCode, reason: string, options?: { cause?: unknown }) {
    super(code, TOKEN_FAILURE_MESSAGES[code], {}, options);
    this.reason = reason;
  }
}

export interface AdminTokenVerifierOptions {
  /** Accepted `alg` values, all of one family (HMAC, RSA, or EC). */
  algorithms: readonly AdminTokenAlgorithm[];
  /** The HMAC secret (`secret` KeyObject) or the public key (`public` KeyObject). */
  key: KeyObject;
  /** When set, tokens must carry exactly this `kid`; when unset, tokens must carry none. */
  keyId?: string;
  issuer: string;
  audience: string;
  /** Claim holding the role. */
  roleClaim: string;
  clockToleranceSeconds: number;
  /** Refuse tokens whose `exp - iat` exceeds this. */
  maxTokenLifetimeSeconds: number;
  /** Current time in seconds since the epoch (tests). */
  now?: () => number;
}

const MIN_SECRET_BYTES = 32;

export class AdminTokenVerifier {
  private constructor(private readonly options: Readonly<AdminTokenVerifierOptions>) {}

  /** Checks the options (one algorithm family, a key of the right type); throws `Error` on a wiring bug. */
  static create(options: AdminTokenVerifierOptions): AdminTokenVerifier {
    const family = algorithmFamily(options.algorithms);
    if (family === 'hmac') {
      if (options.key.type !== 'secret') throw new Error('HS* admin token algorithms need a secret key');
      if ((options.key.symmetricKeySize ?? 0) < MIN_SECRET_BYTES) throw new Error(`the admin token secret must have at least ${MIN_SECRET_BYTES} bytes`);
    } else if (options.key.type !== 'public') {
      throw new Error('RS/PS/ES admin token algorithms need a public key');
    }
    return new AdminTokenVerifier(Object.freeze({ ...options, algorithms: [...options.algorithms] }));
  }

  /** The principal a valid token names. Every failure is an {@link AdminTokenError}. */
  verify(token: string): Principal {
    if (token.length === 0) throw new AdminTokenError('token_missing', 'empty token');
    const { key, algorithms, issuer, audience, clockToleranceSeconds, maxTokenLifetimeSeconds, now, keyId } = this.options;
    let claims: Record<string, unknown>;
    try {
      claims = verifyHardenedJwt(token, {
        algorithms, issuer, audience, clockToleranceSeconds, maxTokenLifetimeSeconds, now,
        keyFor: (header) => {
          if (header.kid !== undefined && header.kid !== keyId) throw new JwtCheckFailure('invalid', `unknown kid '${clip(header.kid)}'`);
          if (keyId !== undefined && header.kid === undefined) throw new JwtCheckFailure('invalid', 'kid missing');
          return key;
        },
      });
    } catch (error) {
      if (error instanceof JwtCheckFailure) throw new AdminTokenError(FAILURE_CODES[error.kind], error.reason, { cause: error.cause });
      throw error;
    }
    return this.principalFrom(claims);
  }

  private principalFrom(claims: Record<string, unknown>): Principal {
    const { sub, jti } = claims;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_CLAIM_LENGTH || hasControl(sub)) throw new AdminTokenError('token_invalid', 'sub missing or not a plain string of at most 256 characters');
    const role = claims[this.options.roleClaim];
    if (!isRole(role)) throw new AdminTokenError('token_invalid', `role claim '${this.options.roleClaim}' missing or unknown`);
    if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_CLAIM_LENGTH || hasControl(jti))) throw new AdminTokenError('token_invalid', 'jti not a plain string of at most 256 characters');

    const principal: Principal = {
      subject: sub,
      name: gitSafeName(claims.name) ?? gitSafeName(sub) ?? 'Regent user',
      email: plausibleEmail(claims.email) ? claims.email : fallbackEmail(sub),
      role,
    };
    if (jti !== undefined) principal.tokenId = jti;
    return principal;
  }
}

const FAILURE_CODES: Readonly<Record<JwtFailureKind, TokenFailureCode>> = {
  malformed: 'token_malformed', expired: 'token_expired', not_yet_valid: 'token_not_yet_valid', invalid: 'token_invalid',
};

type Family = 'hmac' | 'rsa' | 'ec';

/** The one family `algorithms` belongs to; throws when they are empty or mixed. */
export function algorithmFamily(algorithms: readonly string[]): Family {
  const families = new Set(algorithms.map((alg) => (alg.startsWith('HS') ? 'hmac' : alg.startsWith('ES') ? 'ec' : 'rsa')));
  const [family] = families;
  if (families.size !== 1 || family === undefined) throw new Error(`admin token algorithms must be non-empty and of one family; got ${algorithms.join(', ') || 'none'}`);
  return family;
}

/** Characters git strips from both ends of a name or email (see src/git/git-validation.ts). */
const GIT_CRUD = new Set(['.', ',', ':', ';', '<', '>', '"', '\\', "'"]);

/**
 * A display name git stores exactly as given, or undefined when nothing usable remains: `<`, `>` and
 * control characters removed, whitespace collapsed, leading/trailing whitespace and the punctuation
 * git would strip (`.,:;"'\`) trimmed, at most 256 characters. Normalised, not refused: a token's
 * `name` is cosmetic, the subject is what identifies.
 */
export function gitSafeName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  // eslint-disable-next-line no-control-regex
  let text = value.replace(/[<>]/g, '').replace(/[\x00-\x1f\x7f\u2028\u2029\s]+/g, ' ');
  text = trimCrud(text);
  if (text.length > MAX_CLAIM_LENGTH) text = trimCrud(text.slice(0, MAX_CLAIM_LENGTH));
  return text.length > 0 ? text : undefined;
}

function trimCrud(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start]! <= ' ' || GIT_CRUD.has(text[start]!))) start += 1;
  while (end > start && (text[end - 1]! <= ' ' || GIT_CRUD.has(text[end - 1]!))) end -= 1;
  return text.slice(start, end);
}

const EMAIL = /^[A-Za-z0-9!#$%&*+/=?^_`{|}~-][A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** A plain `local@domain.tld` address git stores as given (no quoting, comments or IP literals). */
export function plausibleEmail(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 254 && EMAIL.test(value) && !value.split('@')[0]!.endsWith('.');
}

/** `<sub>@users.regent.invalid`, with the subject reduced to characters safe in an address's local part. */
export function fallbackEmail(subject: string): string {
  const local = subject.replace(/[^A-Za-z0-9._+-]+/g, '-').replace(/^[.-]+|[.-]+$/g, '').replace(/\.{2,}/g, '.').slice(0, 64).replace(/[.-]+$/, '');
  return `${local || 'user'}@users.regent.invalid`;
}

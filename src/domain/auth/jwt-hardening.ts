import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

/**
 * The checks every bearer JWT Regent accepts goes through, whoever issued it (admin tokens, agent
 * tokens from an identity provider): a size limit and the three-segment shape before any decoding;
 * `typ` JWT or absent, no `crit`; a key chosen by the caller from the header's `kid`; pinned
 * algorithms, `iss`, `aud`, `exp` and `iat` required, a lifetime cap and no `iat` in the future.
 * Failures are {@link JwtCheckFailure}s with a kind the caller maps to its own stable codes; their
 * reason never contains the token.
 */

export type JwtFailureKind = 'malformed' | 'expired' | 'not_yet_valid' | 'invalid';

export class JwtCheckFailure extends Error {
  constructor(readonly kind: JwtFailureKind, readonly reason: string, options?: { cause?: unknown }) {
    super(reason, options);
  }
}

/** Tokens longer than this are refused before any decoding or crypto (security.md §2.7). */
export const MAX_TOKEN_BYTES = 8 * 1024;
export const MAX_CLAIM_LENGTH = 256;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface HardenedJwtOptions {
  /** Accepted `alg` values. */
  algorithms: readonly string[];
  /** The key for a header (its `kid`), or a {@link JwtCheckFailure} thrown when none fits. */
  keyFor: (header: Record<string, unknown>) => KeyObject;
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  /** Refuse tokens whose `exp - iat` exceeds this. */
  maxTokenLifetimeSeconds: number;
  /** Current time in seconds since the epoch (tests). */
  now?: () => number;
}

/** True when `token` has the shape of a compact JWS (three base64url segments), whatever it holds. */
export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_TOKEN_BYTES && JWT_SHAPE.test(token);
}

/** The claims of a token that passes every check; throws {@link JwtCheckFailure} otherwise. */
export function verifyHardenedJwt(token: string, options: HardenedJwtOptions): Record<string, unknown> {
  if (token.length > MAX_TOKEN_BYTES) throw new JwtCheckFailure('malformed', `token longer than ${MAX_TOKEN_BYTES} bytes`);
  if (!JWT_SHAPE.test(token)) throw new JwtCheckFailure('malformed', 'not three base64url segments');
  const header = decodeHeader(token);
  if (header.typ !== undefined && header.typ !== 'JWT') throw new JwtCheckFailure('invalid', 'typ is not JWT');
  if (header.crit !== undefined) throw new JwtCheckFailure('invalid', 'crit header present');
  const key = options.keyFor(header);

  const { algorithms, issuer, audience, clockToleranceSeconds, now } = options;
  let payload: unknown;
  try {
    payload = jwt.verify(token, key, {
      algorithms: [...algorithms] as jwt.Algorithm[],
      issuer,
      audience,
      clockTolerance: clockToleranceSeconds,
      ...(now ? { clockTimestamp: now() } : {}),
      complete: true,
    }).payload;
  } catch (error) {
    throw translate(error);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new JwtCheckFailure('invalid', 'payload is not a JSON object');
  const claims = payload as Record<string, unknown>;
  const { exp, iat } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new JwtCheckFailure('invalid', 'exp missing');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new JwtCheckFailure('invalid', 'iat missing');
  if (exp <= iat) throw new JwtCheckFailure('invalid', 'exp not after iat');
  if (exp - iat > options.maxTokenLifetimeSeconds) throw new JwtCheckFailure('invalid', `lifetime ${exp - iat}s over the maximum ${options.maxTokenLifetimeSeconds}s`);
  const nowSeconds = now?.() ?? Math.floor(Date.now() / 1000);
  // A future iat would stretch the lifetime cap: exp - now could exceed it.
  if (iat > nowSeconds + clockToleranceSeconds) throw new JwtCheckFailure('not_yet_valid', 'iat in the future');
  return claims;
}

function decodeHeader(token: string): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
  } catch (error) {
    throw new JwtCheckFailure('malformed', 'header is not JSON', { cause: error });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new JwtCheckFailure('malformed', 'header is not a JSON object');
  return header as Record<string, unknown>;
}

/** Maps jsonwebtoken's errors onto the failure kinds; messages of its errors never contain the token. */
function translate(error: unknown): JwtCheckFailure {
  if (error instanceof JwtCheckFailure) return error;
  const reason = error instanceof Error ? error.message : String(error);
  if (error instanceof jwt.TokenExpiredError) return new JwtCheckFailure('expired', reason, { cause: error });
  if (error instanceof jwt.NotBeforeError) return new JwtCheckFailure('not_yet_valid', reason, { cause: error });
  if (reason === 'jwt malformed' || reason === 'invalid token') return new JwtCheckFailure('malformed', reason, { cause: error });
  return new JwtCheckFailure('invalid', reason, { cause: error });
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f\u2028\u2029]/;
export function hasControl(text: string): boolean {
  return CONTROL.test(text);
}

/** A value from a token, safe to put in a log line: printable ASCII, at most 64 characters. */
export function clip(value: unknown): string {
  return String(value).slice(0, 64).replace(/[^\x20-\x7e]/g, '?');
}

/** A plain string claim (non-empty, at most 256 characters, no control characters), or undefined. */
export function plainClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_CLAIM_LENGTH && !hasControl(value) ? value : undefined;
}

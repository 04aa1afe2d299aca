import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler, Response } from 'express';
import type { AuditLog, AuditRecordInput } from '../../domain/audit/audit-log.js';
import { markAudited } from '../../domain/audit/audited-error.js';
import { AdminTokenError, type AdminTokenVerifier } from '../../domain/auth/admin-token-verifier.js';
import { isRegentError } from '../../domain/errors.js';
import type { Logger } from '../../domain/logger.js';

export interface AuthenticateDeps {
  verifier: Pick<AdminTokenVerifier, 'verify'>;
  /** When given, refusals are recorded (`auth.refused`) before the answer; a failing append answers 500. */
  audit?: AuditLog;
  logger?: Logger;
  /**
   * Anonymous refusals recorded per minute at most (default 300). Each record is a synced disk write in
   * line with every other audit record, so a flood of junk tokens must not become a flood of fsyncs that
   * real writes queue behind; beyond the limit refusals are still logged and answered 401, and the next
   * record says how many were left out.
   */
  maxRecordedRefusalsPerMinute?: number;
  now?: () => number;
}

/** `res.locals` key under which `authenticate` leaves the audit log for {@link recordAuthRefusal}. */
const AUDIT_LOCAL = 'regentAuthAudit';

/**
 * Authenticates every request it sees with `Authorization: Bearer <JWT>` (scheme case-insensitive),
 * and sets `res.locals.principal` (a `Principal`) and `res.locals.subject` (for the completion log).
 * Anything else is passed on as an {@link AdminTokenError}, which the error handler answers with 401,
 * a problem document and `WWW-Authenticate: Bearer realm="regent"` (RFC 6750). The token is never
 * logged or echoed; the precise refusal reason goes to the log and the audit record only.
 */
export function authenticate(deps: AuthenticateDeps): RequestHandler {
  const logger = deps.logger?.child({ component: 'auth' });
  const limiter = new RefusalLimiter(deps.maxRecordedRefusalsPerMinute ?? 300, deps.now ?? Date.now);
  return async (req, res, next) => {
    res.locals[AUDIT_LOCAL] = deps.audit;
    try {
      const principal = deps.verifier.verify(bearerTokenOf(req.headers));
      res.locals.principal = principal;
      res.locals.subject = principal.subject;
    } catch (error) {
      if (!(error instanceof AdminTokenError)) {
        next(error);
        return;
      }
      logger?.info({ reqId: res.locals.reqId, reason: error.code, detail: error.reason }, 'authentication refused');
      try {
        const left = limiter.take();
        if (left !== undefined) {
          const detail = left > 0 ? `${error.reason} (and ${left} more refusals in the last minute, not recorded one by one)` : error.reason;
          await recordAuthRefusal(res, { subject: 'anonymous', reason: error.code, detail });
        }
      } catch (auditError) {
        // A read-only audit log (its chain is broken) cannot take the record: the refusal is logged, and
        // the caller still gets the 401 it earned, not a 503 that would tell an anonymous caller more.
        if (!isAuditReadOnly(auditError)) {
          next(auditError);
          return;
        }
        logger?.warn({ reqId: res.locals.reqId, reason: error.code }, 'authentication refusal not recorded: the audit log is read-only');
      }
      next(markAudited(error));
      return;
    }
    next();
  };
}

/**
 * The bearer token of a request. No `Authorization` header, or another scheme: `token_missing`;
 * `Bearer` without exactly one token: `token_malformed`.
 */
export function bearerTokenOf(headers: IncomingHttpHeaders): string {
  const header = headers.authorization;
  if (header === undefined || header.trim() === '') throw new AdminTokenError('token_missing', 'no Authorization header');
  const match = /^\s*(\S+)(?:\s+(.*?))?\s*$/s.exec(header);
  if (!match || match[1]!.toLowerCase() !== 'bearer') throw new AdminTokenError('token_missing', 'Authorization scheme is not Bearer');
  const token = match[2] ?? '';
  if (token === '' || /\s/.test(token)) throw new AdminTokenError('token_malformed', 'Bearer must be followed by exactly one token');
  return token;
}

/**
 * Records an `auth.refused` audit record when the request went through an `authenticate` built with
 * an audit log; resolves once the record is durable, rejects when it could not be written.
 */
export async function recordAuthRefusal(res: Response, record: Pick<AuditRecordInput, 'subject' | 'role' | 'reason' | 'detail'>): Promise<void> {
  const audit = res.locals[AUDIT_LOCAL] as AuditLog | undefined;
  if (!audit) return;
  const requestId = res.locals.reqId as string | undefined;
  await audit.append({ action: 'auth.refused', outcome: 'refused', ...record, ...(requestId === undefined ? {} : { requestId }) });
}

/**
 * A fixed one-minute window: `take()` answers how many refusals went unrecorded since the last recorded
 * one (0 usually), or undefined when this one must not be recorded either.
 */
class RefusalLimiter {
  private windowStart = -Infinity;
  private recorded = 0;
  private skipped = 0;

  constructor(private readonly perMinute: number, private readonly now: () => number) {}

  take(): number | undefined {
    const now = this.now();
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.recorded = 0;
    }
    if (this.recorded >= this.perMinute) {
      this.skipped++;
      return undefined;
    }
    this.recorded++;
    const skipped = this.skipped;
    this.skipped = 0;
    return skipped;
  }
}

/** The audit log refused an append because its hash chain is broken (`audit.onBrokenChain: read-only`). */
export function isAuditReadOnly(error: unknown): boolean {
  return isRegentError(error) && error.code === 'audit_chain_broken';
}

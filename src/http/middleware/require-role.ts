import type { RequestHandler } from 'express';
import { isRole, roleSatisfies, type Principal, type Role } from '../../domain/auth/principal.js';
import { markAudited } from '../../domain/audit/audited-error.js';
import { NotAllowedError } from '../../domain/errors.js';
import { isAuditReadOnly, recordAuthRefusal } from './authenticate.js';

/**
 * Lets the request through when the authenticated principal's role includes `required`
 * (`viewer` < `auditor` < `editor` < `admin`); otherwise `NotAllowedError` `missing_role` (403) naming
 * both roles, recorded as `auth.refused` when `authenticate` was given an audit log. Must sit behind
 * `authenticate`: without a principal it fails as a server bug, never open.
 */
export function requireRole(required: Role): RequestHandler {
  if (!isRole(required)) throw new Error(`requireRole: unknown role '${String(required)}'`);
  return async (_req, res, next) => {
    const principal = res.locals.principal as Principal | undefined;
    if (!principal) {
      next(new Error('requireRole: no principal; the route is not behind authenticate()'));
      return;
    }
    if (roleSatisfies(principal.role, required)) {
      next();
      return;
    }
    try {
      await recordAuthRefusal(res, { subject: principal.subject, role: principal.role, reason: 'missing_role', detail: `needs ${required}` });
    } catch (auditError) {
      // A read-only audit log cannot take the record; the 403 still stands.
      if (!isAuditReadOnly(auditError)) {
        next(auditError);
        return;
      }
    }
    next(markAudited(new NotAllowedError('missing_role', `this needs the '${required}' role or higher; the token has '${principal.role}'`, { requiredRole: required, role: principal.role })));
  };
}

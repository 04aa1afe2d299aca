import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type { AuditLog } from '../../domain/audit/audit-log.js';
import { isAudited, markAudited } from '../../domain/audit/audited-error.js';
import type { Principal } from '../../domain/auth/principal.js';
import { UnavailableError } from '../../domain/errors.js';
import { toProblem } from '../error-handler.js';
import { isAuditReadOnly } from '../middleware/authenticate.js';
import { createWhoamiRouter } from './whoami-router.js';

export interface AdminRouterDeps {
  /** The `authenticate(...)` middleware: runs before every admin route, so nothing under /api is anonymous. */
  authenticate: RequestHandler;
  /** Resource routers (policies, versions, audit, ...), mounted after authentication, in order. */
  routers?: readonly RequestHandler[];
  /** Where refused writes the services did not record themselves are recorded (see {@link auditRefusedWrites}). */
  audit?: AuditLog;
}

/**
 * The admin API, mounted at `/api` by `createApp`. Authentication comes first for every path, known or
 * not, so an anonymous caller gets 401 and learns nothing about which routes exist; each route then
 * checks its role with `requireRole`.
 */
export function createAdminRouter(deps: AdminRouterDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  router.use(deps.authenticate);
  router.use(createWhoamiRouter());
  if (deps.audit) router.use(refuseWritesWhileAuditBroken(deps.audit));
  for (const resource of deps.routers ?? []) router.use(resource);
  if (deps.audit) router.use(auditRefusedWrites(deps.audit));
  return router;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** POST routes that change nothing (a dry-run validation, an evaluation): served while writes are refused. */
const READ_ONLY_POSTS: ReadonlySet<string> = new Set(['/changes/validate', '/evaluate']);

/**
 * While the audit log is read-only because its hash chain is broken (`audit.onBrokenChain: read-only`),
 * every admin write is refused before it does anything: 503 `audit_chain_broken` naming the file, line
 * and seq of the break. A change that cannot be put on record is not made. Reads, validations and
 * evaluations go on; bundles are served by their own path and are not affected.
 */
export function refuseWritesWhileAuditBroken(audit: AuditLog): RequestHandler {
  return (req, _res, next) => {
    const broken = audit.chain().brokenAt;
    if (!broken || !WRITE_METHODS.has(req.method) || (req.method === 'POST' && READ_ONLY_POSTS.has(req.path))) {
      next();
      return;
    }
    next(new UnavailableError('audit_chain_broken', `admin writes are refused: the audit log's hash chain is broken at ${broken.file} line ${broken.line}${broken.seq === null ? '' : ` (seq ${broken.seq})`}, and a change that cannot be put on record is not made`, { file: broken.file, line: broken.line, seq: broken.seq }));
  };
}

/**
 * Every refused write is on record, including those refused before a service saw them (a body that is
 * not JSON or too large, a malformed field, a bad `If-Match`): `write.refused` with the code, unless the
 * service or the auth middleware already recorded it. Answers 500 when the record cannot be written.
 */
export function auditRefusedWrites(audit: AuditLog): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (!WRITE_METHODS.has(req.method) || isAudited(error)) {
      next(error);
      return;
    }
    const problem = toProblem(error);
    if (problem.status >= 500) {
      next(error);
      return;
    }
    const principal = res.locals.principal as Principal | undefined;
    const requestId = res.locals.reqId as string | undefined;
    audit.append({
      action: 'write.refused', outcome: 'refused', subject: principal?.subject ?? 'anonymous', role: principal?.role,
      reason: problem.code, detail: `${req.method} ${req.originalUrl.slice(0, 300)}: ${String(problem.detail ?? '').slice(0, 500)}`,
      ...(requestId === undefined ? {} : { requestId }),
    }).then(() => next(markAudited(error)), (auditError: unknown) => next(isAuditReadOnly(auditError) ? markAudited(error) : auditError));
  };
}

import { Router, type Request, type Response } from 'express';
import { InputError } from '../../domain/errors.js';
import type { ChangeResult, PolicyChangeService } from '../../domain/policies/policy-change-service.js';
import { EXPLAIN_MODES, type ExplainMode } from '../../domain/policies/policy-inspector.js';
import type { PolicyReadService } from '../../domain/policies/policy-read-service.js';
import { generateRbacModule } from '../../domain/policies/rbac-module-generator.js';
import { generateRbacSpec } from '../../domain/policies/rbac-spec-generator.js';
import type { FileChange } from '../../domain/store/policy-store.js';
import type { RevisionResolver } from '../../domain/store/revision-resolver.js';
import { requireRole } from '../middleware/require-role.js';
import { oneOf, readQuery } from './query-params.js';
import { jsonBody, type JsonBodyLimits } from '../body/json-body.js';
import { baseRevisionOf, bodyOf, principalOf, requestIdOf, stringField, wildcardParam } from './request-context.js';

export interface PoliciesRouterDeps {
  reads: PolicyReadService;
  changes: PolicyChangeService;
  resolver: RevisionResolver;
  /** Size and nesting limits of JSON bodies. */
  body: JsonBodyLimits;
}

const CONTENT_TYPES: ReadonlyArray<[RegExp, string]> = [
  [/\.rego$/, 'text/plain; charset=utf-8'],
  [/\.json$/, 'application/json; charset=utf-8'],
  [/\.ya?ml$/, 'application/yaml; charset=utf-8'],
];

/**
 * Policies at any revision (viewer), and changes to them (admin): one file, several files atomically,
 * a generated RBAC module, a dry-run validation (editor), evaluation of a query (editor).
 */
export function createPoliciesRouter(deps: PoliciesRouterDeps): Router {
  const router = Router();
  const json = jsonBody(deps.body);

  router.get('/policies', requireRole('viewer'), async (req, res) => {
    const { revision } = readQuery(req.query, ['revision']);
    res.json(await deps.reads.list(revision ?? 'head'));
  });

  router.get('/policies/*path', requireRole('viewer'), async (req, res) => {
    const { revision, format, compiled } = readQuery(req.query, ['revision', 'format', 'compiled']);
    if (format !== undefined) oneOf(format, 'format', ['json', 'raw']);
    if (compiled !== undefined) {
      oneOf(compiled, 'compiled', ['rego']);
      const module = await deps.reads.compiled(revision ?? 'head', pathOf(req));
      res.setHeader('ETag', `"${module.blobId}"`);
      res.setHeader('X-Regent-Revision', module.revision);
      if (format === 'json') {
        res.json({ revision: module.revision, path: module.source, compiledPath: module.path, size: module.size, content: module.content.toString('utf8') });
        return;
      }
      res.type('text/plain; charset=utf-8').send(module.content);
      return;
    }
    const file = await deps.reads.read(revision ?? 'head', pathOf(req));
    res.setHeader('ETag', `"${file.blobId}"`);
    res.setHeader('X-Regent-Revision', file.revision);
    if (format === 'json') {
      res.json({ revision: file.revision, path: file.path, blobId: file.blobId, size: file.size, content: file.content.toString('utf8') });
      return;
    }
    res.type(CONTENT_TYPES.find(([pattern]) => pattern.test(file.path))?.[1] ?? 'application/octet-stream').send(file.content);
  });

  router.put('/policies/*path', requireRole('admin'), ...json, async (req, res) => {
    const body = bodyOf(req);
    const content = stringField(body, 'content')!;
    await commit(req, res, body, [{ op: 'put', path: pathOf(req), content: Buffer.from(content, 'utf8') }]);
  });

  router.delete('/policies/*path', requireRole('admin'), ...json, async (req, res) => {
    await commit(req, res, bodyOf(req), [{ op: 'delete', path: pathOf(req) }]);
  });

  router.post('/changes', requireRole('admin'), ...json, async (req, res) => {
    const body = bodyOf(req);
    await commit(req, res, body, changesOf(body));
  });

  router.post('/changes/validate', requireRole('editor'), ...json, async (req, res) => {
    const body = bodyOf(req);
    const base = body.baseRevision === undefined && req.headers['if-match'] === undefined ? await deps.resolver.resolve('head') : baseRevisionOf(req, body);
    const report = await deps.changes.validate(base, changesOf(body));
    res.status(report.ok ? 200 : 422).json({ baseRevision: base, ...report });
  });

  router.post('/policies/generate', requireRole('admin'), ...json, async (req, res) => {
    const body = bodyOf(req);
    const generated = body.format === 'spec' ? generateRbacSpec(body) : generateRbacModule(body);
    await commit(req, res, { ...body, message: body.message ?? generated.summary }, generated.changes);
  });

  router.post('/evaluate', requireRole('editor'), ...json, async (req, res) => {
    const body = bodyOf(req);
    const query = stringField(body, 'query')!;
    const revision = stringField(body, 'revision', { optional: true }) ?? 'head';
    const explain = stringField(body, 'explain', { optional: true });
    if (explain !== undefined && !(EXPLAIN_MODES as readonly string[]).includes(explain)) {
      throw new InputError('invalid_field', `'explain' must be one of: ${EXPLAIN_MODES.join(', ')}`, { field: 'explain' });
    }
    res.json(await deps.reads.evaluate(revision, query, body.input, explain as ExplainMode | undefined));
  });

  router.post('/versions/:revision/activate', requireRole('admin'), ...json, async (req, res) => {
    const body = bodyOf(req);
    const target = await deps.resolver.resolve(String(req.params.revision));
    const result = await deps.changes.rollback({
      target,
      baseRevision: baseRevisionOf(req, body),
      message: stringField(body, 'message', { optional: true }),
      principal: principalOf(res),
      requestId: requestIdOf(res),
    });
    sendCommitted(res, result);
  });

  async function commit(req: Request, res: Response, body: Record<string, unknown>, changes: FileChange[]): Promise<void> {
    const result = await deps.changes.apply({
      changes,
      message: stringField(body, 'message')!,
      baseRevision: baseRevisionOf(req, body),
      principal: principalOf(res),
      requestId: requestIdOf(res),
    });
    sendCommitted(res, result);
  }

  return router;
}

/** 201 with the new revision's location, and where the time went as `Server-Timing` (RFC: W3C Server Timing). */
function sendCommitted(res: Response, result: ChangeResult): void {
  const { validateMs, commitMs, activateMs } = result.timings;
  res.set('Server-Timing', `validate;dur=${validateMs}, commit;dur=${commitMs}, activate;dur=${activateMs}`);
  res.status(201).location(`/api/versions/${result.revision}`).json(result);
}

function pathOf(req: Request): string {
  return wildcardParam(req, 'path');
}

/** The `changes` list of a body as file changes (`invalid_field` naming the entry otherwise). */
export function changesOf(body: Record<string, unknown>): FileChange[] {
  const changes = body.changes;
  if (!Array.isArray(changes)) throw new InputError('invalid_field', "'changes' must be a list of {op, path, content?}", { field: 'changes' });
  return changes.map((change: unknown, index): FileChange => {
    const field = `changes[${index}]`;
    if (typeof change !== 'object' || change === null) throw new InputError('invalid_field', `${field} must be an object`, { field });
    const { op, path, content } = change as Record<string, unknown>;
    if (typeof path !== 'string') throw new InputError('invalid_field', `${field}.path must be a string`, { field: `${field}.path` });
    if (op === 'delete') return { op, path };
    if (op === 'put') {
      if (typeof content !== 'string') throw new InputError('invalid_field', `${field}.content must be a string`, { field: `${field}.content` });
      return { op, path, content: Buffer.from(content, 'utf8') };
    }
    throw new InputError('invalid_field', `${field}.op must be 'put' or 'delete'`, { field: `${field}.op` });
  });
}

import { Router } from 'express';
import { InputError, NotFoundError } from '../../domain/errors.js';
import type { PolicyStore, Revision } from '../../domain/store/policy-store.js';
import type { RevisionResolver } from '../../domain/store/revision-resolver.js';
import { oneOf, positiveInteger, readQuery, required, resolveRevisionParam } from './query-params.js';
import { toVersionView } from './version-view.js';
import { requireRole } from '../middleware/require-role.js';
import { wildcardParam } from './request-context.js';

/** Page size of `GET /versions` without `limit`. */
export const DEFAULT_VERSIONS_LIMIT = 50;
/** Largest `limit` of `GET /versions`. */
export const MAX_VERSIONS_LIMIT = 200;

/** What {@link createVersionsRouter} reads from. */
export interface VersionsRouterDeps {
  store: PolicyStore;
  resolver: RevisionResolver;
}

const CURSOR_TEXT = /^([0-9a-f]{40})\.([0-9]{1,9})$/;

/**
 * Page cursors are base64url of `<revision>.<skip>`: the head the first page was read from, and how many
 * commits of that history (after the path filter) came before. Later pages walk the same history, so a
 * commit landing between two page requests shifts nothing: the client sees it on a fresh first page.
 * Opaque to clients; the format may change.
 */
export function encodeVersionsCursor(from: Revision, skip: number): string {
  return Buffer.from(`${from}.${skip}`, 'utf8').toString('base64url');
}

function decodeVersionsCursor(cursor: string): { from: Revision; skip: number } {
  const match = /^[A-Za-z0-9_-]{1,80}$/.test(cursor) ? CURSOR_TEXT.exec(Buffer.from(cursor, 'base64url').toString('utf8')) : null;
  if (!match) throw new InputError('invalid_query', "'cursor' is not a cursor this server handed out (hint: use nextCursor as given)", { field: 'cursor' });
  return { from: match[1] ?? '', skip: Number(match[2]) };
}

/**
 * Read-only history of the tracked branch, mounted under `/api` behind `viewer`:
 *
 * - `GET /versions?path=&limit=&cursor=` → `{ versions: VersionView[], nextCursor: string | null }`, newest
 *   first; `path` keeps commits touching that file or directory; `limit` 1–200 (default 50).
 * - `GET /versions/:revision` (`head`, `active`, a full SHA, a branch or tag, which may contain `/`) → one
 *   `VersionView`.
 * - `GET /diff?from=&to=[&format=json|patch]` → `{ from, to, files, patch }`, or the unified patch alone as
 *   `text/x-diff` when `format=patch` or `Accept` prefers `text/x-diff`.
 *
 * Bad parameters are `invalid_query` (400, `field` names the parameter), malformed revisions
 * `invalid_revision` (400) and unknown ones `revision_not_found` (404): all thrown, for the error handler.
 */
export function createVersionsRouter(deps: VersionsRouterDeps): Router {
  const { store, resolver } = deps;
  const router = Router();

  router.get('/versions', requireRole('viewer'), async (req, res) => {
    const params = readQuery(req.query, ['path', 'limit', 'cursor']);
    const limit = params.limit === undefined ? DEFAULT_VERSIONS_LIMIT : positiveInteger(params.limit, 'limit', MAX_VERSIONS_LIMIT);
    const cursor = params.cursor === undefined ? undefined : decodeVersionsCursor(params.cursor);
    const head = await store.head();
    const from = cursor?.from ?? head;
    const skip = cursor?.skip ?? 0;
    // Without a head (empty store) the store still validates `path`, then finds nothing.
    const found = await store.log({ from, path: params.path, limit: limit + 1, skip }).catch((error: unknown) => {
      if (cursor && error instanceof NotFoundError) {
        throw new InputError('invalid_query', "'cursor' names a revision this store does not have (hint: start again without a cursor)", { field: 'cursor' }, { cause: error });
      }
      throw error;
    });
    const marks = { head, active: resolver.active() };
    res.set('Cache-Control', 'no-store').json({
      versions: found.slice(0, limit).map((version) => toVersionView(version, marks)),
      nextCursor: from !== undefined && found.length > limit ? encodeVersionsCursor(from, skip + limit) : null,
    });
  });

  router.get('/versions/*revision', requireRole('viewer'), async (req, res) => {
    readQuery(req.query, []);
    const revision = await resolveRevisionParam(resolver, wildcardParam(req, 'revision'), 'revision');
    const [version, head] = await Promise.all([store.show(revision), store.head()]);
    res.set('Cache-Control', 'no-store').json(toVersionView(version, { head, active: resolver.active() }));
  });

  router.get('/diff', requireRole('viewer'), async (req, res) => {
    const params = readQuery(req.query, ['from', 'to', 'format']);
    const fromRef = required(params.from, 'from');
    const toRef = required(params.to, 'to');
    const format = params.format === undefined ? undefined : oneOf(params.format, 'format', ['json', 'patch']);
    const from = await resolveRevisionParam(resolver, fromRef, 'from');
    const to = await resolveRevisionParam(resolver, toRef, 'to');
    const diff = await store.diff(from, to);
    res.vary('Accept');
    const asPatch = format === undefined ? req.accepts(['application/json', 'text/x-diff']) === 'text/x-diff' : format === 'patch';
    if (asPatch) {
      res.type('text/x-diff; charset=utf-8').send(diff.patch);
      return;
    }
    res.json({ from: diff.from, to: diff.to, files: diff.files, patch: diff.patch });
  });

  return router;
}

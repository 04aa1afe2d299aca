import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BundleCatalog } from '../../domain/activation/bundle-catalog.js';
import type { BuiltBundle } from '../../domain/bundles/bundle-builder.js';
import { isRegentError } from '../../domain/errors.js';
import type { Logger } from '../../domain/logger.js';
import { decodePath, invalidPathEncoding } from '../path-encoding.js';
import { writeProblem } from '../problem.js';
import { logCompletion, requestIdOf } from '../request-log.js';
import { ifNoneMatchHits, parseIfNoneMatch, parsePrefer } from './conditional-headers.js';
import { BundleCounters } from './bundle-counters.js';
import type { LongPollWaiters } from './long-poll-waiters.js';

/** The media type that tells OPA this server long-polls; any other value drops OPA to periodic polling. */
export const BUNDLE_CONTENT_TYPE = 'application/vnd.openpolicyagent.bundles';
export const BUNDLES_PREFIX = '/bundles/';

/** The bundles of one revision source and the requests held on them. */
export interface BundleSet {
  catalog: BundleCatalog;
  waiters: LongPollWaiters;
}

export interface BundleHandlerOptions {
  /** The default set: the tracked branch's active revision, at `/bundles/<bundle>`. */
  catalog: BundleCatalog;
  waiters: LongPollWaiters;
  /**
   * Environment sets by environment name, at `/bundles/<environment>/<bundle>`. Unambiguous because no
   * bundle of the default set may start with an environment's name (the builder refuses such a revision).
   */
  environments?: ReadonlyMap<string, BundleSet>;
  longPollMaxSeconds: number;
  logger: Logger;
  /** Answers by status, read by `/metrics`. */
  counters?: BundleCounters;
}

interface PreparedHeaders {
  ok: Record<string, string | number>;
  notModified: Record<string, string>;
}

/**
 * `GET|HEAD /bundles/<name>` on bare node:http, in front of Express: the unchanged-bundle answer is the
 * hot path of a bundle server, and Express costs it a factor of eight. Headers are computed once per
 * built bundle. 200 carries the exact bytes, a strong ETag, OPA's long-poll media type and no
 * Content-Encoding (Go would gunzip the tarball and OPA's read would fail). 304 when If-None-Match
 * matches, after holding the request when the agent asked to long-poll: an immediate 304 to a
 * `wait=` request sends OPA straight back, in a tight loop.
 */
export function createBundleHandler(options: BundleHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { longPollMaxSeconds, logger } = options;
  const counters = options.counters ?? new BundleCounters();
  const defaultSet: BundleSet = { catalog: options.catalog, waiters: options.waiters };
  const environments = options.environments ?? new Map<string, BundleSet>();
  /** The set a path names, and the bundle's name within it. */
  const route = (path: string): { set: BundleSet; bundleName: string; environment?: string } => {
    if (environments.size > 0) {
      const slash = path.indexOf('/');
      const first = slash < 0 ? path : path.slice(0, slash);
      const set = environments.get(first);
      if (set) return { set, bundleName: slash < 0 ? '' : path.slice(slash + 1), environment: first };
    }
    return { set: defaultSet, bundleName: path };
  };
  const log = logger.child({ component: 'bundles' });
  const prepared = new WeakMap<BuiltBundle, PreparedHeaders>();
  const headersOf = (bundle: BuiltBundle): PreparedHeaders => {
    let headers = prepared.get(bundle);
    if (!headers) {
      const common = { ETag: bundle.etag, 'Cache-Control': 'private, no-cache', 'X-Regent-Revision': bundle.revision };
      headers = { ok: { ...common, 'Content-Type': BUNDLE_CONTENT_TYPE, 'Content-Length': bundle.tarball.length }, notModified: common };
      prepared.set(bundle, headers);
    }
    return headers;
  };

  return (req, res) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const rawName = (query < 0 ? url : url.slice(0, query)).slice(BUNDLES_PREFIX.length);
    const name = decodePath(rawName);
    const done = (status: number, bytes: number, extra: Record<string, unknown> = {}): void => {
      counters.count(status, bytes);
      logCompletion(log, { reqId: requestIdOf(req), method: req.method ?? '', route: '/bundles/:name', bundle: rawName.slice(0, 200), status, bytes, ms: performance.now() - started, ...extra });
    };

    if (name === undefined) {
      const error = invalidPathEncoding(url.slice(0, query < 0 ? undefined : query));
      done(400, writeProblem(res, { status: 400, code: error.code, title: 'Invalid request', detail: error.message, ...error.details }));
      return;
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      done(405, writeProblem(res, { status: 405, code: 'method_not_allowed', title: 'Method not allowed', detail: 'bundles are read with GET or HEAD' }, { Allow: 'GET, HEAD' }));
      return;
    }
    const { set: { catalog, waiters }, bundleName, environment } = route(name);
    const bundle = catalog.get(bundleName);
    if (!bundle) {
      if (!catalog.published) {
        const detail = environment ? `environment '${environment}' has not activated a revision yet (does its ref exist?); retry shortly` : 'Regent has not activated a revision yet; retry shortly';
        done(503, writeProblem(res, { status: 503, code: 'no_active_revision', title: 'No active revision yet', detail, ...(environment ? { environment } : {}) }, { 'Retry-After': '2' }));
      } else {
        done(404, writeProblem(res, { status: 404, code: 'bundle_not_found', title: 'Bundle not found', detail: `no bundle named '${name.slice(0, 200)}'`, bundle: name.slice(0, 200) }));
      }
      return;
    }
    if (req.headers['if-none-match'] === bundle.etag && req.headers.prefer === undefined) {
      // The fleet's heartbeat, an unchanged bundle and no long poll: nothing to parse, and the debug
      // line (304s are logged at debug) is only built when it would be written.
      res.writeHead(304, headersOf(bundle).notModified);
      res.end();
      if (log.isLevelEnabled?.('debug') ?? true) done(304, 0);
      else counters.notModified++;
      return;
    }
    let tags: string[] | undefined;
    let preference;
    try {
      tags = parseIfNoneMatch(req.headers['if-none-match']);
      preference = parsePrefer(headerValue(req.headers.prefer), longPollMaxSeconds);
    } catch (error) {
      if (!isRegentError(error)) throw error;
      done(400, writeProblem(res, { status: 400, code: error.code, title: 'Bad request header', detail: error.message, field: error.details.field }));
      return;
    }
    const applied = preference.waitSeconds > 0 ? { 'Preference-Applied': `wait=${preference.waitSeconds}` } : undefined;

    const sendBundle = (current: BuiltBundle, extra?: Record<string, unknown>): void => {
      const headers = headersOf(current);
      res.writeHead(200, applied ? { ...headers.ok, ...applied } : headers.ok);
      res.end(req.method === 'HEAD' ? undefined : current.tarball);
      done(200, req.method === 'HEAD' ? 0 : current.tarball.length, { revision: current.revision, ...extra });
    };
    const sendNotModified = (current: BuiltBundle, extra?: Record<string, unknown>): void => {
      const headers = headersOf(current);
      res.writeHead(304, applied ? { ...headers.notModified, ...applied } : headers.notModified);
      res.end();
      done(304, 0, extra);
    };

    if (!ifNoneMatchHits(tags, bundle.etag)) {
      sendBundle(bundle);
      return;
    }
    if (preference.waitSeconds === 0 || req.method === 'HEAD') {
      sendNotModified(bundle);
      return;
    }
    // Hold between 90% and 100% of the asked wait: never an immediate 304, and a fleet that started
    // together does not come back together.
    const holdMs = preference.waitSeconds * 1000 * (0.9 + Math.random() * 0.1);
    const cancel = waiters.hold(
      {
        bundle: bundle.name,
        etag: bundle.etag,
        release: (next) => sendBundle(next, { heldMs: Math.round(performance.now() - started) }),
        expire: () => sendNotModified(catalog.get(bundle.name) ?? bundle, { heldMs: Math.round(performance.now() - started) }),
      },
      holdMs,
    );
    res.on('close', () => {
      if (!res.writableFinished) {
        cancel();
        done(499, 0, { heldMs: Math.round(performance.now() - started) });
      }
    });
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(';') : value;
}

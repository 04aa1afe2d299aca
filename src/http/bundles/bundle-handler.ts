import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { BundleCatalog } from '../../domain/activation/bundle-catalog.js';
import { AgentAuthenticator } from '../../domain/agents/agent-authenticator.js';
import type { AgentIdentity } from '../../domain/agents/agent-identity.js';
import type { BuiltBundle } from '../../domain/bundles/bundle-builder.js';
import type { BuiltDelta } from '../../domain/bundles/delta/built-delta.js';
import { snapshotEtagOf } from '../../domain/bundles/delta/delta-etag.js';
import { isRegentError } from '../../domain/errors.js';
import type { Logger } from '../../domain/logger.js';
import { agentOfRequest } from '../agents/agent-auth.js';
import { decodePath, invalidPathEncoding } from '../path-encoding.js';
import { writeProblem } from '../problem.js';
import { logCompletion, requestIdFrom, requestIdOf, type Completion } from '../request-log.js';
import { ifNoneMatchHits, parseIfNoneMatch, parsePrefer, tryParseIfNoneMatch, tryParsePrefer } from './conditional-headers.js';
import { BundleRouter } from './bundle-router.js';
import { HeldPollsPerAgent } from './held-polls.js';
import { BundleCounters } from './bundle-counters.js';
import type { LongPollWaiters } from './long-poll-waiters.js';
import type { PlainRequestHead } from '../fast-path/plain-request-head.js';

/** The media type that tells OPA this server long-polls; any other value drops OPA to periodic polling. */
export const BUNDLE_CONTENT_TYPE = 'application/vnd.openpolicyagent.bundles';
export const BUNDLES_PREFIX = '/bundles/';

/** What the handler reads of a catalog: the in-memory {@link BundleCatalog}, or a worker's replica of it. */
export type ServedCatalog = Pick<BundleCatalog, 'get' | 'published'> & {
  /**
   * A bundle newer than the served one whose ETag `ifNoneMatch` names (a worker's revision staged but not
   * released yet: the agent got it from a worker that released it already), to be treated as current.
   */
  ahead?(name: string, ifNoneMatch: string): BuiltBundle | undefined;
};

/** The bundles of one revision source and the requests held on them. */
export interface BundleSet {
  catalog: ServedCatalog;
  waiters: LongPollWaiters;
}

/**
 * The per-agent limit on held long polls. In one process it answers at once ({@link HeldPollsPerAgent});
 * in a worker process it asks the primary, which counts for every worker (a promise).
 */
export interface HeldPollLimit {
  acquire(identity: AgentIdentity): (() => void) | undefined | Promise<(() => void) | undefined>;
  stats(): { max: number };
}

/** The re-fetch tracker's calls on the bundle path (`RefetchTracker`, or a worker's channel to the primary's). */
export interface RefetchPolicy {
  holdFor(client: string, bundle: string, etag: string, connection: number, stale?: string): number | Promise<number>;
  recordSent(client: string, bundle: string, etag: string, connection: number, stale?: string): void;
  confirmed(client: string, bundle: string, etag: string): void;
}

export interface BundleHandlerOptions {
  /** The default set: the tracked branch's active revision, at `/bundles/<bundle>`. */
  catalog: ServedCatalog;
  waiters: LongPollWaiters;
  /**
   * Environment sets by environment name, at `/bundles/<environment>/<bundle>`. Unambiguous because no
   * bundle of the default set may start with an environment's name (the builder refuses such a revision).
   */
  environments?: ReadonlyMap<string, BundleSet>;
  longPollMaxSeconds: number;
  logger: Logger;
  /** Who may read what (`agents.*`); open access when absent. */
  agents?: AgentAuthenticator;
  /** Long polls held per agent identity (`agents.maxHeldPollsPerAgent`); unbounded when absent. */
  heldPolls?: HeldPollLimit;
  /** Holds agents re-downloading the revision they were just sent (they fail to activate it). */
  refetches?: RefetchPolicy;
  /** Answers by status, read by `/metrics`. */
  counters?: BundleCounters;
  /**
   * Answers what this handler cannot answer exactly (a worker process: delta bundles, which only the
   * primary builds); absent in one process, which answers everything.
   */
  delegate?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** What a 200 carries: the revision's snapshot, or a delta to it from the agent's revision. */
type Representation = BuiltBundle | BuiltDelta;

interface PreparedHeaders {
  ok: Record<string, string | number>;
  notModified: Record<string, string>;
}

/** What the handler answers at once to a plain request (see {@link BundleHandler.plain}). */
export type PlainAnswer =
  | { status: 304; headers: Readonly<Record<string, string>> }
  | { status: 200; headers: Readonly<Record<string, string | number>>; body: Buffer | undefined };

/** The handler, and its answer to plain reads for a fast path in front of node:http. */
export type BundleHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /**
   * For a plain request (no query, no long poll) that this handler answers at once with the current
   * bundle, a 304 or its bytes (no body for HEAD), counted and logged exactly as the handler would; undefined for
   * anything else (unknown bundle, a credential not proven yet, a malformed header, a long poll), which
   * the handler itself then answers.
   */
  plain(head: PlainRequestHead): PlainAnswer | undefined;
};

/**
 * `GET|HEAD /bundles/<name>` on bare node:http, in front of Express: the unchanged-bundle answer is the
 * hot path of a bundle server, and Express costs it a factor of eight. Headers are computed once per
 * built bundle. 200 carries the exact bytes, a strong ETag, OPA's long-poll media type and no
 * Content-Encoding (Go would gunzip the tarball and OPA's read would fail). 304 when If-None-Match
 * matches, after holding the request when the agent asked to long-poll: an immediate 304 to a
 * `wait=` request sends OPA straight back, in a tight loop.
 */
export function createBundleHandler(options: BundleHandlerOptions): BundleHandler {
  const { longPollMaxSeconds, logger } = options;
  const counters = options.counters ?? new BundleCounters();
  const defaultSet: BundleSet = { catalog: options.catalog, waiters: options.waiters };
  const environments = options.environments ?? new Map<string, BundleSet>();
  const agents = options.agents ?? AgentAuthenticator.open();
  const heldPolls: HeldPollLimit = options.heldPolls ?? new HeldPollsPerAgent(Number.MAX_SAFE_INTEGER);
  const refetches: RefetchPolicy | undefined = options.refetches;
  const delegate = options.delegate;
  const router = new BundleRouter(defaultSet, environments);
  const log = logger.child({ component: 'bundles' });
  const prepared = new WeakMap<Representation, PreparedHeaders>();
  const headersOf = (bundle: Representation): PreparedHeaders => {
    let headers = prepared.get(bundle);
    if (!headers) {
      const common = { ETag: bundle.etag, 'Cache-Control': 'private, no-cache', 'X-Regent-Revision': bundle.revision };
      const type = 'from' in bundle ? 'delta' : 'snapshot';
      headers = { ok: { ...common, 'Content-Type': BUNDLE_CONTENT_TYPE, 'Content-Length': bundle.tarball.length, 'X-Regent-Bundle-Type': type }, notModified: common };
      prepared.set(bundle, headers);
    }
    return headers;
  };

  const plain: BundleHandler['plain'] = (head) => {
    const started = performance.now();
    const rawName = head.target.slice(BUNDLES_PREFIX.length);
    const name = decodePath(rawName);
    if (name === undefined) return undefined;
    const identity = agents.remembered(head.authorization);
    if (!identity) return undefined;
    const { ifNoneMatch, prefer } = head;
    const { set: { catalog }, bundle } = router.find(name, identity, ifNoneMatch);
    if (!bundle || (prefer !== undefined && tryParsePrefer(prefer, longPollMaxSeconds)?.waitSeconds !== 0)) return undefined;
    let unchanged = ifNoneMatch === bundle.etag;
    if (!unchanged && ifNoneMatch !== undefined) {
      const tags = tryParseIfNoneMatch(ifNoneMatch);
      if (!tags) return undefined;
      unchanged = ifNoneMatchHits(tags.map(snapshotEtagOf), bundle.etag);
    }
    const completion = (status: number, bytes: number, extra?: Record<string, unknown>): Completion => ({
      reqId: requestIdFrom(head.requestId), method: head.method, route: '/bundles/:name', bundle: rawName.slice(0, 200), status, bytes, ms: performance.now() - started, ...extra,
    });
    if (unchanged) {
      if (log.isLevelEnabled?.('debug') ?? true) logCompletion(log, completion(304, 0));
      counters.notModified++;
      return { status: 304, headers: headersOf(bundle).notModified };
    }
    const current = catalog.get(bundle.name) ?? bundle;
    const body = head.method === 'HEAD' ? undefined : current.tarball;
    counters.count(200, body?.length ?? 0);
    logCompletion(log, completion(200, body?.length ?? 0, sentFields(current, identity, head.userAgent)));
    return { status: 200, headers: headersOf(current).ok, body };
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    if (delegate && query >= 0 && url.includes('deltas=', query)) {
      delegate(req, res);
      return;
    }
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
    const agent = agentOfRequest(req, res, agents, log);
    if ('refused' in agent) {
      done(401, agent.refused);
      return;
    }
    const { identity } = agent;
    const ifNoneMatch = req.headers['if-none-match'];
    const { set: { catalog, waiters }, environment, bundle } = router.find(name, identity, ifNoneMatch);
    if (!bundle) {
      if (!catalog.published) {
        const detail = environment ? `environment '${environment}' has not activated a revision yet (does its ref exist?); retry shortly` : 'Regent has not activated a revision yet; retry shortly';
        done(503, writeProblem(res, { status: 503, code: 'no_active_revision', title: 'No active revision yet', detail, ...(environment ? { environment } : {}) }, { 'Retry-After': '2' }));
      } else {
        done(404, writeProblem(res, { status: 404, code: 'bundle_not_found', title: 'Bundle not found', detail: `no bundle named '${name.slice(0, 200)}'`, bundle: name.slice(0, 200) }));
      }
      return;
    }
    if (ifNoneMatch === bundle.etag && req.headers.prefer === undefined) {
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
    // Long-polling agents only (they accept being held): whom a full download went to, to know a re-fetch.
    const refetch = refetches && preference.waitSeconds > 0 && req.method === 'GET' ? { tracker: refetches, client: clientOf(req, identity), bundle: name, connection: connectionOf(req.socket), stale: String(req.headers['if-none-match'] ?? '').slice(0, 200) } : undefined;

    // The revision each tag stands for: a delta's tag names the snapshot the agent then holds.
    const held = tags?.map(snapshotEtagOf);
    const deltas = acceptsDeltas(url, query, preference.modes);
    const sendBundle = (current: BuiltBundle, extra?: Record<string, unknown>): void => {
      const chosen = deltas ? representationFor(current, held) : current;
      const headers = headersOf(chosen);
      res.writeHead(200, applied ? { ...headers.ok, ...applied } : headers.ok);
      res.end(req.method === 'HEAD' ? undefined : chosen.tarball);
      refetch?.tracker.recordSent(refetch.client, refetch.bundle, current.etag, refetch.connection, refetch.stale);
      done(200, req.method === 'HEAD' ? 0 : chosen.tarball.length, { ...sentFields(current, identity, req.headers['user-agent']), ...(chosen === current ? {} : { type: 'delta' }), ...extra });
    };
    const sendNotModified = (current: BuiltBundle, extra?: Record<string, unknown>): void => {
      const headers = headersOf(current);
      res.writeHead(304, applied ? { ...headers.notModified, ...applied } : headers.notModified);
      res.end();
      done(304, 0, extra);
    };

    /** Holds the request until a new revision or `holdMs`, counted against the agent's limit (429 beyond it). */
    const hold = (holdMs: number, expire: () => void, extra: Record<string, unknown> = {}): void => {
      const acquired = heldPolls.acquire(identity);
      if (!(acquired instanceof Promise)) {
        holdWith(acquired, holdMs, expire, extra);
        return;
      }
      acquired.then((releaseSlot) => {
        if (!res.destroyed) holdWith(releaseSlot, holdMs, expire, extra);
        else {
          releaseSlot?.();
          done(499, 0, extra);
        }
      }, (error: unknown) => failHeld(error));
    };
    const failHeld = (error: unknown): void => {
      log.error({ err: error }, 'long poll not held: the primary did not answer');
      if (!res.headersSent) done(503, writeProblem(res, { status: 503, code: 'primary_unavailable', title: 'Service unavailable', detail: 'the primary process did not answer; retry shortly' }, { 'Retry-After': '2' }));
    };
    const holdWith = (releaseSlot: (() => void) | undefined, holdMs: number, expire: () => void, extra: Record<string, unknown>): void => {
      if (!releaseSlot) {
        done(429, writeProblem(res, { status: 429, code: 'too_many_held_polls', title: 'Too many held requests', detail: `this agent credential holds ${heldPolls.stats().max} long polls already (agents.maxHeldPollsPerAgent)`, agent: identity.name, limit: heldPolls.stats().max }, { 'Retry-After': '5' }));
        return;
      }
      const cancel = waiters.hold(
        {
          bundle: bundle.name,
          etag: bundle.etag,
          release: (next) => {
            releaseSlot();
            sendBundle(next, { heldMs: Math.round(performance.now() - started), ...extra });
          },
          expire: () => {
            releaseSlot();
            expire();
          },
        },
        holdMs,
      );
      res.on('close', () => {
        if (!res.writableFinished) {
          cancel();
          releaseSlot();
          done(499, 0, { heldMs: Math.round(performance.now() - started), ...extra });
        }
      });
    };

    if (!ifNoneMatchHits(held, bundle.etag)) {
      // An agent asking again for the revision it was just sent failed to activate it: held with backoff
      // (a new revision ends the hold), not sent again at once.
      const answer = (holdForMs: number): void => {
        const refetchHoldMs = Math.min(holdForMs, preference.waitSeconds * 1000);
        if (refetchHoldMs > 0) {
          hold(refetchHoldMs, () => sendBundle(catalog.get(bundle.name) ?? bundle, { heldMs: Math.round(performance.now() - started), refetch: true }), { refetch: true });
          return;
        }
        sendBundle(catalog.get(bundle.name) ?? bundle);
      };
      const holdFor = refetch ? refetch.tracker.holdFor(refetch.client, refetch.bundle, bundle.etag, refetch.connection, refetch.stale) : 0;
      if (holdFor instanceof Promise) holdFor.then((ms) => { if (!res.destroyed) answer(ms); }, (error: unknown) => failHeld(error));
      else answer(holdFor);
      return;
    }
    if (preference.waitSeconds === 0 || req.method === 'HEAD') {
      sendNotModified(bundle);
      return;
    }
    refetch?.tracker.confirmed(refetch.client, refetch.bundle, bundle.etag);
    // Hold between 90% and 100% of the asked wait: never an immediate 304, and a fleet that started
    // together does not come back together.
    // On expiry, the bundle the agent holds (the served object when it is the same, for its current revision header).
    hold(preference.waitSeconds * 1000 * (0.9 + Math.random() * 0.1), () => sendNotModified(sameEtag(catalog.get(bundle.name), bundle), { heldMs: Math.round(performance.now() - started) }));
  };
  return Object.assign(handler, { plain });
}

/** Who is asking, for recognising re-fetches: the agent's identity, or its address and user agent when anonymous. */
function clientOf(req: IncomingMessage, identity: AgentIdentity): string {
  return identity.source === 'anonymous' ? `${req.socket.remoteAddress ?? ''}|${String(req.headers['user-agent'] ?? '').slice(0, 200)}` : `${identity.source}:${identity.name}`;
}

const connectionIds = new WeakMap<Socket, number>();
let nextConnectionId = 1;
/** A number per connection, for as long as it lives. */
function connectionOf(socket: Socket): number {
  let id = connectionIds.get(socket);
  if (id === undefined) {
    id = nextConnectionId++;
    connectionIds.set(socket, id);
  }
  return id;
}

/**
 * Whether the agent takes delta bundles: it says so in the resource (`?deltas=true`) and in `Prefer`
 * (`modes=...,delta`). `Prefer` alone is not enough: OPA always sends it, yet an agent that verifies
 * signatures refuses every delta ("delta bundles do not support signature verification", OPA >= 1.21.3)
 * and would ask again for ever.
 */
function acceptsDeltas(url: string, query: number, modes: readonly string[]): boolean {
  return query >= 0 && modes.includes('delta') && new URLSearchParams(url.slice(query + 1)).get('deltas') === 'true';
}

/** The delta from a revision the agent holds, when `bundle` has one; else the snapshot. */
function representationFor(bundle: BuiltBundle, held: readonly string[] | undefined): Representation {
  if (!bundle.deltas || !held) return bundle;
  for (const etag of held) {
    const delta = bundle.deltas.get(etag);
    if (delta) return delta;
  }
  return bundle;
}

/** What the completion line of a download says besides the request. */
function sentFields(current: BuiltBundle, identity: AgentIdentity, userAgent: string | undefined): Record<string, unknown> {
  return { revision: current.revision, agent: identity.name, userAgent: (userAgent ?? '').slice(0, 100) };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(';') : value;
}

/** `current` when it has `held`'s ETag, else `held`: a 304 names the ETag the agent has, never another. */
function sameEtag(current: BuiltBundle | undefined, held: BuiltBundle): BuiltBundle {
  return current?.etag === held.etag ? current : held;
}

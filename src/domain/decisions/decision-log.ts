/**
 * The decisions OPA agents made, as their decision-log plugin reported them (`POST /logs`): the raw
 * material of impact analysis ("which real decisions would this change flip?") and of the auditor's view.
 * One record per OPA decision event; fields keep OPA's meaning (`EventV1` in OPA's `v1/plugins/logs`).
 * Masked fields stay masked: Regent stores what the agent sent (`erased`, `masked` name what it removed).
 */
export interface DecisionRecord {
  /** OPA's `decision_id` (unique per agent; with `agentId`, unique in the store). */
  decisionId: string;
  /** When the agent decided (OPA's `timestamp`, RFC 3339). */
  timestamp: string;
  /** The query path without `data.` and with `/` separators, as OPA logs it (`rbac/allow`); `''` for an ad-hoc query. */
  path: string;
  /**
   * OPA's `query` for an ad-hoc query (`POST /v1/query`), which has no `path`. Added to the contract so such
   * decisions are kept whole rather than stored with an empty path and nothing saying what was asked.
   */
  query?: string;
  /** The agent's `labels.id`. */
  agentId: string;
  /** The agent's labels as reported (null-prototype object: keys come from outside). */
  labels: Readonly<Record<string, string>>;
  /** Bundle name → the revision the agent enforced for it when it decided (OPA's `bundles`). */
  bundles: Readonly<Record<string, { revision: string }>>;
  /** OPA's `input` (absent when erased). */
  input?: unknown;
  /** OPA's `result` (absent when undefined or erased). */
  result?: unknown;
  /** JSON pointers OPA erased or masked. */
  erased?: readonly string[];
  masked?: readonly string[];
  /** OPA's `error` when the decision failed. */
  error?: unknown;
  /**
   * OPA's `nd_builtin_cache`: the values of non-deterministic built-ins (`time.now_ns`, `http.send`, ...)
   * the decision used. Added to the contract because replaying a decision on another revision (impact
   * analysis) needs them to give the same answer where the policy did not change.
   */
  ndBuiltinCache?: unknown;
  /**
   * The partition the agent posted to (`POST /logs/<partition>`: OPA's deprecated
   * `decision_logs.partition_name`, or a `resource` under `/logs/`). Added to the contract so a fleet split
   * by partition stays split in the store.
   */
  partition?: string;
  /**
   * The name of the agent credential the batch came with (`agents.tokensFile` entry, or a JWT's subject).
   * Absent when no agent credential was used: anonymous access (development mode, `agents.allowAnonymous`)
   * or the shared fleet report token, which names no one (as `identity` in the fleet view). Added to the
   * contract so a decision says who sent it, not only which `labels.id` it claims.
   */
  identity?: string;
  /** When Regent stored it. */
  receivedAt: string;
}

/** Filters of {@link DecisionLog.query}; every one optional, combined with AND. */
export interface DecisionQuery {
  since?: Date;
  until?: Date;
  /** Exact query path (`rbac/allow`). */
  path?: string;
  /** The revision the agent enforced for any bundle. */
  revision?: string;
  agentId?: string;
  /** The agent credential's name the decision came with (see {@link DecisionRecord.identity}). */
  identity?: string;
  decisionId?: string;
  /** Compared with the JSON of `result` (`true`, `false`, or any JSON value). */
  result?: unknown;
  /** Newest first, at most this many (bounded by the store). */
  limit: number;
  /** Opaque: from a previous page's `nextCursor`. */
  cursor?: string;
}

export interface DecisionPage {
  records: DecisionRecord[];
  /** Present when more records may match. */
  nextCursor?: string;
  /**
   * True when the store stopped reading before the page was full because the query's read budget was
   * spent (a filter the segment indexes cannot rule out, over a large store): follow `nextCursor`.
   */
  partial?: boolean;
}

/** Where recorded decisions are read from (the decision-log store in the data directory). */
export interface DecisionLog {
  query(query: DecisionQuery): Promise<DecisionPage>;
}

/**
 * Where agents' decisions are written. `record` resolves only once every record of the batch is durable
 * (on disk, fsynced), so a batch answered 2xx survives a crash; a batch is stored whole or not at all.
 */
export interface DecisionRecorder {
  record(records: readonly DecisionRecord[]): Promise<void>;
}

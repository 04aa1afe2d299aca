import { availableParallelism } from 'node:os';
import { z } from 'zod';

/** A publishing sink's name: it keys `/status` → `sinks` and metrics. */
const sinkName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a lower-case name: a letter, then letters, digits or -, at most 32');

/** Worker processes at most (`server.workers`): each holds its own copy of the served bundles. */
export const MAX_WORKERS = 64;

const signingAlgorithm = z.enum([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512',
]);

/**
 * The one configuration schema. Sources, lowest precedence first: these defaults, the YAML file named by
 * `REGENT_CONFIG` (or `--config`), then `REGENT_*` environment variables (see `env-mapping.ts`).
 */
export const configSchema = z.strictObject({
  /** Development mode: generates a signing key in the data directory when none is configured. */
  dev: z.boolean().default(false),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  /** Everything Regent keeps (store, keys it generated, caches) lives here. */
  dataDir: z.string().min(1).default('./data'),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** `json` (one object per line, for log shippers) or `pretty` (readable lines for a terminal). */
    format: z.enum(['json', 'pretty']).default('json'),
  }).prefault({}),
  store: z.strictObject({
    /** Tracked branch: its HEAD is the revision that should be active. */
    branch: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/, 'a plain branch name').default('main'),
    /** Directory imported as the first commit when the store is empty. */
    seedDir: z.string().min(1).default('./policies-repo'),
    /** Safety-net poll for head moves made outside Regent (file watching catches most at once). */
    watchIntervalMs: z.number().int().min(50).max(60_000).default(1000),
    systemName: z.string().min(1).default('Regent'),
    /** An address git accepts (`regent@localhost` included, which zod's e-mail format refuses). */
    systemEmail: z.string().regex(/^[^\s<>@]+@[^\s<>@]+$/, 'an e-mail address').default('regent@localhost'),
  }).prefault({}),
  signing: z.strictObject({
    keyId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('regent'),
    algorithm: signingAlgorithm.default('RS256'),
    /** PEM private key (or HMAC secret) file; must not be group- or world-readable. */
    privateKeyFile: z.string().min(1).optional(),
    /** PEM private key (or HMAC secret) given inline, normally through REGENT_SIGNING_KEY. */
    privateKey: z.string().min(1).optional(),
    /** Optional `scope` claim; agents must be configured with the same scope. */
    scope: z.string().min(1).optional(),
  }).prefault({}),
  opa: z.strictObject({
    /** The `opa` binary used for validation; defaults to the project's pinned install, else PATH. */
    path: z.string().min(1).optional(),
    /** Wall-clock budget of the gate (activations, writes, background revalidation), queueing included. */
    timeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
    /** Wall-clock budget of an evaluation, a validate-only request or an inspection, queueing included. */
    evaluateTimeoutMs: z.number().int().min(500).max(600_000).default(15_000),
    /**
     * `opa` processes alive at once; the last slot is kept for activations and writes (so at least 2).
     * Default: the cores, at least 2 and at most 4 (each process may use `memoryLimitMiB`).
     */
    maxConcurrency: z.number().int().min(2).max(64).default(() => Math.min(4, Math.max(2, availableParallelism()))),
    /** Requests (writes, evaluations, validations) waiting for a process; more answer 503 `opa_busy`. */
    maxQueued: z.number().int().min(0).max(10_000).default(32),
    /** Resident memory one `opa` process may use before it is killed. */
    memoryLimitMiB: z.number().int().min(64).max(1_048_576).default(1024),
    /** stdout + stderr kept from one `opa` process; one that writes more is killed. */
    maxOutputBytes: z.number().int().min(65_536).max(1024 * 1024 * 1024).default(64 * 1024 * 1024),
  }).prefault({}),
  /** The activation gate. */
  gate: z.strictObject({
    /** When OPA gives no verdict (missing, crashed, silent, busy), the head is retried after this long, doubling. */
    retryInitialMs: z.number().int().min(10).max(600_000).default(1000),
    retryMaxMs: z.number().int().min(10).max(3_600_000).default(30_000),
    /**
     * The oldest OPA release the fleet may run (`v1.0.0`): every revision is checked against the
     * capabilities of the oldest of this and the versions live agents report, so a built-in an agent's
     * OPA lacks is refused before any agent downloads it. Must be a release Regent's OPA has capabilities for.
     */
    minAgentVersion: z.string().regex(/^v?\d{1,4}\.\d{1,4}\.\d{1,4}$/, "an OPA release such as 'v1.0.0'").optional(),
    /**
     * Whether the versions agents report count too. Off, the gate's verdict is a function of the tree,
     * `minAgentVersion` and Regent's OPA only, hence the same on every replica whichever of them the
     * agents report to (docs/replicas.md).
     */
    fleetReports: z.boolean().default(true),
  }).prefault({}),
  /** Admin API authentication: JWTs verified with pinned algorithms; keys separate from bundle signing. */
  auth: z.strictObject({
    /** Accepted algorithms; one family only (HMAC, or RSA/EC/PSS with a public key). */
    algorithms: z.array(z.enum(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'])).min(1).default(['HS256']),
    /** HMAC secret (>= 32 bytes), normally through REGENT_AUTH_SECRET. */
    secret: z.string().min(1).optional(),
    /** File holding the HMAC secret; mode 0600. */
    secretFile: z.string().min(1).optional(),
    /** PEM public key file for RSA, RSA-PSS and EC tokens. */
    publicKeyFile: z.string().min(1).optional(),
    /** Optional key id the tokens must carry in their header. */
    keyId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
    issuer: z.string().min(1).default('regent'),
    audience: z.string().min(1).default('regent-admin'),
    /** Claim holding the role (`viewer`, `auditor`, `editor`, `admin`). */
    roleClaim: z.string().min(1).default('regent_role'),
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    /** Tokens whose lifetime (exp - iat) is longer than this are refused. */
    maxTokenLifetimeSeconds: z.number().int().min(60).max(31 * 24 * 3600).default(24 * 3600),
  }).prefault({}),
  /** How Regent uses the host's cores. */
  server: z.strictObject({
    /**
     * Processes serving `/bundles/...` and long polls (`auto`: one per core). 1 serves everything in one
     * process; more starts that many worker processes on the public port, while one primary process owns
     * the store, the gate, the admin API and the fleet, and sends every activated revision to every worker
     * before any of them releases its long polls.
     */
    workers: z.union([
      z.literal('auto').transform(() => Math.min(MAX_WORKERS, availableParallelism())),
      z.string().regex(/^\d{1,3}$/, "a whole number or 'auto'").transform(Number).pipe(z.number().int().min(1).max(MAX_WORKERS)),
      z.number().int().min(1).max(MAX_WORKERS),
    ]).default(1),
  }).prefault({}),
  /** Limits shared by every HTTP endpoint. */
  http: z.strictObject({
    /** Arrays and objects nested deeper than this in any JSON request body are refused (400 `json_too_deep`). */
    maxJsonDepth: z.number().int().min(8).max(1000).default(100),
  }).prefault({}),
  api: z.strictObject({
    /** JSON request body limit for the admin API. */
    maxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(2 * 1024 * 1024),
    /** Largest single policy or data file accepted through the API. */
    maxFileBytes: z.number().int().min(1024).default(1024 * 1024),
    maxFilesPerChange: z.number().int().min(1).max(10_000).default(100),
    /** How long a write waits for its revision to become active before answering. */
    activationWaitMs: z.number().int().min(0).max(60_000).default(10_000),
  }).prefault({}),
  /** The hash-chained audit log (`<dataDir>/audit/audit.jsonl`). */
  audit: z.strictObject({
    /**
     * A broken hash chain found at start-up: `refuse` stops start-up naming the file and line;
     * `read-only` starts with every admin write refused (503 `audit_chain_broken`) while bundles keep
     * being served. Default: `refuse`, and `read-only` in development mode.
     */
    onBrokenChain: z.enum(['refuse', 'read-only']).optional(),
  }).prefault({}),
  /** Change requests (four-eyes review inside Regent). */
  changeRequests: z.strictObject({
    /** `merge-commit` (default) merges onto whatever head is now; `fast-forward` moves the branch to the request's own commits, only when it sits on head. */
    mergeStrategy: z.enum(['fast-forward', 'merge-commit']).default('merge-commit'),
    /** When true, direct writes through the API (PUT/DELETE /api/policies/*, POST /api/changes, /api/policies/generate, rollback) are refused: only approved change requests move the branch. */
    requireApproval: z.boolean().default(false),
  }).prefault({}),
  bundles: z.strictObject({
    /** Upper bound for a long poll's `wait=N`; larger requests are held this long (Preference-Applied says so). */
    longPollMaxSeconds: z.number().int().min(1).max(3600).default(300),
    /** Waiters answered per event-loop turn when a new revision is published. */
    releaseBatchSize: z.number().int().min(1).max(10_000).default(200),
    maxFileBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
    maxBundleBytes: z.number().int().min(1024).default(512 * 1024 * 1024),
    maxFiles: z.number().int().min(1).default(100_000),
    /**
     * Serve delta bundles (OPA's `patch.json`) to agents that ask for them (`Prefer: modes=...delta`, which
     * OPA always sends) when a revision changes only data. OPA does not verify signatures on delta
     * bundles: turn this off to have every download verified by the agent (snapshots only).
     */
    deltas: z.boolean().default(true),
    /** Largest role spec (`*.policy.yaml`) compiled; larger ones fail the revision (`file_too_large`) unread. */
    maxSpecBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
  }).prefault({}),
  /** Impact analysis (`POST /api/impact`, a change request's `impact`): bounds on what one analysis replays. */
  impact: z.strictObject({
    /** Inputs or recorded decisions replayed by one analysis, at most (each revision evaluates them in one OPA process). */
    maxInputs: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Changed decisions shown as examples, at most (the counts cover every one). */
    maxExamples: z.number().int().min(0).max(1000).default(20),
    /** A change request's impact replays the decisions of this many hours before now... */
    changeRequestWindowHours: z.number().int().min(1).max(24 * 31).default(24),
    /** ...at most this many of them (the newest). */
    changeRequestMaxDecisions: z.number().int().min(1).max(1_000_000).default(1000),
  }).prefault({}),
  /**
   * Agent credentials: who may read bundles (`/bundles/...`) and send status reports and decision logs.
   * Tokens from a file (by SHA-256) and/or JWTs from an identity provider. Without either, agent access
   * is open in development mode only; outside it Regent refuses to start unless `allowAnonymous` is set.
   */
  agents: z.strictObject({
    /** YAML or JSON: `tokens: [{name, sha256, bundles, environments}]`; mode 0600; re-read when it changes and on SIGHUP. */
    tokensFile: z.string().min(1).optional(),
    /**
     * Open access outside development mode: anyone who reaches Regent reads every bundle. Config file
     * only (it lowers a protection); said at start-up and in `/status`.
     */
    allowAnonymous: z.boolean().default(false),
    /** Long polls one agent identity may have held at once; more are answered 429 with Retry-After (OPA backs off). */
    maxHeldPollsPerAgent: z.number().int().min(1).max(1_000_000).default(100),
    /** JWTs from an identity provider (OAuth2 client credentials, a Kubernetes service-account token). */
    jwt: z.strictObject({
      /** Accepted algorithms (asymmetric: RS*, PS*, ES*). */
      algorithms: z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'])).min(1).default(['RS256']),
      issuer: z.string().min(1),
      audience: z.string().min(1),
      /** The provider's PEM public key (or certificate). */
      publicKeyFile: z.string().min(1).optional(),
      /** The provider's keys as a JWKS document (`{"keys": [...]}`), chosen by the token's `kid`. */
      jwksFile: z.string().min(1).optional(),
      /** Claim naming the agent (shown in the fleet view). */
      subjectClaim: z.string().min(1).default('sub'),
      /** Claim listing the bundles the agent may read (array, or space-separated string; `*`, `prefix/*`). */
      bundlesClaim: z.string().min(1).default('regent_bundles'),
      /** Claim listing the bundle sets it may read (environment names, `default`); `[default]` when absent. */
      environmentsClaim: z.string().min(1).default('regent_environments'),
      clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
      /** Tokens whose lifetime (exp - iat) is longer than this are refused. */
      maxTokenLifetimeSeconds: z.number().int().min(60).max(366 * 24 * 3600).default(24 * 3600),
    }).optional(),
  }).prefault({}),
  /** OPA agents' status reports (`POST /status`) and the fleet view (`GET /api/fleet`). */
  fleet: z.strictObject({
    /**
     * Agents must send it as a bearer token (OPA: `services.<name>.credentials.bearer.token`). Without it,
     * status reports are accepted in development mode only.
     */
    reportToken: z.string().min(16).optional(),
    /** Agents remembered at most; the least recently heard from is forgotten first. */
    maxAgents: z.number().int().min(1).max(1_000_000).default(10_000),
    /** An agent silent this long is shown as stale and left out of convergence figures. */
    staleAfterSeconds: z.number().int().min(10).max(86_400 * 30).default(600),
    /**
     * Bytes of agent records kept at most (as JSON in `<dataDir>/fleet/agents.json`, which never grows
     * beyond it): with `maxAgents`, the bound on what reports can make Regent keep.
     */
    maxStoredBytes: z.number().int().min(1024 * 1024).max(4 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    /** OPA's reports carry Prometheus metrics: tens of kilobytes each. */
    maxReportBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024),
    /** How often the registry is written to `<dataDir>/fleet/agents.json` when it changed. */
    snapshotIntervalMs: z.number().int().min(100).max(600_000).default(5000),
    /**
     * A served revision that not every live agent enforces this long after it was published is recorded
     * as `fleet.stuck` in the audit log (once per bundle and revision), naming the agents and their errors.
     */
    stuckAfterSeconds: z.number().int().min(5).max(86_400 * 7).default(600),
  }).prefault({}),
  /** OPA agents' decision logs (`POST /logs`) and the auditor's view of them (`GET /api/decisions`). */
  decisionLogs: z.strictObject({
    /** Bytes of one batch as sent (gzip'd); OPA's `upload_size_limit_bytes` defaults to 32 KiB. */
    maxBodyBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
    /** Bytes of one batch once inflated: a gzip bomb is cut off here, never inflated in full. */
    maxDecompressedBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(16 * 1024 * 1024),
    /** Decisions in one batch. */
    maxEventsPerBatch: z.number().int().min(1).max(1_000_000).default(10_000),
    /**
     * JSON values and keys in one inflated batch, counted before it is parsed (parsing costs tens of bytes
     * of heap per value: `[{},{},...]` inflates 3 bytes into an object). One batch is parsed at a time.
     */
    maxValuesPerBatch: z.number().int().min(1000).max(100_000_000).default(1_000_000),
    /** Bytes of one decision as stored (its JSON line). */
    maxEventBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    /** Batches read and stored at once (memory: about this × `maxDecompressedBytes` of bodies and encoded lines, plus one parse bounded by `maxValuesPerBatch`); their writes share an fsync. */
    maxConcurrentBatches: z.number().int().min(1).max(1024).default(16),
    /** Batches waiting for a slot, bodies unread; beyond, 503 `decision_logs_busy` (OPA re-sends with backoff). */
    maxQueuedBatches: z.number().int().min(0).max(100_000).default(1000),
    /** How long a batch waits for a slot at most before 503 `decision_logs_busy`. */
    maxQueueWaitMs: z.number().int().min(0).max(60_000).default(10_000),
    /** How long a batch that got a slot may take to send its body; then 408 `body_timeout` and the connection is closed. */
    bodyTimeoutMs: z.number().int().min(100).max(30_000).default(10_000),
    /** A segment file is closed (and indexed) once it is this large; a new one is started. */
    segmentBytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(16 * 1024 * 1024),
    /** Bytes of decisions kept at most: the oldest segments are deleted beyond it. */
    maxBytes: z.number().int().min(1024 * 1024).max(16 * 1024 * 1024 * 1024 * 1024).default(1024 * 1024 * 1024),
    /** Days a decision is kept at most: a segment whose newest decision is older is deleted. */
    maxAgeDays: z.number().min(0.0001).max(36_500).default(30),
    /** Bytes of segments one `GET /api/decisions` reads at most before it answers with what it found and a cursor to go on. */
    maxScanBytesPerQuery: z.number().int().min(64 * 1024).max(16 * 1024 * 1024 * 1024).default(256 * 1024 * 1024),
    /** Bytes of stored decisions one `GET /api/decisions` page holds at most (at least one decision); it ends early with `nextCursor`. */
    maxPageBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(8 * 1024 * 1024),
  }).prefault({}),
  /** `GET /metrics` (Prometheus text format). */
  metrics: z.strictObject({
    /** Serve `/metrics` and count requests; off: `/metrics` answers 404 and nothing is counted. */
    enabled: z.boolean().default(true),
    /** When set, scrapers must send `Authorization: Bearer <token>`; `/metrics` is public otherwise, like `/status`. */
    token: z.string().min(16).optional(),
  }).prefault({}),
  /**
   * Environments: further bundle sets, each following a tag or a branch of the store instead of the
   * tracked branch's head (served at `/bundles/<name>/<bundle>`). Promotion moves the ref; rollback moves
   * it back. None by default.
   */
  environments: z.array(z.strictObject({
    /** URL path segment of the environment's bundles; no default-set bundle may start with it. */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a lower-case name: a letter, then letters, digits or -, at most 32'),
    /** `tags/<name>` or `heads/<name>` (not the tracked branch); checked against git's ref rules at start. */
    ref: z.string().regex(/^(tags|heads)\/[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/, "'tags/<name>' or 'heads/<name>'"),
  })).max(32).default([]).superRefine((environments, context) => {
    const seen = new Set<string>();
    environments.forEach((environment, index) => {
      if (seen.has(environment.name)) context.addIssue({ code: 'custom', path: [index, 'name'], message: `environment '${environment.name}' is configured twice` });
      seen.add(environment.name);
    });
    const refs = new Set<string>();
    environments.forEach((environment, index) => {
      if (refs.has(environment.ref)) context.addIssue({ code: 'custom', path: [index, 'ref'], message: `ref '${environment.ref}' is followed by two environments` });
      refs.add(environment.ref);
    });
  }),
  /**
   * Publishing to object storage and OCI registries, after the catalog swap: every activated bundle set
   * goes to every sink here, retried with backoff while a sink is down (serving never waits for it).
   * Config file only. Sink names must be unique across `s3` and `oci`.
   */
  publish: z.strictObject({
    /** After a failed attempt a sink is tried again after this long, doubling up to `retryMaxMs` (jitter 50–100 %). */
    retryInitialMs: z.number().int().min(10).max(600_000).default(1000),
    retryMaxMs: z.number().int().min(10).max(3_600_000).default(60_000),
    /** One bundle's upload and "latest" move is abandoned (and retried) after this long. */
    timeoutMs: z.number().int().min(100).max(3_600_000).default(120_000),
    s3: z.array(z.strictObject({
      name: sinkName,
      /** `https://...` of an S3-compatible store (`http://` on this machine, or with `allowInsecureHttp`); AWS when absent. */
      endpoint: z.url({ protocol: /^https?$/ }).optional(),
      region: z.string().regex(/^[a-z0-9-]{1,32}$/).default('us-east-1'),
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
      /** Key prefix (`regent/bundles`); leading and trailing `/` are dropped. */
      prefix: z.string().regex(/^\/*([A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]*\/*$/, "key segments of letters, digits, '.', '_', '-' separated by '/'").max(512).default(''),
      forcePathStyle: z.boolean().default(false),
      /** An AWS shared-credentials file (INI, `aws_access_key_id`...), mode 0600; else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`. */
      credentialsFile: z.string().min(1).optional(),
      /** The profile read from `credentialsFile`. */
      profile: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('default'),
      /** Let the AWS SDK find credentials itself (instance or task roles, web identity, SSO) instead. */
      sdkCredentialChain: z.boolean().default(false),
      /** An `http://` endpoint that is not this machine (credentials are signed, never sent; the bytes are signed bundles). */
      allowInsecureHttp: z.boolean().default(false),
    })).max(16).default([]),
    oci: z.array(z.strictObject({
      name: sinkName,
      /** `host[:port]` of the registry (`ghcr.io`, `127.0.0.1:5000`). */
      registry: z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:]+\](:\d{1,5})?$/, 'host[:port]'),
      /** Repository prefix; a bundle `rbac` is pushed to `<repository>/rbac`. */
      repository: z.string().regex(/^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/, 'an OCI repository name (lower case)').max(200),
      /** Plain http: only to a registry on this machine (127.0.0.0/8, ::1, localhost) unless `allowInsecureHttp`. */
      insecure: z.boolean().default(false),
      allowInsecureHttp: z.boolean().default(false),
      username: z.string().min(1).optional(),
      /** The password or token of `username`, mode 0600. */
      passwordFile: z.string().min(1).optional(),
    })).max(16).default([]),
  }).prefault({}).superRefine((publish, context) => {
    const seen = new Set<string>();
    for (const [kind, sinks] of [['s3', publish.s3], ['oci', publish.oci]] as const) {
      sinks.forEach((sink, index) => {
        if (seen.has(sink.name)) context.addIssue({ code: 'custom', path: [kind, index, 'name'], message: `sink name '${sink.name}' is used twice` });
        seen.add(sink.name);
      });
    }
    if (publish.retryMaxMs < publish.retryInitialMs) context.addIssue({ code: 'custom', path: ['retryMaxMs'], message: 'must not be below publish.retryInitialMs' });
  }),
  /**
   * Remote mode: mirror the tracked branch of a Git host (GitHub, GitLab, Gitea or a bare repository).
   * Without `url` Regent runs on its local store alone. Credentials come from a file or the environment
   * and are never logged, stored in the store's config, or put in the URL.
   */
  remote: z.strictObject({
    /** `https://...`, `ssh://...`, `git@host:path`, `file:///...` or an absolute path; no credentials in it. */
    url: z.string().min(1).optional(),
    /** Remote branch; `store.branch` by default. */
    branch: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/, 'a plain branch name').optional(),
    /** HTTPS token, normally through REGENT_REMOTE_TOKEN; sent as Basic `tokenUsername:token`. */
    token: z.string().min(1).optional(),
    tokenFile: z.string().min(1).optional(),
    /** GitHub: `x-access-token`; GitLab: `oauth2`; Gitea: any user name. */
    tokenUsername: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('x-access-token'),
    /** SSH private key file (mode 0600), or the key itself (REGENT_REMOTE_SSH_KEY). */
    sshKeyFile: z.string().min(1).optional(),
    sshKey: z.string().min(1).optional(),
    knownHostsFile: z.string().min(1).optional(),
    strictHostKeyChecking: z.enum(['yes', 'accept-new']).default('yes'),
    /**
     * PEM bundle of the CAs git trusts for this (https) remote only, e.g. a self-hosted Gitea's private CA;
     * the system store is then not consulted. Without it, the system store is.
     */
    caFile: z.string().min(1).optional(),
    /** Client certificate (PEM) for hosts that require one; with `clientKeyFile`. */
    clientCertFile: z.string().min(1).optional(),
    /** Its private key (PEM, unencrypted, mode 0600). */
    clientKeyFile: z.string().min(1).optional(),
    /**
     * Lets a plain `http://` remote through, with a warning at start-up and `mirror.insecureHttp` in
     * `/status`. Config file only (no environment variable): a deliberate choice, not a stray variable.
     */
    allowInsecureHttp: z.boolean().default(false),
    /** With `allowInsecureHttp`: also send the token over http to a host that is not loopback. Config file only. */
    allowTokenOverInsecureHttp: z.boolean().default(false),
    /** node-cron expression (6 fields = with seconds): the safety net for missed webhooks. */
    syncSchedule: z.string().min(1).default('*/30 * * * * *'),
    /** Shared secret of the Git host's webhook (`POST /hooks/git`); webhooks are refused without one. */
    webhookSecret: z.string().min(16).optional(),
    webhookSecretFile: z.string().min(1).optional(),
    webhookMaxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(5 * 1024 * 1024),
    /** Webhook bodies read at once at most; beyond, 503 `webhooks_busy` (so forged deliveries hold at most this × webhookMaxBodyBytes). */
    webhookMaxConcurrentBodies: z.number().int().min(1).max(64).default(4),
    /** A webhook body not read whole within this long is dropped (its connection closed): Git hosts send at once. */
    webhookBodyTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
    fetchTimeoutMs: z.number().int().min(500).max(600_000).default(30_000),
    pushTimeoutMs: z.number().int().min(500).max(600_000).default(30_000),
    backoffInitialMs: z.number().int().min(10).max(600_000).default(1000),
    backoffMaxMs: z.number().int().min(10).max(3_600_000).default(60_000),
  }).prefault({}),
});

export type RegentConfig = z.infer<typeof configSchema>;
export type SigningAlgorithmName = z.infer<typeof signingAlgorithm>;

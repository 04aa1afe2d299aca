import { AUDIT_ACTIONS } from '../domain/audit/audit-log.js';

/**
 * The OpenAPI 3.1 description of Regent's HTTP interface, served at `GET /api/openapi.json`.
 * `test/integration/openapi.test.ts` fails when a route exists that is not described here, or the reverse.
 */
const problem = { $ref: '#/components/responses/Problem' };
const errors = (...statuses: number[]): Record<string, unknown> => Object.fromEntries(statuses.map((status) => [String(status), problem]));
const json = (schema: unknown): unknown => ({ content: { 'application/json': { schema } } });
const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });
const revisionParam = { name: 'revision', in: 'query', required: false, description: '`head` (default), `active`, a 40-hex SHA, or a branch/tag', schema: { type: 'string' } };
const pathParam = { name: 'path', in: 'path', required: true, description: 'repository path, e.g. `rbac/policy.rego`', schema: { type: 'string' } };
const crId = { name: 'id', in: 'path', required: true, description: 'change request number', schema: { type: 'integer', minimum: 1 } };
const tipMatch = { name: 'If-Match', in: 'header', required: false, description: 'the quoted tip the action is based on (or `tip` in the body)', schema: { type: 'string' } };
const ifMatch = { name: 'If-Match', in: 'header', required: false, description: 'the quoted revision the change is based on (or `baseRevision` in the body)', schema: { type: 'string' } };
const write = (summary: string, body: unknown, role = 'admin'): unknown => ({
  summary: `${summary} (role: ${role})`,
  parameters: [ifMatch],
  requestBody: { required: true, ...(json(body) as object) },
  responses: { '201': { description: 'committed', ...(json(ref('ChangeResult')) as object) }, ...errors(400, 401, 403, 404, 409, 413, 415, 422, 428, 503) },
});

const statusReport = {
  summary: "An OPA agent's status report (OPA's status API: `status: {service: regent}`); feeds GET /api/fleet. With agent credentials configured (`agents.*`), agents send their agent token (or the `fleet.reportToken`) as a bearer token; with open agent access, the `fleet.reportToken` when one is set",
  security: [{ agentToken: [] }, {}],
  requestBody: { required: true, ...(json({ type: 'object', required: ['labels'], properties: { labels: { type: 'object', required: ['id'] }, bundles: { type: 'object' }, plugins: { type: 'object' } } }) as object) },
  responses: { '200': { description: 'recorded' }, ...errors(400, 401, 403, 413, 415) },
};

const decisionBatch = {
  summary: "An OPA agent's decision-log batch (OPA's decision-log plugin: `decision_logs: {service: regent}`): a JSON array of decision events, gzip'd (`Content-Encoding: gzip`) or not. Answered 204 once the whole batch is on disk; refused batches store nothing. Same authentication as status reports: an agent token (or the `fleet.reportToken`) when agent credentials are configured (`agents.*`), otherwise the `fleet.reportToken` when one is set",
  security: [{ agentToken: [] }, {}],
  parameters: [{ name: 'Content-Encoding', in: 'header', required: false, description: '`gzip` (as OPA sends) or none', schema: { type: 'string' } }],
  requestBody: { required: true, content: { 'application/json': { schema: { type: 'array', items: { type: 'object', required: ['labels', 'decision_id', 'timestamp'], properties: { labels: { type: 'object', required: ['id'] }, decision_id: { type: 'string' }, timestamp: { type: 'string' }, path: { type: 'string' }, bundles: { type: 'object' }, input: {}, result: {}, erased: { type: 'array' }, masked: { type: 'array' } } } } } } },
  responses: { '204': { description: 'stored (durably)' }, ...errors(400, 401, 403, 413, 415, 503) },
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Regent',
    version: '0.1.0',
    description: 'Git-backed policy store and signed OPA bundle server. Errors are application/problem+json with a stable `code` (docs/errors.md). `/api` routes need `Authorization: Bearer <JWT>`. Any path with a malformed percent-escape is 400 `invalid_path_encoding`; JSON bodies must be UTF-8 (415 `unsupported_charset`, 400 `invalid_utf8`) and nest at most `http.maxJsonDepth` levels (400 `json_too_deep`).',
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      agentToken: { type: 'http', scheme: 'bearer', description: 'An agent token from `agents.tokensFile`, or a JWT from the identity provider of `agents.jwt`; not needed when agent access is open (development mode, `agents.allowAnonymous`)' },
    },
    responses: {
      Problem: { description: 'an RFC 9457 problem', content: { 'application/problem+json': { schema: ref('Problem') } } },
    },
    schemas: {
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status', 'code'],
        properties: {
          type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, code: { type: 'string' }, detail: { type: 'string' },
          field: { type: 'string' }, file: { type: 'string' }, line: { type: 'integer' }, column: { type: 'integer' }, head: { type: 'string' },
          problems: { type: 'array', items: ref('GateProblem') },
        },
      },
      GateProblem: {
        type: 'object', required: ['code', 'message'],
        properties: { code: { type: 'string' }, message: { type: 'string' }, file: { type: 'string' }, line: { type: 'integer' }, column: { type: 'integer' } },
      },
      FileChange: {
        type: 'object', required: ['op', 'path'],
        properties: { op: { enum: ['put', 'delete'] }, path: { type: 'string' }, content: { type: 'string', description: 'UTF-8 file content (put only)' } },
      },
      ChangeResult: {
        type: 'object', required: ['revision', 'parent', 'paths', 'activation', 'timings'],
        description: 'The same timings are sent as `Server-Timing: validate;dur=.., commit;dur=.., activate;dur=..`.',
        properties: {
          revision: { type: 'string' }, parent: { type: 'string' }, paths: { type: 'array', items: { type: 'string' } },
          activation: { type: 'object', properties: { state: { enum: ['active', 'rejected', 'retrying', 'superseded', 'pending'] }, failure: { type: 'object' } } },
          timings: { type: 'object', properties: { validateMs: { type: 'number' }, commitMs: { type: 'number' }, activateMs: { type: 'number' } } },
        },
      },
      ValidationReport: {
        type: 'object',
        properties: {
          baseRevision: { type: 'string' }, ok: { type: 'boolean' }, problems: { type: 'array', items: ref('GateProblem') },
          tests: { type: 'object', properties: { passed: { type: 'integer' }, failed: { type: 'integer' }, errored: { type: 'integer' } } },
          bundles: { type: 'array', items: { type: 'string' } },
          generated: { type: 'array', description: 'modules compiled from role specs, and the spec of each', items: { type: 'object', properties: { path: { type: 'string' }, source: { type: 'string' } } } },
        },
      },
      PolicyListing: {
        type: 'object',
        properties: {
          revision: { type: 'string' },
          files: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                path: { type: 'string' }, kind: { enum: ['module', 'test', 'data', 'spec', 'bundle_definition', 'other'] }, size: { type: 'integer' }, blobId: { type: 'string' },
                package: { type: 'string' }, title: { type: 'string' }, description: { type: 'string' },
              },
            },
          },
        },
      },
      Version: {
        type: 'object',
        properties: {
          revision: { type: 'string' }, parents: { type: 'array', items: { type: 'string' } }, tree: { type: 'string' },
          author: ref('Signature'), committer: ref('Signature'), message: { type: 'string' }, subject: { type: 'string' },
          trailers: { type: 'object', additionalProperties: { type: 'string' } },
          files: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, status: { type: 'string' } } } },
          active: { type: 'boolean' }, head: { type: 'boolean' },
        },
      },
      Signature: { type: 'object', properties: { name: { type: 'string' }, email: { type: 'string' }, date: { type: 'string' } } },
      ChangeRequest: {
        type: 'object', required: ['id', 'title', 'state', 'author', 'baseRevision', 'tip'],
        properties: {
          id: { type: 'integer' }, title: { type: 'string' }, state: { enum: ['open', 'approved', 'rejected', 'merged'] },
          author: ref('Signature'), contributors: { type: 'array', items: { type: 'string' }, description: 'subjects who put commits on it; none may approve it' },
          baseRevision: { type: 'string' }, tip: { type: 'string', description: 'the commit on refs/regent/change-requests/<id>' }, createdAt: { type: 'string' }, updatedAt: { type: 'string' },
          approvals: { type: 'array', description: 'approvals of the current tip', items: { type: 'object', properties: { subject: { type: 'string' }, name: { type: 'string' }, revision: { type: 'string' }, at: { type: 'string' }, comment: { type: 'string' } } } },
          commentCount: { type: 'integer' },
          validation: {
            type: ['object', 'null'], description: 'the request merged onto `head` and validated; `current` is false once head or tip moved (revalidation follows)',
            properties: {
              head: { type: 'string' }, tip: { type: 'string' }, ok: { type: 'boolean' }, current: { type: 'boolean' }, conflicts: { type: 'array', items: { type: 'string' } },
              problems: { type: 'array', items: ref('GateProblem') }, tests: { type: 'object' }, bundles: { type: 'array', items: { type: 'string' } }, at: { type: 'string' },
            },
          },
          rejection: { type: 'object' }, merge: { type: 'object', properties: { subject: { type: 'string' }, revision: { type: 'string' }, strategy: { enum: ['fast-forward', 'merge-commit', 'detected'] }, at: { type: 'string' } } },
        },
      },
      ImpactOutcome: {
        type: 'object', required: ['defined'], description: "one side's answer: `result` when defined (a value over 4 KiB as JSON is shown as `{omitted, bytes, sha256}`)",
        properties: { defined: { type: 'boolean' }, result: {} },
      },
      DecisionChanges: {
        type: 'object',
        properties: {
          evaluated: { type: 'integer' }, changed: { type: 'integer' }, unchanged: { type: 'integer' }, evaluateMs: { type: 'number' },
          transitions: { type: 'array', description: 'kinds of change, most frequent first (at most 20; `otherTransitions` counts the rest)', items: { type: 'object', properties: { query: { type: 'string' }, from: ref('ImpactOutcome'), to: ref('ImpactOutcome'), count: { type: 'integer' } } } },
          otherTransitions: { type: 'integer' },
          examples: {
            type: 'array', description: 'changed decisions, at most `examples` (impact.maxExamples)',
            items: { type: 'object', properties: { index: { type: 'integer' }, query: { type: 'string' }, input: {}, from: ref('ImpactOutcome'), to: ref('ImpactOutcome'), decision: { type: 'object', properties: { decisionId: { type: 'string' }, agentId: { type: 'string' }, timestamp: { type: 'string' } } } } },
          },
        },
      },
      ImpactReport: {
        allOf: [ref('DecisionChanges'), {
          type: 'object',
          properties: {
            from: { type: 'string' }, to: { type: 'string' }, source: { enum: ['inputs', 'decisions'] }, query: { type: 'string' }, durationMs: { type: 'number' },
            decisions: { type: 'object', properties: { since: { type: 'string' }, until: { type: 'string' }, path: { type: 'string' }, limit: { type: 'integer' }, matched: { type: 'integer' }, truncated: { type: 'boolean' }, skipped: { type: 'object', additionalProperties: { type: 'integer' } } } },
          },
        }],
      },
      ChangeRequestImpact: {
        type: 'object', required: ['state'],
        description: 'the request merged onto head against head, replayed on the last `impact.changeRequestWindowHours` of recorded decisions (at most `impact.changeRequestMaxDecisions`); `unavailable` with the reason (`decision_log_unavailable`, `opa_busy`, ...) when it could not be computed; `not_applicable` for closed or conflicting requests',
        properties: {
          state: { enum: ['ready', 'unavailable', 'not_applicable'] }, reason: { type: 'string' }, message: { type: 'string' },
          head: { type: 'string' }, tip: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'integer' }, matched: { type: 'integer' }, truncated: { type: 'boolean' },
          skipped: { type: 'object', additionalProperties: { type: 'integer' } }, computedAt: { type: 'string' },
          evaluated: { type: 'integer' }, changed: { type: 'integer' }, unchanged: { type: 'integer' }, transitions: { type: 'array' }, otherTransitions: { type: 'integer' }, examples: { type: 'array' },
        },
      },
      ChangeRequestDetail: {
        allOf: [ref('ChangeRequest'), {
          type: 'object',
          properties: {
            impact: ref('ChangeRequestImpact'),
            description: { type: 'string' },
            comments: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, subject: { type: 'string' }, name: { type: 'string' }, body: { type: 'string' }, at: { type: 'string' } } } },
            commits: { type: 'array', items: { type: 'object', properties: { revision: { type: 'string' }, author: ref('Signature'), message: { type: 'string' } } } },
            diff: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' }, files: { type: 'array', items: { type: 'object' } }, patch: { type: 'string' } } },
          },
        }],
      },
      Environment: {
        type: 'object', required: ['name', 'ref', 'kind', 'revision', 'active'],
        properties: {
          name: { type: 'string' }, ref: { type: 'string', description: '`refs/tags/<name>` or `refs/heads/<name>`' }, kind: { enum: ['tag', 'branch'] },
          revision: { type: ['string', 'null'], description: 'the commit the ref names (null: the ref does not exist yet)' },
          active: { type: ['string', 'null'], description: 'the revision served at /bundles/<environment>/<bundle>' },
          activatedAt: { type: ['string', 'null'] }, revisionDiffersFromActive: { type: 'boolean' }, inProgress: { type: ['string', 'null'] },
          bundles: { type: 'object' }, longPollWaiters: { type: 'integer' }, lastActivation: { type: ['object', 'null'] }, lastError: { type: ['object', 'null'] },
        },
      },
      AuditRecord: {
        type: 'object',
        properties: {
          seq: { type: 'integer' }, at: { type: 'string' }, prev: { type: 'string' }, action: { type: 'string' }, outcome: { type: 'string' },
          subject: { type: 'string' }, role: { type: 'string' }, requestId: { type: 'string' }, revision: { type: 'string' }, baseRevision: { type: 'string' }, changeRequest: { type: 'string' },
          environment: { type: 'string', description: 'environment.* actions (baseRevision = from, revision = to), and activations of an environment' },
          paths: { type: 'array', items: { type: 'string' } }, reason: { type: 'string' }, detail: { type: 'string' },
        },
      },
      DecisionRecord: {
        type: 'object', required: ['decisionId', 'timestamp', 'path', 'agentId', 'labels', 'bundles', 'receivedAt'],
        description: 'One OPA decision as the agent sent it (masked and erased fields as OPA left them)',
        properties: {
          decisionId: { type: 'string' }, timestamp: { type: 'string' }, path: { type: 'string' }, query: { type: 'string' }, agentId: { type: 'string' }, labels: { type: 'object' },
          bundles: { type: 'object', additionalProperties: { type: 'object', properties: { revision: { type: 'string' } } } }, input: {}, result: {}, error: {}, ndBuiltinCache: {},
          erased: { type: 'array', items: { type: 'string' } }, masked: { type: 'array', items: { type: 'string' } }, partition: { type: 'string' }, receivedAt: { type: 'string' },
          identity: { type: 'string', description: "the agent credential's name the batch came with; absent for anonymous access and for the fleet report token" },
        },
      },
      RevisionConvergence: {
        type: 'object', required: ['bundle', 'revision', 'publishedAt', 'agents', 'state'],
        properties: {
          bundle: { type: 'string' }, revision: { type: 'string' }, publishedAt: { type: 'string' }, agents: { type: 'integer' },
          p50Ms: { type: 'number' }, p90Ms: { type: 'number' }, p100Ms: { type: 'number' }, state: { enum: ['converging', 'converged', 'stuck'] }, convergedAt: { type: 'string' }, stuckAt: { type: 'string' },
        },
      },
      AuditChain: {
        type: 'object',
        description: 'Whether the audit hash chain held at start-up; `brokenAt` names the first line that does not follow (it, or the line before it, is not what Regent wrote)',
        properties: {
          chain: { type: 'string', enum: ['ok', 'broken'] },
          brokenAt: { type: ['object', 'null'], properties: { file: { type: 'string' }, line: { type: 'integer' }, seq: { type: ['integer', 'null'] }, reason: { type: 'string' } } },
        },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/bundles/{name}': {
      get: {
        summary: 'A signed OPA bundle (long polling with Prefer: wait=N). With agent credentials, a bundle outside the token\'s list answers exactly like one that does not exist (404). An agent asking again at once for the revision it was just sent (it failed to activate it) is held with backoff', security: [{ agentToken: [] }, {}],
        parameters: [
          { name: 'name', in: 'path', required: true, description: '`<bundle>` (tracked branch), or `<environment>/<bundle>` (the environment\'s ref)', schema: { type: 'string' } },
          { name: 'If-None-Match', in: 'header', schema: { type: 'string' } },
          { name: 'Prefer', in: 'header', description: 'OPA sends `modes=snapshot,delta;wait=N`', schema: { type: 'string' } },
          { name: 'deltas', in: 'query', description: '`true`: send a delta bundle (`patch.json`) when only data changed since the revision `If-None-Match` names, and `Prefer` lists `delta`. For agents that do not verify signatures: OPA refuses delta bundles when it does', schema: { type: 'string', enum: ['true'] } },
        ],
        responses: {
          '200': { description: 'the bundle (`X-Regent-Bundle-Type: snapshot`), or a delta to it (`delta`)', content: { 'application/vnd.openpolicyagent.bundles': { schema: { type: 'string', format: 'binary' } } } },
          '304': { description: 'unchanged (after holding a long poll)' }, ...errors(400, 401, 404, 405, 429, 503),
        },
      },
      head: { summary: 'Bundle headers only', security: [{ agentToken: [] }, {}], parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'headers' }, '304': { description: 'unchanged' }, ...errors(400, 401, 404, 503) } },
    },
    '/status': {
      get: { summary: 'Head, active revision, served bundles, last error, the audit chain (`audit: {chain, brokenAt}`); each publishing sink (`sinks: [{name, kind, target, lastPublished, pending, pendingSince, lastError, attempts, nextAttemptAt, environments}]`); the fleet (`fleet`: agents live/stale; per served bundle the agents on its revision and the 50/90/100% convergence times); the same per environment under `environments`; with worker processes, `workers: {configured, live, longPollWaiters, replaced, ackTimeouts, pids}` (`longPollWaiters` as the workers last reported it, each second)', security: [], responses: { '200': { description: 'status', ...(json({ type: 'object' }) as object) } } },
      post: statusReport,
    },
    '/logs': { post: decisionBatch },
    '/logs/{partition}': { post: { ...decisionBatch, parameters: [...decisionBatch.parameters, { name: 'partition', in: 'path', required: true, description: "OPA's `decision_logs.partition_name` (kept on every record)", schema: { type: 'string' } }] } },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (text format 0.0.4), every name `regent_*` (README, Metrics). Public unless `metrics.token` is set (then `Authorization: Bearer <token>`); 404 when `metrics.enabled` is false',
        security: [],
        responses: { '200': { description: 'metrics', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors(401) },
      },
    },
    '/status/{partition}': { post: { ...statusReport, parameters: [{ name: 'partition', in: 'path', required: true, description: "OPA's `status.partition_name`", schema: { type: 'string' } }] } },
    '/health/live': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'alive' } } } },
    '/health/ready': { get: { summary: 'Readiness: a revision is active', security: [], responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } },
    '/hooks/git': {
      post: {
        summary: 'Git host webhook (GitHub X-Hub-Signature-256, Gitea X-Gitea-Signature, GitLab X-Gitlab-Token): only asks for a sync; the payload is never parsed. Before the body is read: 401 without a well-formed signature header (or with a wrong GitLab token), 413 when Content-Length is over remote.webhookMaxBodyBytes, 503 webhooks_busy (Retry-After: 1) while remote.webhookMaxConcurrentBodies bodies are being read',
        security: [],
        parameters: ['X-Hub-Signature-256', 'X-GitHub-Delivery', 'X-Gitea-Signature', 'X-Gitea-Delivery', 'X-Gitlab-Token', 'X-Gitlab-Event-UUID'].map((name) => ({ name, in: 'header', required: false, schema: { type: 'string' } })),
        requestBody: { required: false, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
        responses: {
          '202': { description: 'signature valid; a sync was requested', ...(json({ type: 'object', properties: { status: { const: 'sync_requested' }, provider: { type: 'string' }, deliveryId: { type: 'string' } } }) as object) },
          '200': { description: 'a delivery (id or body) seen before; nothing done', ...(json({ type: 'object', properties: { status: { const: 'duplicate' } } }) as object) },
          ...errors(400, 401, 404, 413, 415, 503),
        },
      },
    },
    '/api/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } },
    '/api/whoami': { get: { summary: 'The verified principal (any role)', responses: { '200': { description: 'principal' }, ...errors(401) } } },
    '/api/policies': {
      get: { summary: 'Files at a revision, with packages and METADATA titles (role: viewer)', parameters: [revisionParam], responses: { '200': { description: 'listing', ...(json(ref('PolicyListing')) as object) }, ...errors(400, 401, 403, 404) } },
    },
    '/api/policies/{path}': {
      get: {
        summary: 'One file at a revision (role: viewer); `?format=json` for an envelope; `?compiled=rego` shows a role spec (`*.policy.yaml`) as the Rego module it compiles to (422 with its problems when it does not compile)',
        parameters: [pathParam, revisionParam, { name: 'format', in: 'query', schema: { enum: ['json', 'raw'] } }, { name: 'compiled', in: 'query', schema: { enum: ['rego'] } }],
        responses: { '200': { description: 'the file' }, ...errors(400, 401, 403, 404, 422) },
      },
      put: { ...(write('Create or update one file', { type: 'object', required: ['content', 'message'], properties: { content: { type: 'string' }, message: { type: 'string' }, baseRevision: { type: 'string' } } }) as object), parameters: [pathParam, ifMatch] },
      delete: { ...(write('Delete one file', { type: 'object', required: ['message'], properties: { message: { type: 'string' }, baseRevision: { type: 'string' } } }) as object), parameters: [pathParam, ifMatch] },
    },
    '/api/changes': {
      post: write('Apply several file operations as one commit', { type: 'object', required: ['changes', 'message'], properties: { changes: { type: 'array', items: ref('FileChange') }, message: { type: 'string' }, baseRevision: { type: 'string' } } }),
    },
    '/api/changes/validate': {
      post: {
        summary: 'Dry-run validation of a change with OPA and the bundle builder (role: editor)',
        requestBody: { required: true, ...(json({ type: 'object', required: ['changes'], properties: { changes: { type: 'array', items: ref('FileChange') }, baseRevision: { type: 'string' } } }) as object) },
        responses: { '200': { description: 'valid', ...(json(ref('ValidationReport')) as object) }, '422': { description: 'invalid', ...(json(ref('ValidationReport')) as object) }, ...errors(400, 401, 403, 404, 413, 415) },
      },
    },
    '/api/policies/generate': {
      post: write('Generate an RBAC module (`format: rego`, default) or a role spec (`format: spec`: rbac/services/<service>.policy.yaml) for a service from role → actions, with its tests', {
        type: 'object', required: ['service_name', 'resource_type', 'actions'],
        properties: {
          service_name: { type: 'string' }, resource_type: { type: 'string' }, actions: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
          format: { enum: ['rego', 'spec'] }, projects: { type: 'object', description: 'format: spec only: role → the projects it is scoped to (resources `<resource_type>/<project>/<name>`)', additionalProperties: { type: 'array', items: { type: 'string' } } },
          message: { type: 'string' }, baseRevision: { type: 'string' },
        },
      }),
    },
    '/api/evaluate': {
      post: {
        summary: "Evaluate a data reference on a revision (role specs compiled) with an input (role: editor); `explain` adds OPA's trace (`opa eval --explain`), bounded like every OPA run (opa.maxOutputBytes: 422 opa_output_limit)",
        requestBody: { required: true, ...(json({ type: 'object', required: ['query'], properties: { query: { type: 'string', examples: ['data.rbac.allow'] }, revision: { type: 'string' }, input: {}, explain: { enum: ['notes', 'fails', 'full'] } } }) as object) },
        responses: {
          '200': {
            description: 'result',
            ...(json({
              type: 'object',
              properties: {
                revision: { type: 'string' }, result: {}, defined: { type: 'boolean' }, durationMs: { type: 'number' },
                explanation: { type: 'object', description: 'with `explain`: the trace as lines (`location  | | Op source`) and as OPA\'s events', properties: { mode: { type: 'string' }, lines: { type: 'array', items: { type: 'string' } }, events: { type: 'array' } } },
              },
            }) as object),
          },
          ...errors(400, 401, 403, 404, 422, 503),
        },
      },
    },
    '/api/impact': {
      post: {
        summary: 'Which decisions change between two revisions: each input (or recorded decision) evaluated on both by real OPA, one process per revision (role: editor)',
        requestBody: {
          required: true,
          ...(json({
            type: 'object', required: ['from', 'to'],
            properties: {
              from: { type: 'string' }, to: { type: 'string' },
              inputs: { type: 'array', description: 'input documents (at most impact.maxInputs); or `decisions`' },
              query: { type: 'string', description: 'with `inputs`: the data reference evaluated (default `data`, the whole document)' },
              decisions: { type: 'object', description: 'recorded decisions, each replayed at the path it was made for (503 decision_log_unavailable while no decision log is kept)', properties: { since: { type: 'string', format: 'date-time' }, until: { type: 'string', format: 'date-time' }, path: { type: 'string', examples: ['rbac/allow'] }, limit: { type: 'integer', minimum: 1 } } },
              examples: { type: 'integer', minimum: 0, description: 'changed decisions shown, at most (default and maximum impact.maxExamples)' },
            },
          }) as object),
        },
        responses: { '200': { description: 'the decisions that change', ...(json(ref('ImpactReport')) as object) }, ...errors(400, 401, 403, 404, 413, 415, 422, 503) },
      },
    },
    '/api/versions': {
      get: {
        summary: 'History of the tracked branch, newest first (role: viewer)',
        parameters: [
          { name: 'path', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'versions', ...(json({ type: 'object', properties: { versions: { type: 'array', items: ref('Version') }, nextCursor: { type: ['string', 'null'] } } }) as object) }, ...errors(400, 401, 403) },
      },
    },
    '/api/versions/{revision}': {
      get: { summary: 'One version (`head`, `active`, SHA, branch or tag) (role: viewer)', parameters: [{ name: 'revision', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'version', ...(json(ref('Version')) as object) }, ...errors(400, 401, 403, 404) } },
    },
    '/api/versions/{revision}/activate': {
      post: { ...(write('Roll back: a new commit whose tree equals this revision\'s', { type: 'object', properties: { message: { type: 'string' }, baseRevision: { type: 'string' } } }) as object), parameters: [{ name: 'revision', in: 'path', required: true, schema: { type: 'string' } }, ifMatch] },
    },
    '/api/diff': {
      get: {
        summary: 'Diff between two revisions (role: viewer); Accept: text/x-diff for the patch',
        parameters: [{ name: 'from', in: 'query', required: true, schema: { type: 'string' } }, { name: 'to', in: 'query', required: true, schema: { type: 'string' } }, { name: 'format', in: 'query', schema: { enum: ['json', 'patch'] } }],
        responses: { '200': { description: 'diff' }, ...errors(400, 401, 403, 404) },
      },
    },
    '/api/environments': {
      get: { summary: 'Every environment: its ref, the revision it names, the revision served, last error (role: viewer)', responses: { '200': { description: 'environments', ...(json({ type: 'object', properties: { environments: { type: 'array', items: ref('Environment') } } }) as object) }, ...errors(401, 403) } },
    },
    '/api/environments/{environment}': {
      get: {
        summary: 'One environment; `ETag` = the quoted revision its ref names (role: viewer)',
        parameters: [{ name: 'environment', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'the environment', ...(json(ref('Environment')) as object) }, ...errors(401, 403, 404) },
      },
      put: {
        summary: 'Promote or roll back: move the environment\'s tag or branch to a revision of the tracked branch\'s history that passes validation (role: admin)',
        parameters: [
          { name: 'environment', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'If-Match', in: 'header', required: false, description: 'the quoted revision the environment names now (409 environment_moved when it moved); one of If-Match and If-None-Match is required (428)', schema: { type: 'string' } },
          { name: 'If-None-Match', in: 'header', required: false, description: '`*`: the environment\'s ref does not exist yet', schema: { type: 'string' } },
        ],
        requestBody: { required: true, ...(json({ type: 'object', required: ['revision'], properties: { revision: { type: 'string', description: 'a 40-hex SHA, `head`, `active`, or a branch/tag name' }, message: { type: 'string', description: 'the annotated tag\'s message' } } }) as object) },
        responses: {
          '200': { description: 'moved; answered once the environment serves it (or the wait ran out: activation.state)', ...(json({ type: 'object', properties: { environment: { type: 'string' }, ref: { type: 'string' }, from: { type: ['string', 'null'] }, revision: { type: 'string' }, activation: { type: 'object' } } }) as object) },
          ...errors(400, 401, 403, 404, 409, 413, 415, 422, 428, 503),
        },
      },
    },
    '/api/mirror/sync': {
      post: { summary: 'Remote mode: fetch from the remote now (role: admin)', responses: { '202': { description: 'sync requested', ...(json({ type: 'object', properties: { status: { type: 'string' }, mirror: { type: 'object' } } }) as object) }, ...errors(401, 403, 404, 503) } },
    },
    '/api/mirror/accept': {
      post: {
        summary: 'Remote mode: move head to a remote history that diverged from it (force-push); the old head is kept under refs/regent/archive/ (role: admin)',
        parameters: [{ name: 'If-Match', in: 'header', required: false, description: 'the quoted remote tip accepted (or `remoteTip` in the body)', schema: { type: 'string' } }],
        requestBody: { required: false, ...(json({ type: 'object', properties: { remoteTip: { type: 'string', description: 'GET /status → mirror.diverged.remoteTip' } } }) as object) },
        responses: { '200': { description: 'accepted', ...(json({ type: 'object', properties: { previousHead: { type: 'string' }, head: { type: 'string' }, archiveRef: { type: 'string' }, mirror: { type: 'object' } } }) as object) }, ...errors(400, 401, 403, 404, 409, 412, 415, 503) },
      },
    },
    '/api/change-requests': {
      get: {
        summary: 'Change requests, newest first (role: viewer)',
        parameters: [{ name: 'state', in: 'query', schema: { enum: ['open', 'approved', 'rejected', 'merged'] } }],
        responses: { '200': { description: 'change requests', ...(json({ type: 'object', properties: { changeRequests: { type: 'array', items: ref('ChangeRequest') } } }) as object) }, ...errors(400, 401, 403) },
      },
      post: {
        summary: 'Propose a change for review: one commit on refs/regent/change-requests/<id>, validated as merged onto head (role: editor)',
        requestBody: { required: true, ...(json({ type: 'object', required: ['title', 'changes'], properties: { title: { type: 'string' }, description: { type: 'string' }, message: { type: 'string', description: 'commit message (default: the title)' }, changes: { type: 'array', items: ref('FileChange') }, baseRevision: { type: 'string', description: 'a revision in the tracked branch\'s history (default: head)' } } }) as object) },
        responses: { '201': { description: 'proposed', ...(json(ref('ChangeRequest')) as object) }, ...errors(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    },
    '/api/change-requests/{id}': {
      get: { summary: "One change request with comments, commits, the diff against its base, its validation and its impact on the last day's recorded decisions (role: viewer)", parameters: [crId], responses: { '200': { description: 'change request', ...(json(ref('ChangeRequestDetail')) as object) }, ...errors(400, 401, 403, 404) } },
    },
    '/api/change-requests/{id}/commits': {
      post: {
        summary: 'Add a commit; approvals are reset (role: editor, the author, or admin)', parameters: [crId, tipMatch],
        requestBody: { required: true, ...(json({ type: 'object', required: ['message', 'changes'], properties: { message: { type: 'string' }, changes: { type: 'array', items: ref('FileChange') }, tip: { type: 'string' } } }) as object) },
        responses: { '201': { description: 'added', ...(json(ref('ChangeRequest')) as object) }, ...errors(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    },
    '/api/change-requests/{id}/comments': {
      post: {
        summary: 'Comment (role: editor)', parameters: [crId],
        requestBody: { required: true, ...(json({ type: 'object', required: ['body'], properties: { body: { type: 'string' } } }) as object) },
        responses: { '201': { description: 'the comment' }, ...errors(400, 401, 403, 404, 413, 415, 503) },
      },
    },
    '/api/change-requests/{id}/approve': {
      post: {
        summary: 'Approve the current tip; never by an admin who put commits on it (403 self_approval) (role: admin)', parameters: [crId, tipMatch],
        requestBody: { required: false, ...(json({ type: 'object', properties: { comment: { type: 'string' }, tip: { type: 'string', description: 'the tip reviewed; 409 change_request_moved when it moved' } } }) as object) },
        responses: { '200': { description: 'approved', ...(json(ref('ChangeRequest')) as object) }, ...errors(400, 401, 403, 404, 409, 415, 503) },
      },
    },
    '/api/change-requests/{id}/reject': {
      post: {
        summary: 'Reject (role: admin, or the author withdrawing it)', parameters: [crId],
        requestBody: { required: false, ...(json({ type: 'object', properties: { reason: { type: 'string' } } }) as object) },
        responses: { '200': { description: 'rejected', ...(json(ref('ChangeRequest')) as object) }, ...errors(400, 401, 403, 404, 409, 415, 503) },
      },
    },
    '/api/change-requests/{id}/merge': {
      post: {
        summary: 'Merge an approved request valid on the current head: fast-forward or merge commit, per changeRequests.mergeStrategy (role: admin)', parameters: [crId],
        responses: {
          '200': { description: 'merged', ...(json({ type: 'object', properties: { revision: { type: 'string' }, strategy: { enum: ['fast-forward', 'merge-commit'] }, activation: { type: 'object' }, changeRequest: ref('ChangeRequest') } }) as object) },
          ...errors(400, 401, 403, 404, 409, 415, 422, 503),
        },
      },
    },
    '/api/fleet': {
      get: {
        summary: 'One page of the OPA agents as they last reported, in agent id order (per bundle: enforced revision, last download/activation/error; stale when silent), and, over the whole fleet, per bundle how much of it enforces the served revision and how long convergence took (role: auditor). Follow `nextCursor` for the next page: paging by id is stable while agents report',
        parameters: [
          { name: 'limit', in: 'query', required: false, description: 'agents per page', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'cursor', in: 'query', required: false, description: '`nextCursor` of the previous page', schema: { type: 'string' } },
        ],
        responses: {
          '200': {
            description: 'fleet',
            ...(json({
              type: 'object', required: ['agents', 'bundles', 'omittedBundles', 'failingAgents', 'failingAgentsTotal', 'total', 'limit', 'nextCursor'],
              properties: {
                agents: { type: 'array', maxItems: 1000, items: { type: 'object' } },
                bundles: { type: 'array', items: { type: 'object', properties: { name: { type: 'string', description: '`rbac`, or `prod/rbac` for environment prod\'s (agents are counted against an environment by bundle name, status partition, or revision: README, Fleet)' }, servedRevision: { type: 'string' }, agents: { type: 'integer' }, onServedRevision: { type: 'integer' }, withErrors: { type: 'integer' }, revisions: { type: 'object' }, convergenceMs: { type: 'number' }, convergence: { type: 'object', properties: { p50Ms: { type: 'number' }, p90Ms: { type: 'number' }, p100Ms: { type: 'number' } } } } } },
                omittedBundles: { type: 'integer', description: 'bundle names reported but not summarized: `bundles` has every bundle Regent serves and the 50 other names most reported' },
                failingAgents: {
                  type: 'array', maxItems: 100, description: 'live agents whose last report has a bundle error, newest first',
                  items: { type: 'object', required: ['agentId', 'bundle', 'code', 'reportedAt'], properties: { agentId: { type: 'string' }, identity: { type: 'string', description: 'the agent credential its reports come with' }, name: { type: 'string' }, version: { type: 'string' }, bundle: { type: 'string' }, activeRevision: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' }, httpCode: { type: 'integer' }, reportedAt: { type: 'string' } } },
                },
                failingAgentsTotal: { type: 'integer', description: 'bundle errors of live agents in all' },
                revisions: { type: 'array', description: 'per served bundle, its last revisions and how they spread: publishedAt, agents, p50Ms/p90Ms/p100Ms, state (converging, converged, stuck)', items: ref('RevisionConvergence') },
                total: { type: 'integer', description: 'agents remembered in all' },
                limit: { type: 'integer' },
                nextCursor: { type: ['string', 'null'], description: 'pass as `cursor` for the next page; null on the last' },
              },
            }) as object),
          },
          ...errors(400, 401, 403),
        },
      },
    },
    '/api/decisions': {
      get: {
        summary: 'Decisions OPA agents reported (POST /logs), most recently received first, with filters combined by AND; follow `nextCursor` (`partial: true`: the read budget of one query was spent before the page filled; a page also ends at `decisionLogs.maxPageBytes` of stored decisions, at least one, with a `nextCursor`) (role: auditor)',
        parameters: [
          { name: 'since', in: 'query', description: 'decision time from (ISO 8601 with a zone, inclusive)', schema: { type: 'string' } },
          { name: 'until', in: 'query', description: 'decision time until (inclusive)', schema: { type: 'string' } },
          { name: 'revision', in: 'query', description: 'the revision the agent enforced for any bundle', schema: { type: 'string' } },
          { name: 'path', in: 'query', description: 'the query path as OPA logs it (`rbac/allow`; `data.rbac.allow` is the same)', schema: { type: 'string' } },
          { name: 'result', in: 'query', description: 'the decision result as JSON (`true`, `false`, `"x"`, `{"a":1}`)', schema: { type: 'string' } },
          { name: 'agent', in: 'query', description: "the agent's `labels.id`", schema: { type: 'string' } },
          { name: 'identity', in: 'query', description: "the agent credential's name the decision came with (`identity`)", schema: { type: 'string' } },
          { name: 'decision_id', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          { name: 'cursor', in: 'query', description: '`nextCursor` of the previous page', schema: { type: 'string' } },
        ],
        responses: {
          '200': { description: 'decisions', ...(json({ type: 'object', required: ['decisions', 'nextCursor', 'partial', 'limit'], properties: { decisions: { type: 'array', items: ref('DecisionRecord') }, nextCursor: { type: ['string', 'null'] }, partial: { type: 'boolean' }, limit: { type: 'integer' } } }) as object) },
          ...errors(400, 401, 403),
        },
      },
    },
    '/api/audit': {
      get: {
        summary: 'The audit log, newest first, and whether its hash chain held at start-up (`chain`, and the `Regent-Audit-Chain` header: `ok` or `broken; file=...; line=N; seq=N`) (role: auditor)',
        parameters: ['subject', 'path', 'action', 'since', 'until', 'before', 'limit'].map((name) => ({ name, in: 'query', schema: name === 'action' ? { enum: [...AUDIT_ACTIONS] } : { type: 'string' } })),
        responses: {
          '200': {
            description: 'records',
            headers: { 'Regent-Audit-Chain': { description: '`ok`, or `broken; file="<file>"; line=<n>; seq=<n>`', schema: { type: 'string' } } },
            ...(json({ type: 'object', properties: { records: { type: 'array', items: ref('AuditRecord') }, nextBefore: { type: ['integer', 'null'] }, chain: ref('AuditChain') } }) as object),
          },
          ...errors(400, 401, 403),
        },
      },
    },
  },
} as const;

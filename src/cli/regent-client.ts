/**
 * The CLI's one HTTP client of a running Regent: every call the `regent` commands make to the admin
 * API, `/status` and `/health` goes through {@link RegentClient}, so a new endpoint (decision logs,
 * metrics, publishing) is one method here. Errors are {@link RegentApiError}s carrying the server's
 * problem document (`application/problem+json`) as it came, or a {@link RegentUnreachableError}.
 */

/** The problem document of a refused request (RFC 9457 with Regent's stable `code`). */
export interface ProblemDocument {
  status: number;
  code: string;
  title?: string;
  detail?: string;
  [extension: string]: unknown;
}

/** The server answered with an error status; `problem` is its problem document (or one made from the status). */
export class RegentApiError extends Error {
  constructor(readonly problem: ProblemDocument, readonly method: string, readonly path: string) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
    this.name = 'RegentApiError';
  }
}

/** No answer at all: connection refused, DNS, timeout, or not Regent. */
export class RegentUnreachableError extends Error {
  constructor(readonly url: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegentUnreachableError';
  }
}

export interface RegentClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8080` (a trailing `/` is dropped). */
  url: string;
  /** Bearer token for `/api`; unauthenticated calls (`/status`, `/health/*`) work without. */
  token?: string;
  /** Per request (default 120 s: writes are answered once their revision is active). */
  timeoutMs?: number;
}

export interface JsonAnswer<T> {
  status: number;
  headers: Headers;
  body: T;
}

type Query = Record<string, string | number | undefined>;

/** A change of one file, as `POST /api/changes` and change requests take it. */
export type FileChangeBody = { op: 'put'; path: string; content: string } | { op: 'delete'; path: string };

export class RegentClient {
  private readonly base: string;

  constructor(private readonly options: RegentClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new RegentUnreachableError(options.url, `'${options.url}' is not a URL (hint: --url http://127.0.0.1:8080)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RegentUnreachableError(options.url, `'${options.url}' is not an http(s) URL`);
    if (parsed.username || parsed.password) throw new RegentUnreachableError(options.url, 'the URL must not carry credentials: pass the token with --token or REGENT_TOKEN');
    this.base = parsed.toString().replace(/\/+$/, '');
  }

  get url(): string {
    return this.base;
  }

  // --- public endpoints ---
  status(): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('GET', '/status', { auth: false });
  }

  ready(): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('GET', '/health/ready', { auth: false, okStatuses: [503] });
  }

  // --- policies ---
  listPolicies(revision?: string): Promise<JsonAnswer<{ revision: string; files: Array<Record<string, unknown>> }>> {
    return this.json('GET', '/api/policies', { query: { revision } });
  }

  readPolicy(path: string, revision?: string): Promise<JsonAnswer<{ revision: string; path: string; blobId: string; size: number; content: string }>> {
    return this.json('GET', `/api/policies/${encodePath(path)}`, { query: { revision, format: 'json' } });
  }

  putPolicy(path: string, body: { content: string; message: string; baseRevision: string }): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('PUT', `/api/policies/${encodePath(path)}`, { body });
  }

  deletePolicy(path: string, body: { message: string; baseRevision: string }): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('DELETE', `/api/policies/${encodePath(path)}`, { body });
  }

  validate(body: { changes: FileChangeBody[]; baseRevision?: string }): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('POST', '/api/changes/validate', { body, okStatuses: [422] });
  }

  evaluate(body: { query: string; input?: unknown; revision?: string }): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('POST', '/api/evaluate', { body });
  }

  // --- versions ---
  versions(query: { path?: string; limit?: number; cursor?: string }): Promise<JsonAnswer<{ versions: Array<Record<string, unknown>>; nextCursor: string | null }>> {
    return this.json('GET', '/api/versions', { query });
  }

  version(revision: string): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('GET', `/api/versions/${encodeURIComponent(revision)}`);
  }

  diff(query: { from: string; to: string }): Promise<JsonAnswer<{ from: string; to: string; files: Array<Record<string, unknown>>; patch: string }>> {
    return this.json('GET', '/api/diff', { query });
  }

  rollback(revision: string, body: { baseRevision: string; message?: string }): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('POST', `/api/versions/${encodeURIComponent(revision)}/activate`, { body });
  }

  // --- change requests ---
  listChangeRequests(state?: string): Promise<JsonAnswer<{ changeRequests: Array<Record<string, unknown>> }>> {
    return this.json('GET', '/api/change-requests', { query: { state } });
  }

  changeRequest(id: string): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('GET', `/api/change-requests/${encodeURIComponent(id)}`);
  }

  proposeChangeRequest(body: { title: string; description?: string; message?: string; changes: FileChangeBody[]; baseRevision?: string }): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('POST', '/api/change-requests', { body });
  }

  approveChangeRequest(id: string, body: { tip?: string; comment?: string }): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('POST', `/api/change-requests/${encodeURIComponent(id)}/approve`, { body });
  }

  rejectChangeRequest(id: string, body: { reason?: string }): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('POST', `/api/change-requests/${encodeURIComponent(id)}/reject`, { body });
  }

  mergeChangeRequest(id: string): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('POST', `/api/change-requests/${encodeURIComponent(id)}/merge`, { body: {} });
  }

  // --- audit and fleet ---
  audit(query: { subject?: string; path?: string; action?: string; since?: string; until?: string; before?: string; limit?: number }): Promise<JsonAnswer<{ records: Array<Record<string, unknown>>; nextBefore: string | number | null; chain: Record<string, unknown> }>> {
    return this.json('GET', '/api/audit', { query });
  }

  fleet(query: { limit?: number; cursor?: string }): Promise<JsonAnswer<Record<string, unknown>>> {
    return this.json('GET', '/api/fleet', { query });
  }

  /** One JSON request; an error status (other than `okStatuses`) throws {@link RegentApiError}. */
  async json<T>(method: string, path: string, options: { query?: Query; body?: unknown; auth?: boolean; okStatuses?: number[] } = {}): Promise<JsonAnswer<T>> {
    const url = `${this.base}${path}${queryString(options.query)}`;
    const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' };
    if (options.auth !== false && this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, {
        method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 120_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = (error as Error).name === 'TimeoutError' ? 'no answer in time' : cause?.code ?? cause?.message ?? (error as Error).message;
      throw new RegentUnreachableError(this.base, `cannot reach Regent at ${this.base} (${reason}); is it running? (set --url or REGENT_URL)`, { cause: error });
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (response.ok || options.okStatuses?.includes(response.status)) {
      if (parsed === undefined) throw new RegentUnreachableError(this.base, `${method} ${path} answered ${response.status} with a body that is not JSON: is ${this.base} a Regent?`);
      return { status: response.status, headers: response.headers, body: parsed as T };
    }
    throw new RegentApiError(problemOf(response, parsed, text), method, path);
  }
}

function problemOf(response: Response, parsed: unknown, text: string): ProblemDocument {
  if (typeof parsed === 'object' && parsed !== null && typeof (parsed as ProblemDocument).code === 'string') {
    return { ...(parsed as ProblemDocument), status: response.status };
  }
  return { status: response.status, code: `http_${response.status}`, title: response.statusText, detail: text.trim().slice(0, 500) || response.statusText };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A repository path as URL path segments (each one percent-encoded, `/` kept). */
function encodePath(path: string): string {
  return path.split('/').map((segment) => encodeURIComponent(segment)).join('/');
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * The admin API as the web view calls it: same origin, `Authorization: Bearer <token>` from the session,
 * JSON in and out, problems (`application/problem+json`) turned into {@link ApiError}. The token only
 * ever travels in that header: never in a URL, a query string or the page.
 */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  code: string;
  detail?: string;
  [member: string]: unknown;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? problem.code);
  }
  get status(): number { return this.problem.status; }
  get code(): string { return this.problem.code; }
}

export type Query = Record<string, string | number | undefined | null>;

interface OpenApiOperation {
  parameters?: Array<{ name: string; in: string; description?: string; schema?: { enum?: string[]; type?: string } }>;
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation | undefined>>;
}

export class Api {
  private documentPromise: Promise<OpenApiDocument> | undefined;

  constructor(private readonly token: () => string | undefined, private readonly onUnauthorized: (problem: Problem) => void) {}

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>(method, path, { body, headers });
  }

  /** The API's own description (`GET /api/openapi.json`, public), read once per page load. */
  document(): Promise<OpenApiDocument> {
    this.documentPromise ??= fetch('/api/openapi.json', { credentials: 'omit' }).then(async (response) => {
      if (!response.ok) throw new ApiError(await problemOf(response));
      return (await response.json()) as OpenApiDocument;
    });
    this.documentPromise.catch(() => (this.documentPromise = undefined));
    return this.documentPromise;
  }

  /** The documented operation, or undefined when this server does not have it (yet). */
  async operation(method: string, path: string): Promise<OpenApiOperation | undefined> {
    const document = await this.document();
    return document.paths[path]?.[method.toLowerCase()];
  }

  private async request<T>(method: string, path: string, options: { query?: Query; body?: unknown; headers?: Record<string, string> }): Promise<T> {
    const token = this.token();
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(urlOf(path, options.query), {
        method, headers, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer',
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch {
      throw new ApiError({ status: 0, code: 'network_error', detail: 'Regent did not answer (is it running?)' });
    }
    if (!response.ok) {
      const problem = await problemOf(response);
      if (response.status === 401) this.onUnauthorized(problem);
      throw new ApiError(problem);
    }
    return (await response.json()) as T;
  }
}

/** `/api/...` with the query's non-empty members; path segments are the caller's, already encoded. */
export function urlOf(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

/** Encodes a repository path for a URL, keeping its `/` separators. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

async function problemOf(response: Response): Promise<Problem> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Partial<Problem>;
    if (typeof body.code === 'string') return { ...body, status: response.status, code: body.code };
  } catch {
    // not JSON: described below
  }
  return { status: response.status, code: `http_${response.status}`, detail: text.slice(0, 300) || response.statusText };
}

import { request } from 'node:http';
import { AdminTokenIssuer } from '../../src/domain/auth/admin-token-issuer.js';
import type { Role } from '../../src/domain/auth/principal.js';
import type { RunningRegent } from '../../src/main.js';

export interface AdminIdentity {
  sub: string;
  role: Role;
  name?: string;
  email?: string;
}

export interface AdminClient {
  readonly token: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  put(path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  delete(path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

/**
 * One request over node:http, which sends `path` exactly as given (fetch would normalize `%2e%2e`
 * segments away before Regent ever saw them), answered as a fetch `Response`.
 */
export function rawRequest(baseUrl: string, method: string, path: string, body: Buffer | undefined, headers: Record<string, string>): Promise<Response> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) responseHeaders.append(name, one);
        }
        const status = res.statusCode ?? 0;
        resolve(new Response(status === 204 || status === 304 || method === 'HEAD' ? null : Buffer.concat(chunks), { status, headers: responseHeaders }));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A real HTTP client of a running Regent's admin API, holding a token minted with the instance's own
 * (development) admin secret for `identity`. Objects are sent as JSON; strings and Buffers as they are,
 * so tests can send bodies the API must refuse. Paths are sent unnormalized.
 */
export function adminClient(regent: Pick<RunningRegent, 'url' | 'adminTokenKey'>, identity: AdminIdentity): AdminClient {
  const issuer = AdminTokenIssuer.create({
    algorithm: 'HS256',
    key: regent.adminTokenKey.key,
    issuer: 'regent',
    audience: 'regent-admin',
    roleClaim: 'regent_role',
    maxTokenLifetimeSeconds: 86_400,
  });
  const { token } = issuer.issue(identity);
  const send = (method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> => {
    const raw = body === undefined || typeof body === 'string' || Buffer.isBuffer(body);
    const bytes = body === undefined ? undefined : raw ? Buffer.from(body as string | Buffer) : Buffer.from(JSON.stringify(body));
    return rawRequest(regent.url, method, path, bytes, { Authorization: `Bearer ${token}`, ...(raw ? {} : { 'Content-Type': 'application/json' }), ...headers });
  };
  return {
    token,
    get: (path, headers) => send('GET', path, undefined, headers),
    put: (path, body, headers) => send('PUT', path, body, headers),
    post: (path, body, headers) => send('POST', path, body, headers),
    delete: (path, body, headers) => send('DELETE', path, body, headers),
  };
}

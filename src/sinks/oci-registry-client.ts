import { UnavailableError } from '../domain/errors.js';
import type { OciBlob } from './oci-artifact.js';

export interface OciRegistryClientOptions {
  /** `host[:port]` of the registry. */
  registry: string;
  /** Plain http (a registry on this machine, or explicitly allowed). */
  insecure: boolean;
  credentials?: { username: string; password: string };
  /** For messages: the sink's name. */
  sink: string;
}

/** Bytes read at most from an error answer or a token answer. */
const MAX_SMALL_BODY = 1024 * 1024;

/**
 * The push half of the OCI distribution API over `fetch`: blob existence (`HEAD`), monolithic blob
 * upload (`POST` a session, then `PUT` the bytes with their digest), manifest `PUT` by tag. Registries
 * that ask for credentials get them as the challenge says: `Basic` directly, or `Bearer` through the
 * registry's token service (the Docker token flow, scope `repository:<name>:pull,push`); the answer is
 * kept per repository. Errors are `sink_unavailable` (no answer, 5xx) or `sink_refused` (4xx: credentials,
 * permissions, a manifest the registry will not take), with the registry's own error code.
 */
export class OciRegistryClient {
  readonly baseUrl: string;
  private readonly authorizations = new Map<string, string>();

  constructor(private readonly options: OciRegistryClientOptions) {
    this.baseUrl = `${options.insecure ? 'http' : 'https'}://${options.registry}`;
  }

  async blobExists(repository: string, digest: string, signal: AbortSignal): Promise<boolean> {
    const response = await this.request(repository, 'HEAD', `/v2/${repository}/blobs/${digest}`, {}, signal);
    await discard(response);
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw await this.failure(response, `HEAD blob ${digest} of ${repository}`);
  }

  async uploadBlob(repository: string, blob: OciBlob, signal: AbortSignal): Promise<void> {
    const started = await this.request(repository, 'POST', `/v2/${repository}/blobs/uploads/`, { headers: { 'Content-Length': '0' } }, signal);
    if (started.status !== 202) throw await this.failure(started, `starting the upload of ${blob.digest} to ${repository}`);
    await discard(started);
    const location = started.headers.get('location');
    if (!location) throw new UnavailableError('sink_unavailable', `OCI sink '${this.options.sink}': the registry started an upload to ${repository} without a Location`, { sink: this.options.sink });
    const url = new URL(location, this.baseUrl);
    url.searchParams.set('digest', blob.digest);
    const put = await this.request(repository, 'PUT', url.toString(), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.bytes.length) },
      body: blob.bytes,
    }, signal);
    if (put.status !== 201) throw await this.failure(put, `uploading ${blob.digest} to ${repository}`);
    await discard(put);
  }

  /** Puts `manifest` under `reference` (a tag); returns the digest the registry gives it. */
  async putManifest(repository: string, reference: string, manifest: OciBlob, signal: AbortSignal): Promise<string | undefined> {
    const response = await this.request(repository, 'PUT', `/v2/${repository}/manifests/${reference}`, {
      headers: { 'Content-Type': manifest.mediaType, 'Content-Length': String(manifest.bytes.length) },
      body: manifest.bytes,
    }, signal);
    if (response.status !== 201) throw await this.failure(response, `tagging ${repository}:${reference}`);
    await discard(response);
    return response.headers.get('docker-content-digest') ?? undefined;
  }

  /** One request, answering the registry's authentication challenge once if it makes one. */
  private async request(repository: string, method: string, pathOrUrl: string, init: { headers?: Record<string, string>; body?: Buffer }, signal: AbortSignal): Promise<Response> {
    const url = new URL(pathOrUrl, this.baseUrl);
    // Credentials go to the registry itself only, never to another host an upload Location names.
    const sameOrigin = url.origin === new URL(this.baseUrl).origin;
    const send = (authorization: string | undefined): Promise<Response> => this.fetch(url, {
      method,
      headers: { ...init.headers, ...(authorization && sameOrigin ? { Authorization: authorization } : {}) },
      ...(init.body ? { body: init.body } : {}),
      redirect: 'manual',
      signal,
    });
    const first = await send(this.authorizations.get(repository));
    if (first.status !== 401 || !sameOrigin) return first;
    await discard(first);
    const authorization = await this.authorize(repository, first.headers.get('www-authenticate') ?? '', signal);
    this.authorizations.set(repository, authorization);
    return send(authorization);
  }

  private async authorize(repository: string, challenge: string, signal: AbortSignal): Promise<string> {
    const { credentials, sink } = this.options;
    const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;
    const scheme = /^\s*(\w+)/.exec(challenge)?.[1]?.toLowerCase();
    if (scheme === 'basic') {
      if (!basic) throw new UnavailableError('sink_refused', `OCI sink '${sink}': the registry wants credentials (Basic) and none are configured`, { sink });
      return basic;
    }
    if (scheme !== 'bearer') throw new UnavailableError('sink_refused', `OCI sink '${sink}': the registry answered 401 with an authentication scheme Regent does not speak ('${scheme ?? ''}')`, { sink });
    const params = new Map([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!.toLowerCase(), match[2]!]));
    const realm = params.get('realm');
    if (!realm) throw new UnavailableError('sink_refused', `OCI sink '${sink}': the registry's Bearer challenge names no token service (realm)`, { sink });
    const tokenUrl = new URL(realm);
    if (tokenUrl.protocol !== 'https:' && !(tokenUrl.protocol === 'http:' && this.options.insecure)) {
      throw new UnavailableError('sink_refused', `OCI sink '${sink}': the registry's token service is not https (${tokenUrl.origin})`, { sink });
    }
    if (params.has('service')) tokenUrl.searchParams.set('service', params.get('service')!);
    tokenUrl.searchParams.set('scope', `repository:${repository}:pull,push`);
    const response = await this.fetch(tokenUrl, { headers: basic ? { Authorization: basic } : {}, redirect: 'manual', signal });
    const text = await readSmall(response);
    if (response.status !== 200) {
      throw new UnavailableError(response.status >= 500 ? 'sink_unavailable' : 'sink_refused', `OCI sink '${sink}': the token service answered ${response.status}`, { sink, status: response.status });
    }
    let token: unknown;
    try {
      const body = JSON.parse(text) as { token?: unknown; access_token?: unknown };
      token = body.token ?? body.access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token === '') throw new UnavailableError('sink_unavailable', `OCI sink '${sink}': the token service answered without a token`, { sink });
    return `Bearer ${token}`;
  }

  private async fetch(url: URL, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (error) {
      if (init.signal?.aborted) throw init.signal.reason;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new UnavailableError('sink_unavailable', `OCI sink '${this.options.sink}' could not reach ${url.origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, { sink: this.options.sink }, { cause: error });
    }
  }

  private async failure(response: Response, what: string): Promise<UnavailableError> {
    const text = await readSmall(response).catch(() => '');
    let registryCode: string | undefined;
    let registryMessage: string | undefined;
    try {
      const first = (JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> }).errors?.[0];
      registryCode = first?.code;
      registryMessage = first?.message;
    } catch {
      // Not the distribution spec's error body: the status says enough.
    }
    const code = response.status >= 400 && response.status < 500 ? 'sink_refused' : 'sink_unavailable';
    const detail = registryCode ? `: ${registryCode}${registryMessage ? ` (${registryMessage})` : ''}` : '';
    return new UnavailableError(code, `OCI sink '${this.options.sink}' answered ${response.status} ${what}${detail}`, { sink: this.options.sink, status: response.status, ...(registryCode ? { registryCode } : {}) });
  }
}

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** The body as text, at most {@link MAX_SMALL_BODY} bytes of it. */
async function readSmall(response: Response): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_SMALL_BODY) break;
  }
  await response.body.cancel().catch(() => undefined);
  return Buffer.concat(chunks).subarray(0, MAX_SMALL_BODY).toString('utf8');
}

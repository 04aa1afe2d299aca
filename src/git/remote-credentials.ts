import { InputError } from '../domain/errors.js';
import { redactUrls } from '../domain/redact-urls.js';

/**
 * How Regent authenticates to the Git host. Secrets never reach argv, the store's config or the remote
 * URL: a token travels as a per-command `http.extraHeader` through the environment
 * (`GIT_CONFIG_COUNT/KEY/VALUE`, which git reads as command-line scope config and never prints), an SSH
 * key as a file named in `GIT_SSH_COMMAND`.
 */
export type RemoteCredentials =
  | { kind: 'none' }
  /** HTTPS Basic with `username:token` (GitHub: `x-access-token`, GitLab: `oauth2`, Gitea: any user). */
  | { kind: 'token'; token: string; username: string }
  | {
    kind: 'ssh';
    /** Private key file (mode 0600). */
    keyFile: string;
    /** known_hosts to check the host key against; ssh's default file when absent. */
    knownHostsFile?: string;
    /** `yes` refuses unknown hosts; `accept-new` trusts on first use. */
    strictHostKeyChecking: 'yes' | 'accept-new';
  };

/**
 * TLS for an https remote, every file already validated at start-up (`src/keys/load-remote-tls.ts`). Passed
 * to git as command-scope config in the same fixed environment as the token, so the trust applies to this
 * remote only: never the system store, never the ambient environment (`GIT_SSL_CAINFO` is not inherited).
 */
export interface RemoteTls {
  /** PEM bundle of the CAs trusted for this remote (`http.sslCAInfo`). */
  caFile?: string;
  /**
   * An empty directory given as `http.sslCAPath` beside `caFile`: libcurl also reads a compiled-in CA
   * directory (Debian: /etc/ssl/certs) unless told another one, so without it the system store would
   * still be trusted.
   */
  emptyCaDir?: string;
  /** Client certificate and its key (mode 0600) for hosts that ask for one (`http.sslCert`, `http.sslKey`). */
  clientCertFile?: string;
  clientKeyFile?: string;
}

const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/\/)[^\s]+$/;
// Characters that could escape the single quotes of GIT_SSH_COMMAND, or confuse ssh's option parser.
const UNSAFE_PATH = /['\n\r\0]/;

/**
 * Accepts `https://host/path`, `ssh://[user@]host[:port]/path`, scp-like `user@host:path`, `file:///path`
 * or an absolute local path; refuses options (`-...`), helpers (`ext::`), plain `http` (unless
 * `allowInsecureHttp`: `remote.allowInsecureHttp`, set in the config file by someone who means it), control
 * characters and any password in the URL (`InputError` `invalid_remote_url`, field `remote.url`).
 */
export function assertRemoteUrl(url: string, field = 'remote.url', options: { allowInsecureHttp?: boolean } = {}): void {
  const refuse = (why: string): never => {
    throw new InputError('invalid_remote_url', `the remote URL ${urlOrigin(url)} ${why}`, { field });
  };
  // eslint-disable-next-line no-control-regex
  if (url.length === 0 || url.length > 2048 || /[\x00-\x20\x7f]/.test(url)) refuse('is empty, too long or contains whitespace or control characters');
  if (url.startsWith('-')) refuse('must not start with -');
  if (url.startsWith('/')) return;
  if (SCP_LIKE.test(url)) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse('is not a URL, an scp-like user@host:path or an absolute path');
  }
  const http = parsed.protocol === 'http:' && options.allowInsecureHttp === true;
  if (!['https:', 'ssh:', 'file:'].includes(parsed.protocol) && !http) {
    refuse(parsed.protocol === 'http:'
      ? 'uses plain http (hint: everything, a token included, would travel in clear; use https, or set remote.allowInsecureHttp: true in the config file for a host you trust the network to)'
      : 'must use https, ssh or file (hint: plain http would send the token in clear)');
  }
  if (parsed.password !== '') refuse('must not carry a password (hint: use remote.tokenFile or REGENT_REMOTE_TOKEN)');
  if ((parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.username !== '') refuse('must not carry a user name (hint: remote.tokenUsername)');
  // A query or fragment could carry a secret (`?private_token=`), and the URL is shown in /status and logs.
  if (parsed.search !== '' || parsed.hash !== '') refuse('must not carry a query string or fragment (hint: credentials go in remote.tokenFile)');
}

/** The URL without credentials (user info and query string removed entirely), for messages, logs and status. */
/**
 * What a refusal may say about a refused URL: its scheme and host, nothing else (a refused URL is often
 * refused because it carries a secret, and no pattern knows every shape a secret can take).
 */
function urlOrigin(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.host ? `${parsed.protocol}//${parsed.host}/...` : `(${parsed.protocol} URL)`;
  } catch {
    return '(not shown)';
  }
}

export function redactUrl(url: string): string {
  return redactUrls(url);
}

/** True for URLs git reaches over HTTPS, where a token can be used. */
export function isHttpsUrl(url: string): boolean {
  return url.startsWith('https://');
}

/** True for plain `http://` URLs (only ever accepted with `remote.allowInsecureHttp`). */
export function isInsecureHttpUrl(url: string): boolean {
  return url.startsWith('http://');
}

/**
 * True when an `http://` URL names this machine: `localhost`, 127.0.0.0/8 or `::1` (the URL parser has
 * already put `127.1` or `[0::1]` in canonical form). Traffic to it never crosses a network.
 */
export function isLoopbackUrl(url: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return false;
  }
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * The environment that makes one network git command (fetch, push) authenticate and fail fast instead of
 * prompting or hanging: no terminal or askpass prompt, ssh in batch mode with a connect timeout, HTTP
 * aborted when slower than 1 KB/s for `lowSpeedSeconds`; TLS trust for this remote only (`tls`), and plain
 * http only when `allowInsecureHttp`.
 */
export function remoteEnvironment(
  credentials: RemoteCredentials,
  options: { connectTimeoutSeconds: number; lowSpeedSeconds: number; tls?: RemoteTls; allowInsecureHttp?: boolean },
): Record<string, string> {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'false',
    SSH_ASKPASS: 'false',
    GIT_HTTP_LOW_SPEED_LIMIT: '1000',
    GIT_HTTP_LOW_SPEED_TIME: String(options.lowSpeedSeconds),
  };
  const ssh = ['ssh', '-o', 'BatchMode=yes', '-o', `ConnectTimeout=${options.connectTimeoutSeconds}`];
  // Command-scope config (git reads GIT_CONFIG_KEY_n/VALUE_n like `-c`, and never prints them).
  const config: Array<[string, string]> = [];
  if (credentials.kind === 'token') {
    const basic = Buffer.from(`${credentials.username}:${credentials.token}`, 'utf8').toString('base64');
    config.push(['http.extraHeader', `Authorization: Basic ${basic}`]);
    // git sends http.extraHeader to wherever a redirect leads: no redirects while it carries the token.
    config.push(['http.followRedirects', 'false']);
  } else if (credentials.kind === 'ssh') {
    for (const path of [credentials.keyFile, credentials.knownHostsFile]) {
      if (path !== undefined && UNSAFE_PATH.test(path)) throw new InputError('invalid_ssh_key_file', 'SSH key and known_hosts paths must not contain quotes or newlines', { field: 'remote.sshKeyFile' });
    }
    ssh.push('-i', quote(credentials.keyFile), '-o', 'IdentitiesOnly=yes', '-o', `StrictHostKeyChecking=${credentials.strictHostKeyChecking}`);
    if (credentials.knownHostsFile) ssh.push('-o', `UserKnownHostsFile=${quote(credentials.knownHostsFile)}`);
  }
  // The store's own config allows https, ssh and file only (git-hardening.ts); plain http is let through
  // for these commands alone when remote.allowInsecureHttp says so.
  if (options.allowInsecureHttp) config.push(['protocol.http.allow', 'always']);
  const tls = options.tls ?? {};
  if (tls.caFile !== undefined) {
    config.push(['http.sslCAInfo', tls.caFile]);
    if (tls.emptyCaDir !== undefined) config.push(['http.sslCAPath', tls.emptyCaDir]);
  }
  if (tls.clientCertFile !== undefined) config.push(['http.sslCert', tls.clientCertFile]);
  if (tls.clientKeyFile !== undefined) config.push(['http.sslKey', tls.clientKeyFile]);
  if (config.length > 0) {
    env.GIT_CONFIG_COUNT = String(config.length);
    config.forEach(([key, value], index) => {
      env[`GIT_CONFIG_KEY_${index}`] = key;
      env[`GIT_CONFIG_VALUE_${index}`] = value;
    });
  }
  env.GIT_SSH_COMMAND = ssh.join(' ');
  return env;
}

function quote(value: string): string {
  return `'${value}'`;
}

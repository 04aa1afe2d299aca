// A real Gitea for the self-hosted Git host tests. No vitest in this file: bench/gitea-bench.ts uses it too.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * The Gitea binary `scripts/ensure-gitea.mjs` put in `.tools/gitea` (its `templates/`, `options/` and
 * `public/` beside it are Gitea's STATIC_ROOT_PATH: the build has no bindata), or `REGENT_GITEA_PATH`.
 * Throws (never skips) when it is missing.
 */
export function giteaPath(): string {
  const path = process.env.REGENT_GITEA_PATH ?? join(PROJECT_ROOT, '.tools', 'gitea', 'gitea');
  const probe = existsSync(path) ? spawnSync(path, ['--version'], { encoding: 'utf8' }) : undefined;
  if (probe?.status !== 0) {
    throw new Error(`Gitea is required by the self-hosted Git host tests and was not found at '${path}'. Run 'node scripts/ensure-gitea.mjs' (npm test does; it builds Gitea once per machine and needs Go).`);
  }
  return path;
}

export interface GiteaOptions {
  /** `https` (default, with a certificate from `gitea cert --host 127.0.0.1`) or plain `http`. */
  protocol?: 'https' | 'http';
}

export interface GiteaResponse {
  status: number;
  /** The parsed JSON body (undefined when empty or not JSON). */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- Gitea's API answers many shapes
  text: string;
}

export interface Gitea {
  /** `https://127.0.0.1:<port>` (or `http://`). */
  url: string;
  /** The certificate Gitea serves (self-signed: it is its own CA); only with https. */
  caFile: string;
  /** The admin user that owns the test repositories, and its password (for the developer's git and Basic API calls). */
  user: string;
  password: string;
  /** A token of `user` with the `write:repository` scope, made through the API. */
  token: string;
  /** `/api/v1` call as `user` (Basic auth, or `token` when given). */
  api(method: string, path: string, body?: unknown, options?: { token?: string }): Promise<GiteaResponse>;
  /** Creates `user/<name>` (empty, default branch main); returns its clone URL. */
  createRepository(name: string): Promise<string>;
  /** A clone URL of `user/<name>` with the password in it, for the developer's git only. */
  developerUrl(name: string): string;
  /** Environment for the developer's git to trust Gitea's certificate (outside Regent). */
  developerEnv: Record<string, string>;
  /** Everything Gitea logged (stdout, stderr and its log files), for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

/**
 * A real Gitea, run the way an operator would run it for Regent: its own work folder in a temp dir, sqlite,
 * `INSTALL_LOCK`, a free port on 127.0.0.1, https with a certificate from `gitea cert --host 127.0.0.1`,
 * offline, a channel queue (webhooks are delivered at once), webhooks allowed to loopback
 * (`[security] ALLOWED_HOST_LIST = loopback`), and `I_AM_BEING_UNSAFE_RUNNING_AS_ROOT` when the tests run
 * as root. One admin user, one token made through the API. Start one per test file (it takes seconds) and
 * call `stop()` after it (the folder is removed).
 */
export async function startGitea(options: GiteaOptions = {}): Promise<Gitea> {
  const binary = giteaPath();
  const protocol = options.protocol ?? 'https';
  const dir = mkdtempSync(join(tmpdir(), 'regent-gitea-'));
  const port = await freePort();
  const work = join(dir, 'run');
  mkdirSync(join(work, 'log'), { recursive: true });
  const run = async (args: string[]): Promise<string> => {
    try {
      return (await execFileAsync(binary, args, { cwd: dir, env: giteaEnv(dir), maxBuffer: 16 * 1024 * 1024 })).stdout;
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`gitea ${args.join(' ')} failed: ${(stderr || stdout || String(error)).slice(-2000)}`, { cause: error });
    }
  };
  if (protocol === 'https') await run(['cert', '--host', '127.0.0.1']);
  const config = join(dir, 'app.ini');
  writeFileSync(config, appIni({ dir, work, port, protocol, staticRoot: dirname(binary), internalToken: (await run(['generate', 'secret', 'INTERNAL_TOKEN'])).trim() }));
  await run(['--config', config, 'migrate']);
  const user = 'alice';
  const password = `Alice-${randomBytes(6).toString('hex')}`;
  await run(['--config', config, 'admin', 'user', 'create', '--admin', '--username', user, '--password', password, '--email', 'alice@example.test', '--must-change-password=false']);

  let output = '';
  const child: ChildProcess = spawn(binary, ['--config', config, 'web'], { cwd: dir, env: giteaEnv(dir), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-64_000)));
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-64_000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `${protocol}://127.0.0.1:${port}`;
  const caFile = join(dir, 'cert.pem');
  const ca = protocol === 'https' ? readFileSync(caFile) : undefined;
  const logs = (): string => {
    const files = ['gitea.log', 'router.log', 'xorm.log'].map((name) => join(work, 'log', name)).filter((file) => existsSync(file));
    return [output, ...files.map((file) => readFileSync(file, 'utf8').slice(-8000))].join('\n');
  };
  const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const api: Gitea['api'] = (method, path, body, callOptions = {}) =>
    call(`${url}/api/v1${path}`, method, body, { Authorization: callOptions.token ? `token ${callOptions.token}` : basic }, ca);

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killed);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`gitea web exited with ${child.exitCode}`);
      const version = await call(`${url}/api/v1/version`, 'GET', undefined, {}, ca).catch(() => undefined);
      if (version?.status === 200) break;
      if (Date.now() > deadline) throw new Error('gitea web did not answer /api/v1/version within 60 s');
      await new Promise((done) => setTimeout(done, 200));
    }
    const made = await api('POST', `/users/${user}/tokens`, { name: 'regent-tests', scopes: ['write:repository'] });
    if (made.status !== 201 || typeof made.body?.sha1 !== 'string') throw new Error(`creating a token answered ${made.status}: ${made.text}`);
    const token = made.body.sha1 as string;
    return {
      url, caFile, user, password, token, api, logs, stop,
      developerEnv: protocol === 'https' ? { GIT_SSL_CAINFO: caFile } : {},
      developerUrl: (name) => `${protocol}://${user}:${password}@127.0.0.1:${port}/${user}/${name}.git`,
      async createRepository(name) {
        const created = await api('POST', '/user/repos', { name, default_branch: 'main', private: true });
        if (created.status !== 201) throw new Error(`creating repository ${name} answered ${created.status}: ${created.text}`);
        return `${url}/${user}/${name}.git`;
      },
    };
  } catch (error) {
    const message = `${(error as Error).message}\n${logs().slice(-4000)}`;
    await stop();
    throw new Error(message, { cause: error });
  }
}

function giteaEnv(dir: string): Record<string, string> {
  // Gitea's own git runs with this HOME (it writes a .gitconfig there), never the user's.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, GITEA_WORK_DIR: join(dir, 'run'), USER: 'gitea', LC_ALL: 'C' };
}

function appIni(options: { dir: string; work: string; port: number; protocol: 'https' | 'http'; staticRoot: string; internalToken: string }): string {
  const { dir, work, port, protocol } = options;
  return [
    ...(process.getuid?.() === 0 ? ['I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true'] : []),
    'APP_NAME = regent-test',
    'RUN_MODE = prod',
    `WORK_PATH = ${work}`,
    '[server]',
    'HTTP_ADDR = 127.0.0.1',
    `HTTP_PORT = ${port}`,
    `PROTOCOL = ${protocol}`,
    ...(protocol === 'https' ? [`CERT_FILE = ${join(dir, 'cert.pem')}`, `KEY_FILE = ${join(dir, 'key.pem')}`] : []),
    `STATIC_ROOT_PATH = ${options.staticRoot}`,
    `ROOT_URL = ${protocol}://127.0.0.1:${port}/`,
    'OFFLINE_MODE = true',
    'DISABLE_SSH = true',
    'START_SSH_SERVER = false',
    '[database]',
    'DB_TYPE = sqlite3',
    `PATH = ${join(work, 'gitea.db')}`,
    '[repository]',
    `ROOT = ${join(work, 'repos')}`,
    '[security]',
    'INSTALL_LOCK = true',
    'ALLOWED_HOST_LIST = loopback',
    `SECRET_KEY = ${randomBytes(24).toString('hex')}`,
    `INTERNAL_TOKEN = ${options.internalToken}`,
    '[webhook]',
    'DELIVER_TIMEOUT = 5',
    '[log]',
    'MODE = file',
    'LEVEL = warn',
    `ROOT_PATH = ${join(work, 'log')}`,
    '[service]',
    'DISABLE_REGISTRATION = true',
    '[queue]',
    'TYPE = channel',
    '[cron]',
    'ENABLED = false',
    '[indexer]',
    'REPO_INDEXER_ENABLED = false',
    '',
  ].join('\n');
}

/** One HTTP(S) request with a JSON body, trusting `ca` (and only it) for https. */
function call(url: string, method: string, body: unknown, headers: Record<string, string>, ca: Buffer | undefined): Promise<GiteaResponse> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolvePromise, reject) => {
    const req = request(url, {
      method,
      headers: { Accept: 'application/json', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}), ...headers },
      ...(ca ? { ca } : {}),
      timeout: 30_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        resolvePromise({ status: res.statusCode ?? 0, body: parsed, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

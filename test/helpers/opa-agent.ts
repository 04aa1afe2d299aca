import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { LoadedSigningKey } from '../../src/keys/load-signing-key.js';
import { opaPath } from './opa-path.js';
import { tempDirForTest } from './temp-dir.js';

export interface OpaAgentOptions {
  /** Base URL of the bundle service (Regent, or a proxy in front of it). */
  serviceUrl: string;
  bundles: readonly string[];
  /** Put before each bundle name in its resource: `prod/` asks for `bundles/prod/<name>` (an environment's set). */
  resourcePrefix?: string;
  /** Appended to each bundle's resource, e.g. `?deltas=true`. */
  resourceQuery?: string;
  keyId: string;
  algorithm?: string;
  /** PEM public key (or HMAC secret) the agent verifies bundles with. */
  verificationKey: string;
  /**
   * False: `keys` but no `signing` block. OPA then checks a signature that is there but does not require
   * one, and takes delta bundles (which it refuses when a `signing` block requires signatures).
   */
  requireSignatures?: boolean;
  /** Long-poll timeout; omit for periodic polling only. */
  longPollSeconds?: number;
  minDelaySeconds?: number;
  maxDelaySeconds?: number;
  /** Report status to the service (`status: {service: regent}`), as `opa-config/config.yaml` does. */
  reportStatus?: boolean;
  /** Bearer token the agent sends to the service (`credentials.bearer.token`). */
  bearerToken?: string;
  /**
   * More of the service's config, for a service that is not Regent: `type: oci`, `credentials.s3_signing`.
   * An OCI service gets the agent's temp folder as `persistence_directory` (its blob store).
   */
  service?: Record<string, unknown>;
  /** Each bundle's `resource` (default `bundles/<resourcePrefix><name>`): an S3 key, an image reference. */
  resourceFor?: (bundle: string) => string;
  /** Added to the agent's environment (`AWS_ACCESS_KEY_ID`... for `s3_signing.environment_credentials`). */
  env?: Record<string, string>;
  /** A file the agent reads its bearer token from on every request (`credentials.bearer.token_path`). */
  bearerTokenPath?: string;
  /** The `opa` binary to run (the pinned one by default; `floorOpaPath()` for OPA v1.0.0). */
  opaBinary?: string;
  /** Labels beside OPA's own `id` and `version` (`labels.name` shows in the fleet view; `labels.id` fixes the agent's id). */
  labels?: Record<string, string>;
  /** Anything else for the agent's config, merged over the above (e.g. `decision_logs`, `discovery`). */
  extraConfig?: Record<string, unknown>;
  /** `status.partition_name`: the agent reports to `POST /status/<partition>`. */
  statusPartition?: string;
  /** Upload decision logs to the service (`decision_logs: {service: regent}`), every 1–2 s. */
  decisionLogs?: boolean | { partition?: string; minDelaySeconds?: number; maxDelaySeconds?: number };
}

export interface OpaAgent {
  url: string;
  /** Everything OPA logged, for assertions and failure messages. */
  logs(): string;
  /** `POST /v1/data/<path>` with `input`; returns `result` (undefined when undefined). */
  query(path: string, input?: unknown): Promise<unknown>;
  /** The manifest revision OPA has activated for a bundle, or undefined. */
  activeRevision(bundle: string): Promise<string | undefined>;
  /** Waits until OPA reports every bundle activated (`/health?bundles`). */
  waitUntilReady(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * An agent of `regent` (or of `serviceUrl` in front of it) that verifies `regent`'s signing key: both
 * example bundles, long polling every 30 s, periodic polling slow. Spread it and override what differs.
 */
export function agentOptionsFor(regent: { url: string; signingKey: LoadedSigningKey }, serviceUrl = regent.url): OpaAgentOptions {
  return {
    serviceUrl,
    bundles: ['rbac', 'datasets'],
    keyId: regent.signingKey.key.keyId,
    verificationKey: readFileSync(regent.signingKey.publicKeyFile!, 'utf8'),
    longPollSeconds: 30,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A real `opa run -s` agent pulling signed bundles; stopped when the test finishes. */
export async function startOpaAgent(options: OpaAgentOptions): Promise<OpaAgent> {
  const dir = tempDirForTest('regent-opa-');
  const port = await freePort();
  const polling = (): Record<string, number> => ({
    min_delay_seconds: options.minDelaySeconds ?? 60,
    max_delay_seconds: options.maxDelaySeconds ?? 120,
    ...(options.longPollSeconds ? { long_polling_timeout_seconds: options.longPollSeconds } : {}),
  });
  const credentials = options.bearerToken ? { bearer: { token: options.bearerToken } } : options.bearerTokenPath ? { bearer: { token_path: options.bearerTokenPath } } : undefined;
  const config = {
    services: { regent: { url: options.serviceUrl, ...(credentials ? { credentials } : {}), ...options.service } },
    ...(options.labels ? { labels: options.labels } : {}),
    // No bundles at all (an agent booting from discovery): no `bundles` key, which the discovered configuration sets.
    ...(options.bundles.length === 0 ? {} : { bundles: Object.fromEntries(options.bundles.map((name) => [name, {
      service: 'regent',
      resource: options.resourceFor?.(name) ?? `bundles/${options.resourcePrefix ?? ''}${name}${options.resourceQuery ?? ''}`,
      ...(options.requireSignatures === false ? {} : { signing: { keyid: options.keyId } }),
      polling: polling(),
    }])) }),
    ...(options.service?.type === 'oci' ? { persistence_directory: dir } : {}),
    keys: { [options.keyId]: { algorithm: options.algorithm ?? 'RS256', key: options.verificationKey } },
    ...(options.reportStatus ? { status: { service: 'regent', ...(options.statusPartition ? { partition_name: options.statusPartition } : {}) } } : {}),
    ...(options.decisionLogs ? { decision_logs: decisionLogsConfig(options.decisionLogs) } : {}),
    ...options.extraConfig,
  };
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(config));
  return runOpaAgent(dir, port, ['-c', configPath], options.env, options.opaBinary);
}

/**
 * A real agent run with a config file of the project's own (`opa-config/*.yaml`, as the README tells
 * users to), adjusted with `opa run --set` (addresses, resources, faster polling) and `--set-file` (the
 * verification key); stopped when the test finishes.
 */
export async function startOpaAgentFromFile(configFile: string, options: { set?: Record<string, string>; setFile?: Record<string, string>; env?: Record<string, string> } = {}): Promise<OpaAgent> {
  const dir = tempDirForTest('regent-opa-');
  const port = await freePort();
  const args = ['-c', configFile, '--set', `persistence_directory=${dir}`];
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set', `${key}=${value}`);
  for (const [key, file] of Object.entries(options.setFile ?? {})) args.push('--set-file', `${key}=${file}`);
  return runOpaAgent(dir, port, args, options.env);
}

async function runOpaAgent(dir: string, port: number, configArgs: string[], env: Record<string, string> | undefined, opaBinary = opaPath()): Promise<OpaAgent> {
  let output = '';
  const child: ChildProcess = spawn(opaBinary, ['run', '-s', '--addr', `127.0.0.1:${port}`, '--log-level', 'debug', '--log-format', 'json', ...configArgs], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const agent: OpaAgent = {
    url,
    logs: () => output,
    async query(path, input) {
      const response = await fetch(`${url}/v1/data/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ input }) });
      if (!response.ok) throw new Error(`OPA query ${path} answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { result?: unknown }).result;
    },
    async activeRevision(bundle) {
      const response = await fetch(`${url}/v1/data/system/bundles/${bundle}/manifest/revision`).catch(() => undefined);
      if (!response?.ok) return undefined;
      return ((await response.json()) as { result?: string }).result;
    },
    async waitUntilReady(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`OPA exited with ${child.exitCode}:\n${output.slice(-4000)}`);
        const response = await fetch(`${url}/health?bundles`).catch(() => undefined);
        if (response?.status === 200) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`OPA did not activate its bundles within ${timeoutMs} ms:\n${output.slice(-4000)}`);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  onTestFinished(() => agent.stop());
  return agent;
}

function decisionLogsConfig(setting: true | { partition?: string; minDelaySeconds?: number; maxDelaySeconds?: number }): Record<string, unknown> {
  const options = setting === true ? {} : setting;
  return {
    service: 'regent',
    ...(options.partition ? { partition_name: options.partition } : {}),
    reporting: { min_delay_seconds: options.minDelaySeconds ?? 1, max_delay_seconds: options.maxDelaySeconds ?? 2 },
  };
}

/** Polls `probe` until it returns true; returns the elapsed milliseconds. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number, describe: () => string = () => ''): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await probe()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`condition not met within ${timeoutMs} ms ${describe()}`);
}

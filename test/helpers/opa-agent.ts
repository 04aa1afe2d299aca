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
  keyId: string;
  algorithm?: string;
  /** PEM public key (or HMAC secret) the agent verifies bundles with. */
  verificationKey: string;
  /** Long-poll timeout; omit for periodic polling only. */
  longPollSeconds?: number;
  minDelaySeconds?: number;
  maxDelaySeconds?: number;
  /** Report status to the service (`status: {service: regent}`), as `opa-config/config.yaml` does. */
  reportStatus?: boolean;
  /** Bearer token the agent sends to the service (`credentials.bearer.token`). */
  bearerToken?: string;
  /** Labels besides OPA's own `id` and `version` (`labels.id` fixes the agent's id). */
  labels?: Record<string, string>;
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
  const config = {
    services: { regent: { url: options.serviceUrl, ...(options.bearerToken ? { credentials: { bearer: { token: options.bearerToken } } } : {}) } },
    bundles: Object.fromEntries(options.bundles.map((name) => [name, { service: 'regent', resource: `bundles/${options.resourcePrefix ?? ''}${name}`, signing: { keyid: options.keyId }, polling: polling() }])),
    keys: { [options.keyId]: { algorithm: options.algorithm ?? 'RS256', key: options.verificationKey } },
    ...(options.reportStatus ? { status: { service: 'regent', ...(options.statusPartition ? { partition_name: options.statusPartition } : {}) } } : {}),
    ...(options.labels ? { labels: options.labels } : {}),
    ...(options.decisionLogs ? { decision_logs: decisionLogsConfig(options.decisionLogs) } : {}),
  };
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(config));
  let output = '';
  const child: ChildProcess = spawn(opaPath(), ['run', '-s', '--addr', `127.0.0.1:${port}`, '--log-level', 'debug', '--log-format', 'json', '-c', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
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

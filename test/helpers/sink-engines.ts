// Real S3 and OCI engines for the publishing tests and bench/publish-bench.ts (no vitest here): the Versity S3
// gateway (posix backend) and the CNCF distribution registry, both on 127.0.0.1 with their data in a temp folder,
// installed by scripts/ensure-versitygw.mjs and scripts/ensure-registry.mjs (npm test's pretest). A missing
// engine throws with the command that installs it; nothing is skipped.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const TOOLS_BIN = resolve(import.meta.dirname, '..', '..', '.tools', 'bin');

/** A test credential only: the registry's htpasswd holds its bcrypt hash (cost 4), `REGISTRY_HTPASSWD`. */
export const REGISTRY_USER = 'regent';
export const REGISTRY_PASSWORD = 'regent-test-password';
const REGISTRY_HTPASSWD = 'regent:$2a$04$FaXx.MtqSamJJIoQdwftU.8QHgiwPsl27NYyo6HqShGfB2l7sg75W\n';

function tool(name: string, variable: string, script: string, probe: string[]): string {
  const path = process.env[variable] ?? join(TOOLS_BIN, name);
  if (!existsSync(path) || spawnSync(path, probe, { stdio: 'ignore' }).status !== 0) {
    throw new Error(`${name} is required by the publishing tests and was not found at '${path}'. Run 'node scripts/${script}' (npm test does; it builds it once per machine with Go).`);
  }
  return path;
}

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** A server process that can be stopped (the "sink is down" tests) and started again on the same port and data. */
export interface EngineProcess {
  port: number;
  /** Everything it printed lately, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

function engineProcess(command: string, args: string[], port: number, dir: string, ready: () => Promise<boolean>): EngineProcess {
  let child: ChildProcess | undefined;
  let output = '';
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((done) => running.once('exit', () => done()));
    running.kill('SIGKILL');
    await exited;
  };
  const start = async (): Promise<void> => {
    if (child) return;
    const started = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-32_000);
    };
    started.stdout!.on('data', keep);
    started.stderr!.on('data', keep);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`${command} exited with ${started.exitCode}:\n${output.slice(-4000)}`);
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`${command} did not answer on 127.0.0.1:${port} within 30 s:\n${output.slice(-4000)}`);
      }
      await new Promise((done) => setTimeout(done, 50));
    }
  };
  return {
    port, start, stop, logs: () => output,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface S3Gateway extends EngineProcess {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** An SDK client with the gateway's root credentials (path-style). */
  client: S3Client;
  createBucket(name: string): Promise<void>;
}

/** The Versity S3 gateway with its posix backend in a temp folder, root credentials made up here. */
export async function startS3Gateway(): Promise<S3Gateway> {
  const binary = tool('versitygw', 'REGENT_VERSITYGW_PATH', 'ensure-versitygw.mjs', ['--version']);
  const dir = mkdtempSync(join(tmpdir(), 'regent-s3-'));
  const root = join(dir, 'buckets');
  mkdirSync(root);
  const port = await freeLoopbackPort();
  const accessKeyId = `regent${randomBytes(4).toString('hex')}`;
  const secretAccessKey = randomBytes(18).toString('base64url');
  const region = 'us-east-1';
  const endpoint = `http://127.0.0.1:${port}`;
  const engine = engineProcess(binary, ['--access', accessKeyId, '--secret', secretAccessKey, '--region', region, '--port', `127.0.0.1:${port}`, '--quiet', 'posix', root], port, dir, async () => {
    // Any HTTP answer (403 for an unsigned request) means it listens.
    const response = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return true;
  });
  await engine.start();
  const client = new S3Client({ region, endpoint, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  return {
    ...engine, endpoint, region, accessKeyId, secretAccessKey, client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async dispose() {
      client.destroy();
      await engine.dispose();
    },
  };
}

export interface OciRegistry extends EngineProcess {
  /** `127.0.0.1:<port>` (plain http). */
  registry: string;
  username: string;
  password: string;
}

/** The distribution registry, filesystem storage in a temp folder, htpasswd auth (`REGISTRY_USER`). */
export async function startOciRegistry(): Promise<OciRegistry> {
  const binary = tool('registry', 'REGENT_REGISTRY_PATH', 'ensure-registry.mjs', ['--version']);
  const dir = mkdtempSync(join(tmpdir(), 'regent-oci-'));
  const port = await freeLoopbackPort();
  writeFileSync(join(dir, 'htpasswd'), REGISTRY_HTPASSWD);
  const config = join(dir, 'config.yml');
  writeFileSync(config, [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    'auth:',
    '  htpasswd:',
    '    realm: regent-test',
    `    path: ${join(dir, 'htpasswd')}`,
    '',
  ].join('\n'));
  const registry = `127.0.0.1:${port}`;
  const engine = engineProcess(binary, ['serve', config], port, dir, async () => {
    const response = await fetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return response.status === 401 || response.status === 200;
  });
  await engine.start();
  return { ...engine, registry, username: REGISTRY_USER, password: REGISTRY_PASSWORD };
}

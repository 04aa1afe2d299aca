import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, test } from 'vitest';
import { adminClient } from '../helpers/admin-client.js';
import { eventually, freePort } from '../helpers/opa-agent.js';
import { opaPath } from '../helpers/opa-path.js';
import { startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

/**
 * The container files, checked without a Docker engine: docker-compose.yaml against the Compose
 * specification's JSON Schema (vendored in test/fixtures/compose-spec), each OPA agent's command and
 * configuration run by real OPA against a real Regent with the compose paths and --set values
 * substituted, the health checks run as they are written, and the Dockerfile's promises read.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');

interface ComposeService {
  image?: string;
  build?: string;
  command?: string[];
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

const compose = (): { services: Record<string, ComposeService>; volumes: Record<string, unknown> } => parse(readFileSync(join(ROOT, 'docker-compose.yaml'), 'utf8'), { merge: true }) as never;
const agents = (): Array<[string, ComposeService]> => Object.entries(compose().services).filter(([, service]) => service.image?.startsWith('openpolicyagent/opa:'));

function exitCodeOf(command: string, args: string[]): Promise<number | null> {
  const child = spawn(command, args, { stdio: 'ignore' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((done) => child.once('exit', (code) => {
    clearTimeout(timer);
    done(code);
  }));
}

describe('docker-compose.yaml', () => {
  test('is valid against the Compose specification', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'compose-spec', 'compose-spec.json'), 'utf8')) as Record<string, unknown>;
    // The schema names draft 07 as https://json-schema.org/draft-07/schema; Ajv knows it by its canonical id.
    const validate = new Ajv({ allErrors: true, strict: false }).compile({ ...schema, $schema: 'http://json-schema.org/draft-07/schema#' });
    const document = parse(readFileSync(join(ROOT, 'docker-compose.yaml'), 'utf8'), { merge: true }) as unknown;
    expect(validate(document), JSON.stringify(validate.errors, null, 2)).toBe(true);
    // The schema does catch mistakes: an unknown key, volumes that are not a list, an unknown condition.
    expect(validate({ services: { regent: { image: 'x', portz: ['8080:8080'] } } })).toBe(false);
    expect(validate({ services: { regent: { image: 'x', volumes: 'regent-data:/data' } } })).toBe(false);
    expect(validate({ services: { opa: { image: 'x', depends_on: { regent: { condition: 'service_ready' } } } } })).toBe(false);
  });

  test('runs Regent and two OPA agents (OPA >= 1.21.3) that verify signatures, long poll and report, each with a health check', () => {
    const { services } = compose();
    expect(services.regent).toMatchObject({ build: '.', volumes: ['regent-data:/data'] });
    expect(services.regent!.healthcheck?.test[0]).toBe('CMD');
    expect(agents().map(([name]) => name)).toEqual(['opa-1', 'opa-2']);
    for (const [name, agent] of agents()) {
      const [major, minor, patch] = agent.image!.split(':')[1]!.split('.').map(Number);
      expect(major! * 1_000_000 + minor! * 1000 + patch!, `${name}: GHSA-g2pf-6v5v-qcc8 needs OPA >= 1.21.3`).toBeGreaterThanOrEqual(1_021_003);
      expect(agent.depends_on).toEqual({ regent: { condition: 'service_healthy' } });
      expect(agent.healthcheck?.test[0]).toBe('CMD');
      const command = agent.command!.join(' ');
      expect(command).toContain('--set services.regent.url=http://regent:8080');
      expect(command).toContain('--set-file keys.regent.key=/data/keys/regent.pub.pem');
      expect(command).toContain('--set decision_logs.service=regent');
      expect(command).toContain(`--set labels.name=${name}`);
    }
    const config = parse(readFileSync(join(ROOT, 'opa-config', 'config.yaml'), 'utf8')) as { bundles: Record<string, { signing: { keyid: string }; polling: { long_polling_timeout_seconds: number } }>; status: { service: string } };
    for (const bundle of Object.values(config.bundles)) {
      expect(bundle.signing.keyid).toBe('regent');
      expect(bundle.polling.long_polling_timeout_seconds).toBeGreaterThan(0);
    }
    expect(config.status.service).toBe('regent');
  });

  test('each agent, as its command configures it, activates Regent\'s signed bundles, reports to Regent and passes its health check', async () => {
    const regent = await startTestRegent();
    const running: Array<{ name: string; port: number; stop: () => Promise<void>; logs: () => string }> = [];
    try {
      for (const [name, agent] of agents()) {
        const port = await freePort();
        // The compose paths and addresses, as they are on this machine.
        const args = agent.command!.map((arg) => arg
          .replace('0.0.0.0:8181', `127.0.0.1:${port}`)
          .replace('/config/', `${join(ROOT, 'opa-config')}/`)
          .replace('/data/', `${regent.dataDir}/`)
          .replace('http://regent:8080', regent.url));
        expect(args.join(' ')).not.toMatch(/ \/(config|data)\//);
        let output = '';
        const child = spawn(opaPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const exited = new Promise<void>((done) => child.once('exit', () => done()));
        running.push({ name, port, logs: () => output, stop: async () => { if (child.exitCode === null) { child.kill('SIGKILL'); await exited; } } });
      }
      for (const agent of running) {
        await eventually(async () => (await fetch(`http://127.0.0.1:${agent.port}/health?bundles`).catch(() => undefined))?.status === 200, 30_000, () => agent.logs().slice(-3000));
        const decision = await fetch(`http://127.0.0.1:${agent.port}/v1/data/rbac/allow`, { method: 'POST', body: JSON.stringify({ input: { subject: 'carol', action: 'edit', resource: { type: 'workflow', project: 'apollo' } } }) });
        expect(await decision.json()).toMatchObject({ result: true });
        // The health check, exactly as compose runs it in the agent's container (/opa is the binary there).
        const [, binary, ...check] = compose().services[agent.name]!.healthcheck!.test;
        expect(binary).toBe('/opa');
        const probe = spawnSync(opaPath(), check.map((arg) => arg.replace('127.0.0.1:8181', `127.0.0.1:${agent.port}`)), { encoding: 'utf8', timeout: 20_000 });
        expect(probe.status, `${probe.stdout}${probe.stderr}`).toBe(0);
      }
      const ada = adminClient(regent, { sub: 'ada', role: 'auditor' });
      await eventually(async () => {
        const fleet = (await (await ada.get('/api/fleet')).json()) as { agents: Array<{ labels: Record<string, string> }> };
        return ['opa-1', 'opa-2'].every((name) => fleet.agents.some((agent) => agent.labels.name === name));
      }, 30_000);
      // A health check that fails when the agent is down: the same command against a closed port.
      await running[0]!.stop();
      const [, , ...check] = compose().services['opa-1']!.healthcheck!.test;
      const down = spawnSync(opaPath(), check.map((arg) => arg.replace('127.0.0.1:8181', `127.0.0.1:${running[0]!.port}`)), { encoding: 'utf8', timeout: 20_000 });
      expect(down.status).not.toBe(0);
    } finally {
      for (const agent of running) await agent.stop();
    }
    // Regent's health check, as written (node -e), against the running Regent.
    const [, node, ...regentCheck] = compose().services.regent!.healthcheck!.test;
    expect(node).toBe('node');
    // Asynchronously: this Regent runs in this process, and a synchronous child would block it.
    const healthy = await exitCodeOf(process.execPath, regentCheck.map((arg) => arg.replace('http://127.0.0.1:8080', regent.url)));
    expect(healthy).toBe(0);
    await regent.close();
    expect(await exitCodeOf(process.execPath, regentCheck.map((arg) => arg.replace('http://127.0.0.1:8080', regent.url)))).toBe(1);
  });
});

describe('config/opa-agent.example.yaml', () => {
  test('a production agent: real OPA with this file activates the signed bundles and reports with the report token', async () => {
    const reportToken = 'report-token-for-the-example-agent';
    const regent = await startTestRegent({ config: { dev: true, fleet: { reportToken } } });
    const dir = tempDirForTest('regent-agent-example-');
    writeFileSync(join(dir, 'report-token'), `${reportToken}\n`, { mode: 0o600 });
    const port = await freePort();
    let output = '';
    const child = spawn(opaPath(), ['run', '--server', '--addr', `127.0.0.1:${port}`, '--config-file', join(ROOT, 'config', 'opa-agent.example.yaml'),
      '--set', `services.regent.url=${regent.url}`, '--set', `services.regent.credentials.bearer.token_path=${join(dir, 'report-token')}`,
      '--set-file', `keys.regent.key=${join(regent.dataDir, 'keys', 'regent.pub.pem')}`, '--set', 'labels.name=example-agent'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health?bundles`).catch(() => undefined))?.status === 200, 30_000, () => output.slice(-3000));
      const ada = adminClient(regent, { sub: 'ada', role: 'auditor' });
      await eventually(async () => ((await (await ada.get('/api/fleet')).json()) as { agents: Array<{ labels: Record<string, string> }> }).agents.some((agent) => agent.labels.name === 'example-agent'), 30_000, () => output.slice(-3000));
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = (): string => readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  test('the runtime user owns /data, created in the image before the volume is declared, and flock is there', () => {
    const text = dockerfile();
    const runtime = text.slice(text.lastIndexOf('\nFROM '));
    const chown = runtime.search(/mkdir -p \/data && chown node:node \/data/);
    expect(chown).toBeGreaterThan(0);
    expect(runtime.indexOf('USER node')).toBeGreaterThan(chown);
    expect(runtime.indexOf('VOLUME /data')).toBeGreaterThan(chown);
    expect(runtime).toMatch(/apt-get install -y --no-install-recommends git ca-certificates util-linux/);
    expect(runtime).toContain('ENV REGENT_HOST=0.0.0.0 REGENT_DATA_DIR=/data');
    expect(runtime).toMatch(/^HEALTHCHECK /m);
  });

  test('builds the pinned OPA, copies only files that exist, and the context leaves out what it must', () => {
    const text = dockerfile();
    const pinned = /OPA_VERSION = '([\d.]+)'/.exec(readFileSync(join(ROOT, 'scripts', 'ensure-opa.mjs'), 'utf8'))![1];
    expect(text).toContain(`github.com/open-policy-agent/opa@v${pinned}`);
    for (const [, sources] of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of sources!.split(' ')) expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true);
    }
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
    for (const entry of ['.git', 'node_modules', 'dist', 'data', '.tools']) expect(ignored).toContain(entry);
    for (const needed of ['src', 'package.json', 'package-lock.json', 'policies-repo', 'scripts', 'tsconfig.json']) expect(ignored).not.toContain(needed);
  });
});

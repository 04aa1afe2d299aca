import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../helpers/opa-agent.js';
import { buildDist, PROJECT_ROOT, waitUntilReady } from '../helpers/regent-process.js';

/**
 * The README's five-minute tour, run exactly as written (every command of every `<!-- tour -->` block,
 * in order, in one bash), in a directory laid out like a fresh clone after `npm ci && npm start`, with a
 * Regent started as `npm start` starts it. Only the two port numbers (8080, 8181) are changed, so the
 * test can run beside anything else on the machine.
 */
const README = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');

function tourBlocks(): string[] {
  return [...README.matchAll(/<!-- tour -->\n```sh\n([\s\S]*?)```\n<!-- \/tour -->/g)].map((match) => match[1]!);
}

let root: string;
let regent: ReturnType<typeof spawn> | undefined;
let regentOutput = '';
let port: number;

beforeAll(async () => {
  buildDist();
  // A clone after `npm ci && npm start`: the built dist/, node_modules/, .tools/ with the pinned OPA.
  root = mkdtempSync(join(tmpdir(), 'regent-tour-'));
  for (const entry of ['node_modules', 'dist', '.tools', 'opa-config', 'policies-repo', 'scripts']) symlinkSync(join(PROJECT_ROOT, entry), join(root, entry));
  copyFileSync(join(PROJECT_ROOT, 'package.json'), join(root, 'package.json'));
  port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGENT_')));
  regent = spawn(process.execPath, [join(root, 'dist', 'main.js'), '--dev'], { cwd: root, env: { ...env, REGENT_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  regent.stdout!.on('data', (chunk: Buffer) => (regentOutput += chunk.toString()));
  regent.stderr!.on('data', (chunk: Buffer) => (regentOutput += chunk.toString()));
  await waitUntilReady(`http://127.0.0.1:${port}`);
});

afterAll(async () => {
  if (regent && regent.exitCode === null) {
    const exited = new Promise((done) => regent!.once('exit', done));
    regent.kill('SIGTERM');
    await exited;
  }
  rmSync(root, { recursive: true, force: true });
});

describe('the README tour', () => {
  test('has its steps in tour blocks, including making dave an editor through Git', () => {
    const blocks = tourBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const all = blocks.join('\n');
    expect(all).toContain('commit -qam "Make dave an editor"');
    expect(all).toContain('--set services.regent.url=http://localhost:8080');
    expect(README).toContain('```sh\nnpm ci && npm start\n```');
    expect(README).toContain('```sh\nnpm ci && npm test\n```');
  });

  test('runs as written: the agent follows a push that makes dave an editor, and a rollback through the CLI', async () => {
    const opaPort = await freePort();
    const script = `set -euo pipefail\n${tourBlocks().join('\n')}`.replaceAll(':8080', `:${port}`).replaceAll(':8181', `:${opaPort}`);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGENT_') && !name.startsWith('npm_')));
    const child = spawn('bash', ['-c', script], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 150_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        done(exitCode);
      });
    });
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the tour stopped its agent itself
    }
    const transcript = `exit ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}\n--- regent\n${regentOutput.slice(-3000)}`;
    expect(code, transcript).toBe(0);
    expect(stdout).toMatch(/^branch {3}main$/m);
    const answers = [...stdout.matchAll(/\{(?:"decision_id":"[0-9a-f-]+",)?"result":(true|false)\}/g)].map((match) => match[1]);
    expect(answers, transcript).toEqual(['false', 'true']);
    expect(stdout).toMatch(/Tour Guide\s+\[head, active\]\s+Make dave an editor/);
    expect(stdout).toMatch(/^-.*"dave": \[\{ "role": "viewer"/m);
    expect(stdout).toMatch(/^\+.*"dave": \[\{ "role": "editor"/m);
    expect(stdout).toMatch(/^committed [0-9a-f]{40} \(active: agents are being served it\)$/m);
    expect(stdout).toMatch(/policy\.rollback\s+success\s+alice/);
    expect(stdout).toMatch(/^1 agent\(s\)$/m);
    expect(stdout).toMatch(/^ok: .*rbac\.tar\.gz: signature by key 'regent'/m);
  });
});

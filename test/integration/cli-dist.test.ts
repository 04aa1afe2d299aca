import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { buildDist, PROJECT_ROOT, startRegentProcess, waitUntilReady } from '../helpers/regent-process.js';
import { opaPath } from '../helpers/opa-path.js';
import { EXAMPLE_POLICIES } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

/** The built CLI as `npm run build` leaves it: the package's bin, `node dist/main.js`, and its logs. */
const CLI = join(PROJECT_ROOT, 'dist', 'cli', 'regent.js');
const MAIN = join(PROJECT_ROOT, 'dist', 'main.js');
const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGENT_')));

beforeAll(() => {
  buildDist();
  // `npm run build` is tsc, then this script; buildDist runs tsc alone.
  expect(spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'make-cli-executable.mjs')]).status).toBe(0);
});

describe('the built regent command', () => {
  test('package.json names dist/cli/regent.js as the bin, with a shebang and the executable bit', () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    expect(pkg.bin).toEqual({ regent: 'dist/cli/regent.js' });
    expect(pkg.scripts.build).toContain('make-cli-executable.mjs');
    expect(readFileSync(CLI, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(statSync(CLI).mode & 0o111).toBe(0o111);
  });

  test('regent --help lists every command', () => {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8', env: cleanEnv() });
    expect(help.status).toBe(0);
    for (const command of ['serve', 'build', 'verify', 'keygen', 'token', 'status', 'policies', 'versions', 'diff', 'rollback', 'validate', 'evaluate', 'change-requests', 'audit', 'fleet']) {
      expect(help.stdout).toMatch(new RegExp(`^ {2}${command}\\b`, 'm'));
    }
  });

  test('node dist/main.js --help prints the serve help and exits without starting; an unknown flag exits 2', () => {
    const help = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8', env: cleanEnv(), timeout: 20_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: regent serve \[options\]/);
    expect(help.stdout).toContain('--log-format <format>');
    const bogus = spawnSync(process.execPath, [MAIN, '--dev', '--bogus'], { encoding: 'utf8', env: cleanEnv(), timeout: 20_000 });
    expect(bogus.status).toBe(2);
    expect(bogus.stderr).toContain("unknown option '--bogus'");
    const serveHelp = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8', env: cleanEnv() });
    expect(serveHelp.stdout).toBe(help.stdout);
  });

  test('npm run token runs the built CLI without rebuilding it', () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.token).toBe('node scripts/regent.mjs token --dev');
    const before = statSync(CLI).mtimeMs;
    const dataDir = tempDirForTest('regent-token-');
    const minted = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'regent.mjs'), 'token', '--dev', '--sub', 'x', '--role', 'viewer'], { encoding: 'utf8', env: { ...cleanEnv(), REGENT_DATA_DIR: dataDir } });
    expect(minted.status, minted.stderr).toBe(0);
    expect(minted.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(minted.stderr).not.toContain('building');
    expect(statSync(CLI).mtimeMs).toBe(before);
  });
});

describe('logs', () => {
  test('JSON by default: every line of a running Regent carries exactly one component', async () => {
    const regent = startRegentProcess({ dataDir: tempDirForTest('regent-logs-') });
    await waitUntilReady(await regent.listening);
    regent.child.kill('SIGTERM');
    await regent.exited;
    const lines = regent.output().split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line.match(/"component":"[a-z-]+"/g), line).toHaveLength(1);
    const components = new Set(lines.map((line) => (JSON.parse(line) as { component: string }).component));
    expect(components).toContain('main');
  });

  test('--log-format pretty (or REGENT_LOG_FORMAT=pretty, here through regent serve) writes readable lines naming the component', async () => {
    // node dist/main.js with the flag, and `regent serve` with the variable.
    for (const [command, env] of [[[MAIN, '--dev', '--log-format', 'pretty'], {}], [[CLI, 'serve', '--dev'], { REGENT_LOG_FORMAT: 'pretty' }]] as const) {
      const child = spawn(process.execPath, [...command], {
        cwd: PROJECT_ROOT,
        env: { ...cleanEnv(), ...env, REGENT_DATA_DIR: tempDirForTest('regent-pretty-'), REGENT_PORT: '0', REGENT_SEED_DIR: EXAMPLE_POLICIES, REGENT_OPA_PATH: opaPath() },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise((done) => child.once('exit', done));
      try {
        await new Promise<void>((resolveListening, reject) => {
          const timer = setInterval(() => {
            if (/INFO.*\[main\] regent listening/.test(output)) {
              clearInterval(timer);
              resolveListening();
            }
          }, 50);
          setTimeout(() => {
            clearInterval(timer);
            reject(new Error(`no pretty 'regent listening' line:\n${output.slice(-3000)}`));
          }, 90_000);
        });
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
      expect(output).not.toMatch(/^\{"level"/m);
      expect(output).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*: \[main\] regent listening\n\s+url: "http:\/\/127\.0\.0\.1:\d+"/m);
    }
  }, 240_000);
});

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { onTestFinished } from 'vitest';
import { opaPath } from './opa-path.js';
import { EXAMPLE_POLICIES } from './start-regent.js';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');

let built = false;

/** `npm run build`'s compiler run (tsc -p tsconfig.build.json into dist/), once per test file. */
export function buildDist(): void {
  if (built) return;
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the build failed:\n${result.stdout}${result.stderr}`);
  built = true;
}

export interface RegentProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with its URL once it logs `regent listening`; rejects if it exits first. */
  listening: Promise<string>;
  /** Resolves with the exit code (or signal) once it exits. */
  exited: Promise<number | string>;
  /** VmRSS and VmHWM (peak) in MiB, from /proc. */
  memory(): { rssMiB: number; hwmMiB: number };
}

/**
 * `node dist/main.js --dev` as its own process (call {@link buildDist} first), on a data directory,
 * 127.0.0.1 and a free port, with a minimal environment plus `env`. Killed when the test finishes.
 */
export function startRegentProcess(options: { dataDir: string; env?: Record<string, string> }): RegentProcess {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'main.js'), '--dev'], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/',
      REGENT_DATA_DIR: options.dataDir, REGENT_HOST: '127.0.0.1', REGENT_PORT: '0', REGENT_SEED_DIR: EXAMPLE_POLICIES, REGENT_OPA_PATH: opaPath(),
      REGENT_LOG_LEVEL: 'info', ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let output = '';
  const exited = new Promise<number | string>((done) => child.once('exit', (code, signal) => done(code ?? signal ?? 'unknown')));
  const listening = new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`Regent did not start:\n${output.slice(-3000)}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)".*"msg":"regent listening"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`Regent exited (${code}) before listening:\n${output.slice(-3000)}`));
    });
  });
  listening.catch(() => undefined);
  return {
    child,
    output: () => output,
    listening,
    exited,
    memory() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const field = (name: string): number => Math.round(Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024);
      return { rssMiB: field('VmRSS'), hwmMiB: field('VmHWM') };
    },
  };
}

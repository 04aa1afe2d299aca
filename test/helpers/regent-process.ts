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

/** A real Regent process. */
export interface RegentProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with its URL once it logs `regent listening`; rejects if it exits first or takes over 60 s. */
  listening: Promise<string>;
  /** Resolves with the exit code (or signal) once it exits. */
  exited: Promise<number | string>;
  /** VmRSS and VmHWM (peak) in MiB, from /proc. */
  memory(): { rssMiB: number; hwmMiB: number };
}

export interface SpawnRegentOptions {
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
  /** Arguments after the entry point (default `--dev`). */
  args?: string[];
  /** The entry point relative to the project root (default `src/main.ts` run through tsx; `src/cli/regent.ts` for the CLI). */
  entry?: string;
}

/**
 * `node dist/main.js --dev` as its own process (call {@link buildDist} first), on a data directory,
 * 127.0.0.1 and a free port, with a minimal environment plus `env`. Killed when the test finishes.
 */
export function startRegentProcess(options: { dataDir: string; env?: Record<string, string> }): RegentProcess {
  return launch([join(PROJECT_ROOT, 'dist', 'main.js'), '--dev'], options.dataDir, options.env);
}

/** Starts Regent from source (`node --import tsx src/main.ts --dev`: no build needed) on `dataDir`; killed after the test. */
export function spawnRegentProcess(dataDir: string, options: SpawnRegentOptions = {}): RegentProcess {
  return launch(['--import', 'tsx', options.entry ?? 'src/main.ts', ...(options.args ?? ['--dev'])], dataDir, { REGENT_WATCH_INTERVAL_MS: '200', ...options.env });
}

function launch(args: string[], dataDir: string, env: Record<string, string> = {}): RegentProcess {
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/',
      REGENT_DATA_DIR: dataDir, REGENT_HOST: '127.0.0.1', REGENT_PORT: '0', REGENT_SEED_DIR: EXAMPLE_POLICIES, REGENT_OPA_PATH: opaPath(),
      REGENT_LOG_LEVEL: 'info', ...env,
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

/** Waits until the process logged where it listens; rejects if it exits first or takes over 60 s. */
export function listeningUrl(regent: RegentProcess): Promise<string> {
  return regent.listening;
}

/** Waits until `/health/ready` answers 200 (the first activation after start is done). */
export async function waitUntilReady(url: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const response = await fetch(`${url}/health/ready`).catch(() => undefined);
    if (response?.status === 200) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error('Regent never became ready');
}

/** Waits (at most 60 s) for the process to exit; returns its exit code or signal. */
export async function exitOf(regent: RegentProcess): Promise<number | string> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after 60 s:\n${regent.output().slice(-3000)}`)), 60_000).unref());
  return Promise.race([regent.exited, timeout]);
}

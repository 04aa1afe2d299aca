import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { onTestFinished } from 'vitest';
import { opaPath } from './opa-path.js';
import { EXAMPLE_POLICIES } from './start-regent.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** A real `regent` process (`node --import tsx src/main.ts --dev`, i.e. `node dist/main.js --dev` unbuilt). */
export interface RegentProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal) once it exited. */
  exited: Promise<number | string>;
}

export interface SpawnRegentOptions {
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
  /** Arguments after `src/main.ts` (default `--dev`). */
  args?: string[];
  /** The entry point relative to the project root (default `src/main.ts`; `src/cli/regent.ts` for the CLI). */
  entry?: string;
}

/** Starts Regent on `dataDir` (127.0.0.1, a free port, the example policies, the pinned OPA); killed after the test. */
export function spawnRegentProcess(dataDir: string, options: SpawnRegentOptions = {}): RegentProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', options.entry ?? 'src/main.ts', ...(options.args ?? ['--dev'])], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/',
      REGENT_DATA_DIR: dataDir, REGENT_HOST: '127.0.0.1', REGENT_PORT: '0', REGENT_SEED_DIR: EXAMPLE_POLICIES, REGENT_OPA_PATH: opaPath(), REGENT_LOG_LEVEL: 'info',
      REGENT_WATCH_INTERVAL_MS: '200',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | string>((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown')));
  return { child, output: () => output, exited };
}

/** Waits until the process logged where it listens; rejects if it exits first or takes over 60 s. */
export async function listeningUrl(regent: RegentProcess): Promise<string> {
  const deadline = Date.now() + 60_000;
  let exitedWith: number | string | undefined;
  void regent.exited.then((code) => {
    exitedWith = code;
  });
  while (Date.now() < deadline) {
    const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)".*"msg":"regent listening"/.exec(regent.output());
    if (match) return match[1]!;
    if (exitedWith !== undefined) throw new Error(`Regent exited (${exitedWith}) before listening:\n${regent.output().slice(-3000)}`);
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`Regent did not start:\n${regent.output().slice(-3000)}`);
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

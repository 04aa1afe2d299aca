/**
 * Shared plumbing for the hand-run benchmarks: cleanup that runs even on failure or Ctrl-C, temp dirs
 * under bench/.work, free ports, child processes, percentiles and plain-text tables. Nothing here is
 * part of `npm test`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PROJECT_ROOT = resolve(BENCH_DIR, '..');
export const WORK_ROOT = join(BENCH_DIR, '.work');
export const EXAMPLE_POLICIES = join(PROJECT_ROOT, 'policies-repo');

/** A failure to set the benchmark up (missing tool, server that never got ready): exit code 2. */
export class SetupError extends Error {}

const cleanups: Array<() => void | Promise<void>> = [];
let cleaning: Promise<void> | undefined;

/** Registers `fn` to run (last registered first) when the benchmark ends, however it ends. */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

async function runCleanups(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop()!;
      try {
        await fn();
      } catch (error) {
        process.stderr.write(`cleanup failed: ${(error as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}

/**
 * Runs a benchmark body: prints the exact command first, cleans up on every path (including SIGINT and
 * SIGTERM), exits 2 on a SetupError, 1 on any other error, 0 otherwise.
 */
export function runBenchmark(name: string, body: () => Promise<void>): void {
  const command = `node --import tsx ${['bench/' + process.argv[1]!.split('/bench/').pop(), ...process.argv.slice(2)].join(' ')}`;
  console.log(`# ${name}\n# command: ${command}\n# date: ${new Date().toISOString()}  node ${process.version} (${process.execPath})  cores: ${cpuCount()}\n`);
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: cleaning up\n`);
    void runCleanups().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  body().then(
    async () => {
      await runCleanups();
      process.exit(0);
    },
    async (error: unknown) => {
      const setup = error instanceof SetupError;
      process.stderr.write(`\n${setup ? 'SETUP FAILURE' : 'BENCHMARK FAILED'}: ${(error as Error)?.stack ?? String(error)}\n`);
      await runCleanups();
      process.exit(setup ? 2 : 1);
    },
  );
}

function cpuCount(): number {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((line) => line.startsWith('processor')).length;
  } catch {
    return 0;
  }
}

/** A fresh directory under bench/.work (git-ignored), removed at cleanup unless KEEP_WORK=1. */
export function workDir(prefix: string): string {
  mkdirSync(WORK_ROOT, { recursive: true });
  const dir = mkdtempSync(join(WORK_ROOT, `${prefix}-`));
  onCleanup(() => {
    if (process.env.KEEP_WORK === '1') console.log(`(kept ${dir})`);
    else rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

export function opaBinary(): string {
  const path = process.env.REGENT_OPA_PATH ?? join(PROJECT_ROOT, '.tools', 'bin', 'opa');
  if (!existsSync(path)) throw new SetupError(`OPA binary not found at ${path}: run 'node scripts/ensure-opa.mjs' (or set REGENT_OPA_PATH)`);
  return path;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Absolute time in ms with sub-ms resolution, comparable across processes and threads on one host. */
export const nowAbs = (): number => performance.timeOrigin + performance.now();

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (bounded by `timeoutMs`), capturing output. */
export async function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new SetupError(`${command} could not run: ${error.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

export async function runOrFail(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new SetupError(`${command} ${args.join(' ')} exited with ${result.code}:\n${`${result.stdout}\n${result.stderr}`.trim().slice(-3000)}`);
  return result;
}

export interface Child {
  process: ChildProcess;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/** Spawns a long-running child that is killed at cleanup (SIGTERM, then SIGKILL after 3 s). */
export function spawnChild(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; keepOutputBytes?: number; onOutput?: (chunk: string) => void } = {}): Child {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new SetupError(`${command} could not be started`);
  const keep = options.keepOutputBytes ?? 1_000_000;
  let output = '';
  const append = (chunk: Buffer): void => {
    const text = chunk.toString();
    options.onOutput?.(text);
    output += text;
    if (output.length > keep * 2) output = output.slice(-keep);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(killer);
  };
  onCleanup(stop);
  return { process: child, pid: child.pid, output: () => output, stop };
}

/** Polls `probe` until true or `timeoutMs`; throws a SetupError with `what` otherwise. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await sleep(intervalMs);
  }
  throw new SetupError(`${what} not reached within ${timeoutMs} ms`);
}

/** `tsc -p tsconfig.build.json` (what `npm run build` runs) so `dist/main.js` matches the source. */
export async function buildRegent(): Promise<void> {
  process.stdout.write('building Regent (tsc -p tsconfig.build.json)... ');
  const result = await run(process.execPath, [join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, timeoutMs: 180_000 });
  if (result.code !== 0) {
    const errors = result.stdout.split('\n').filter((line) => line.includes('error TS')).slice(0, 10).join('\n');
    throw new SetupError(`the build failed (exit ${result.code}); fix the build or pass --skip-build to use the existing dist/:\n${errors || result.stderr.slice(-2000)}`);
  }
  console.log(`${Math.round(result.ms)} ms`);
}

export interface RegentProcess extends Child {
  url: string;
  dataDir: string;
}

/**
 * Starts `<node> dist/main.js --dev` on 127.0.0.1 with a temp data dir, and waits until it serves.
 * `node` is the path of the Node binary (the one running the benchmark by default).
 */
export async function startRegentProcess(options: { dataDir: string; seedDir: string; node?: string; logLevel?: string; env?: Record<string, string>; onOutput?: (chunk: string) => void }): Promise<RegentProcess> {
  const main = join(PROJECT_ROOT, 'dist', 'main.js');
  if (!existsSync(main)) throw new SetupError(`${main} is missing: npm run build failed?`);
  const port = await freePort();
  const child = spawnChild(options.node ?? process.execPath, [main, '--dev'], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/',
      REGENT_HOST: '127.0.0.1',
      REGENT_PORT: String(port),
      REGENT_DATA_DIR: options.dataDir,
      REGENT_SEED_DIR: options.seedDir,
      REGENT_LOG_LEVEL: options.logLevel ?? 'warn',
      REGENT_OPA_PATH: opaBinary(),
      ...options.env,
    },
    onOutput: options.onOutput,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('Regent /health/ready', async () => {
      if (child.process.exitCode !== null) throw new SetupError(`Regent exited with ${child.process.exitCode}:\n${child.output().slice(-3000)}`);
      return (await fetch(`${url}/health/ready`)).status === 200;
    }, 120_000, 100);
  } catch (error) {
    if (error instanceof SetupError && child.process.exitCode === null) {
      throw new SetupError(`${error.message}\nRegent output:\n${child.output().slice(-3000)}`);
    }
    throw error;
  }
  return { ...child, url, dataDir: options.dataDir };
}

/** Splits streamed output into whole lines. */
export function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let rest = '';
  return (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  };
}

/** The soft limit on open files of this process (children inherit it). */
export function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((entry) => entry.startsWith('Max open files'));
  return Number(line?.split(/\s{2,}/)[1] ?? NaN);
}

/** VmRSS and VmHWM of a process in MiB, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rssMiB: Math.round(field('VmRSS')), hwmMiB: Math.round(field('VmHWM')) };
}

/** Nearest-rank percentile of `values` (0 < p <= 100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

export function fmtNum(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

/** Prints a Markdown table (so it pastes into bench/README.md as is). */
export function printTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(headers));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
  console.log('');
}

/** `--name value` from argv, else `fallback`. */
export function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}

/**
 * Moments on an in-process Regent's side, by revision (absolute ms): head moved (store listeners run
 * synchronously on its commits) and the catalog swapped (long-poll waiters are released by the listener
 * main.ts added first).
 */
export function trackRegentMoments(regent: {
  store: { onHeadChange(listener: (head: string | undefined) => void): unknown };
  catalog: { onChange(listener: (changed: unknown, published: { revision: string }) => void): unknown };
}): { headMovedAt: Map<string, number>; publishedAt: Map<string, number> } {
  const headMovedAt = new Map<string, number>();
  const publishedAt = new Map<string, number>();
  regent.store.onHeadChange((head) => {
    if (head) headMovedAt.set(head, nowAbs());
  });
  regent.catalog.onChange((_changed, published) => {
    publishedAt.set(published.revision, nowAbs());
  });
  return { headMovedAt, publishedAt };
}

import { join } from 'node:path';
import { PROJECT_ROOT, spawnTypeScript } from './node-process.js';
import { opaPath } from './opa-path.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunRegentCliOptions {
  /** Added to a clean environment (no REGENT_* from the test run, the pinned OPA as REGENT_OPA_PATH). */
  env?: Record<string, string>;
  cwd?: string;
  /** Written to the command's stdin. */
  stdin?: string | Buffer;
}

/**
 * Runs `regent <args>` as its own process (`src/cli/regent.ts` through tsx, on `process.execPath`) and
 * waits for it to exit. The environment holds no REGENT_* variable of the test run unless given.
 */
export function runRegentCli(args: readonly string[], options: RunRegentCliOptions = {}): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGENT_')));
  const child = spawnTypeScript(join(PROJECT_ROOT, 'src', 'cli', 'regent.ts'), args, {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { ...base, REGENT_OPA_PATH: opaPath(), ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.stdin ?? '');
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Asserts nothing itself: formats a result for a failure message. */
export function describeResult(result: CliResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

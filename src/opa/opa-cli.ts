import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../domain/logger.js';

export interface OpaRunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface OpaCliOptions {
  path: string;
  timeoutMs: number;
  logger: Logger;
}

/** Thrown when the binary cannot run at all (missing, timed out, killed): never a verdict on policy. */
export class OpaUnavailableError extends Error {
  readonly code = 'opa_unavailable';
}

/**
 * The only caller of the `opa` binary. Arguments are built by the adapters in this folder from
 * constants and paths Regent created; nothing from a request reaches argv.
 */
export class OpaCli {
  private constructor(private readonly options: OpaCliOptions, readonly version: string) {}

  /** Checks the binary answers `opa version` and remembers the version. */
  static async create(options: OpaCliOptions): Promise<OpaCli> {
    const probe = new OpaCli(options, 'unknown');
    const result = await probe.run(['version']);
    const version = /^Version:\s*(\S+)/m.exec(result.stdout)?.[1];
    if (result.exitCode !== 0 || !version) {
      throw new OpaUnavailableError(`'${options.path} version' failed: ${result.stderr.trim() || result.stdout.trim()}`);
    }
    return new OpaCli(options, version);
  }

  get path(): string {
    return this.options.path;
  }

  run(args: readonly string[], options: { cwd?: string } = {}): Promise<OpaRunResult> {
    return new Promise((resolve, reject) => {
      execFile(
        this.options.path,
        args,
        { cwd: options.cwd, timeout: this.options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/' } },
        (error, stdout, stderr) => {
          if (error && typeof error.code !== 'number') {
            const reason = error.killed ? `timed out after ${this.options.timeoutMs} ms` : error.message;
            reject(new OpaUnavailableError(`opa ${args[0]} could not run: ${reason}`, { cause: error }));
            return;
          }
          resolve({ exitCode: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
        },
      );
    });
  }
}

/** The configured path, else the project's pinned install (`.tools/bin/opa`), else `opa` on PATH. */
export function defaultOpaPath(projectRoot: string): string {
  const pinned = join(projectRoot, '.tools', 'bin', 'opa');
  return existsSync(pinned) ? pinned : 'opa';
}

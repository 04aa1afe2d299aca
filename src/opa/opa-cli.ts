import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OpaRunner, type OpaRunOptions, type OpaRunResult, type OpaRunnerOptions, type OpaRunnerStats } from './opa-runner.js';

export type { OpaRunResult } from './opa-runner.js';

/**
 * The only caller of the `opa` binary: every process goes through one {@link OpaRunner} (concurrency,
 * queue, budget and memory limits). Arguments are built by the adapters in this folder from constants
 * and paths Regent created; nothing from a request reaches argv.
 */
export class OpaCli {
  private constructor(private readonly runner: OpaRunner, readonly version: string) {}

  /** Checks the binary answers `opa version` and remembers the version; throws naming the path otherwise. */
  static async create(options: OpaRunnerOptions): Promise<OpaCli> {
    const runner = new OpaRunner(options);
    let version: string | undefined;
    let detail: string;
    try {
      const result = await runner.run(['version'], { priority: 'activation' });
      version = result.exitCode === 0 ? /^Version:\s*(\S+)/m.exec(result.stdout)?.[1] : undefined;
      detail = result.stderr.trim() || result.stdout.trim();
    } catch (error) {
      detail = (error as Error).message;
    }
    if (!version) throw new Error(`'${options.path} version' did not name a version: ${detail.slice(0, 300) || 'no output'} (set REGENT_OPA_PATH to the opa binary)`);
    return new OpaCli(runner, version);
  }

  get path(): string {
    return this.runner.path;
  }

  run(args: readonly string[], options: OpaRunOptions): Promise<OpaRunResult> {
    return this.runner.run(args, options);
  }

  /** Throws `opa_busy` when a request of this priority would be refused now (see {@link OpaRunner.admit}). */
  admit(priority: OpaRunOptions['priority']): void {
    this.runner.admit(priority);
  }

  stats(): OpaRunnerStats {
    return this.runner.stats();
  }
}

/** The configured path, else the project's pinned install (`.tools/bin/opa`), else `opa` on PATH. */
export function defaultOpaPath(projectRoot: string): string {
  const pinned = join(projectRoot, '.tools', 'bin', 'opa');
  return existsSync(pinned) ? pinned : 'opa';
}

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface OpaProcessLimits {
  /** Wall-clock budget: the process is killed (SIGKILL) when it runs longer. */
  timeoutMs: number;
  /** Resident memory limit: the process is killed when its RSS grows past it. */
  memoryLimitBytes: number;
  /** stdout + stderr kept at most; a process writing more is killed. */
  maxOutputBytes: number;
}

/** Why Regent ended a process before it exited by itself. */
export type KillReason = 'timeout' | 'memory' | 'output';

export interface OpaProcessResult {
  /** The exit code; `undefined` when the process died of a signal. */
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  stdout: string;
  stderr: string;
  /** Set when Regent killed the process, and why. */
  killedFor?: KillReason;
  /** Highest resident set size seen (bytes; 0 where /proc is not available). */
  peakRssBytes: number;
  durationMs: number;
}

const RSS_POLL_MS = 50;

/**
 * Runs one `opa` process with a clean environment and hard limits: killed at the wall-clock budget,
 * when its resident memory passes the limit (polled from /proc every 50 ms; `GOMEMLIMIT` asks Go's
 * collector to stay below it first: an address-space rlimit cannot be used, the Go runtime reserves
 * gigabytes of address space at start), or when it writes more output than we keep. Rejects only when
 * the binary cannot be started at all.
 */
export function runOpaProcess(path: string, args: readonly string[], options: { cwd?: string; limits: OpaProcessLimits; onSpawn?: (pid: number) => void }): Promise<OpaProcessResult> {
  const { timeoutMs, memoryLimitBytes, maxOutputBytes } = options.limits;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/',
        GOMEMLIMIT: String(Math.floor(memoryLimitBytes * 0.8)),
      },
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let outputBytes = 0;
    let killedFor: KillReason | undefined;
    let peakRssBytes = 0;
    let spawned = false;
    const kill = (reason: KillReason): void => {
      if (killedFor) return;
      killedFor = reason;
      child.kill('SIGKILL');
    };
    const collect = (into: Buffer[]) => (chunk: Buffer): void => {
      outputBytes += chunk.length;
      if (outputBytes > maxOutputBytes) {
        kill('output');
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    const timer = setTimeout(() => kill('timeout'), timeoutMs);
    let polling = false;
    const poll = setInterval(() => {
      if (polling || child.pid === undefined) return;
      polling = true;
      residentBytes(child.pid).then((rss) => {
        polling = false;
        peakRssBytes = Math.max(peakRssBytes, rss);
        if (rss > memoryLimitBytes) kill('memory');
      }, () => {
        polling = false;
      });
    }, RSS_POLL_MS);
    const finish = (): void => {
      clearTimeout(timer);
      clearInterval(poll);
    };
    child.once('spawn', () => {
      spawned = true;
      if (child.pid !== undefined) options.onSpawn?.(child.pid);
    });
    child.once('error', (error) => {
      finish();
      if (!spawned) reject(error);
    });
    child.once('close', (code, signal) => {
      finish();
      resolve({
        exitCode: code ?? undefined,
        signal: signal ?? undefined,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        killedFor,
        peakRssBytes,
        durationMs: Math.round(performance.now() - started),
      });
    });
  });
}

/** RSS of a process from `/proc/<pid>/status` (`VmRSS: <n> kB`); rejects where there is no /proc. */
async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kilobytes = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  return Number.isFinite(kilobytes) ? kilobytes * 1024 : 0;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../domain/errors.js';

/** The file locked in the data directory; it holds who locked it, for the error the next one gets. */
export const LOCK_FILE = 'regent.lock';

/** Exit code the holder's `flock` uses when the lock is taken (`--conflict-exit-code`). */
const CONFLICT_EXIT_CODE = 75;

/** Options of {@link DataDirLock.acquire}. */
export interface AcquireDataDirLockOptions {
  /**
   * How long to wait for a lock held by another process. A Regent killed with `kill -9` releases its lock
   * within milliseconds (its holder sees end-of-file), so a short wait lets a supervisor restart at once.
   */
  waitSeconds?: number;
  /** The `flock` binary (util-linux). */
  flockPath?: string;
}

/** What the holder wrote into the lock file. */
export interface LockHolder {
  pid?: number;
  hostname?: string;
  startedAt?: string;
}

/**
 * One Regent per data directory, enforced by the kernel: an exclusive `flock(2)` on
 * `<dataDir>/regent.lock`, held by a small `flock ... cat` child whose standard input is a pipe from this
 * process. The lock lives exactly as long as the pipe: a clean exit, a crash or `kill -9` closes it, the
 * holder reads end-of-file and exits, the kernel drops the lock. Nothing stale is left behind (the file
 * stays, but an unlocked file means nothing), and it works across containers sharing the volume, where
 * PIDs and abstract sockets do not (see docs/adr/006-one-regent-per-data-directory.md).
 *
 * The lock file is never deleted: unlinking a lock file lets two processes lock two different inodes.
 */
export class DataDirLock {
  private released: Promise<void> | undefined;
  private readonly lostListeners: Array<(reason: string) => void> = [];

  private constructor(readonly path: string, private readonly holder: ChildProcess) {
    holder.once('exit', (code, signal) => {
      if (this.released) return;
      const reason = `the lock holder exited (${signal ?? `code ${code}`})`;
      for (const listener of this.lostListeners) listener(reason);
    });
  }

  /**
   * Takes the lock on `<dataDir>/regent.lock` (the directory must exist), then writes this process's
   * pid, host and start time into it. Throws `InputError` `data_dir_in_use` naming the directory and,
   * when the holder wrote it, its pid; `data_dir_lock_unavailable` when `flock` cannot run.
   */
  static async acquire(dataDir: string, options: AcquireDataDirLockOptions = {}): Promise<DataDirLock> {
    const path = join(dataDir, LOCK_FILE);
    const waitSeconds = options.waitSeconds ?? 2;
    const flock = options.flockPath ?? 'flock';
    // --no-fork: flock execs the shell, which execs cat: one process holds the lock, and it lives
    // until its standard input (our pipe) closes. `detached` keeps a terminal's Ctrl-C (sent to the
    // whole foreground process group) from dropping the lock while Regent is still shutting down.
    const holder = spawn(flock, ['--exclusive', '--timeout', String(waitSeconds), '--conflict-exit-code', String(CONFLICT_EXIT_CODE), '--no-fork', path, 'sh', '-c', 'echo locked && exec cat >/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const outcome = await new Promise<'locked' | { code: number | null; stderr: string; error?: Error }>((resolve) => {
      let stdout = '';
      let stderr = '';
      holder.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('locked\n')) resolve('locked');
      });
      holder.stderr!.on('data', (chunk: Buffer) => {
        stderr = `${stderr}${chunk.toString()}`.slice(-2000);
      });
      holder.once('error', (error) => resolve({ code: null, stderr, error }));
      holder.once('exit', (code) => resolve({ code, stderr }));
    });
    if (outcome !== 'locked') {
      holder.stdin?.destroy();
      if (outcome.error) {
        throw new InputError('data_dir_lock_unavailable', `cannot lock the data directory ${dataDir}: '${flock}' (util-linux) cannot run: ${outcome.error.message}`, { field: 'dataDir' }, { cause: outcome.error });
      }
      if (outcome.code === CONFLICT_EXIT_CODE) {
        const holderInfo = readHolder(path);
        const who = holderInfo?.pid === undefined ? 'another Regent' : `another Regent (pid ${holderInfo.pid}${holderInfo.hostname ? ` on ${holderInfo.hostname}` : ''}${holderInfo.startedAt ? `, started ${holderInfo.startedAt}` : ''})`;
        throw new InputError('data_dir_in_use', `the data directory ${dataDir} is in use by ${who}: it holds the lock on ${path}. Stop it first, or give this one another data directory`, { field: 'dataDir', dataDir, ...(holderInfo?.pid === undefined ? {} : { pid: holderInfo.pid }) });
      }
      throw new InputError('data_dir_lock_unavailable', `cannot lock the data directory ${dataDir} (${path}): ${outcome.stderr.trim() || `flock exited with code ${outcome.code}`}`, { field: 'dataDir', dataDir });
    }
    // The holder and its pipes must not keep the event loop alive; release() ends it explicitly.
    holder.unref();
    for (const stream of [holder.stdin, holder.stdout, holder.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
    holder.stdout!.resume();
    holder.stderr!.resume();
    // An EPIPE on the holder's stdin (it was killed) is reported through 'exit'; never an uncaught error.
    holder.stdin!.on('error', () => {});
    const lock = new DataDirLock(path, holder);
    try {
      writeHolder(path);
    } catch (error) {
      await lock.release();
      throw error;
    }
    return lock;
  }

  /** The process holding the lock for us. */
  get holderPid(): number | undefined {
    return this.holder.pid;
  }

  /** Called once if the lock is lost while held (someone killed the holder process). */
  onLost(listener: (reason: string) => void): void {
    this.lostListeners.push(listener);
  }

  /** Releases the lock: closes the holder's input and waits (at most 5 s, then kills it) until it exited. */
  release(): Promise<void> {
    this.released ??= new Promise<void>((resolve) => {
      const holder = this.holder;
      if (holder.exitCode !== null || holder.signalCode !== null) {
        resolve();
        return;
      }
      // Keep the event loop alive until the holder is gone: the lock must be released before we go on.
      holder.ref();
      const force = setTimeout(() => holder.kill('SIGKILL'), 5000);
      holder.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      holder.stdin!.end();
    });
    return this.released;
  }
}

/**
 * Writes who holds the lock into the lock file, in place (a rename would lock-swap the inode), synced:
 * this is also the first write of a start-up, so a full disk shows here (`ENOSPC`) before anything
 * else is touched.
 */
function writeHolder(path: string): void {
  const holder: LockHolder = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
  const fd = openSync(path, 'r+');
  try {
    const bytes = Buffer.from(`${JSON.stringify(holder)}\n`);
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, written);
    ftruncateSync(fd, bytes.length);
    fsyncSync(fd);
  } catch (error) {
    // Writes through a descriptor carry no path; the disk error report names the file.
    (error as NodeJS.ErrnoException).path ??= path;
    throw error;
  } finally {
    closeSync(fd);
  }
}

/** What the holder wrote, when it is readable (it may be mid-write, or from an older holder). */
function readHolder(path: string): LockHolder | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    const value = JSON.parse(text.slice(0, text.indexOf('\n') >= 0 ? text.indexOf('\n') : undefined)) as LockHolder;
    return typeof value === 'object' && value !== null && Number.isSafeInteger(value.pid) ? { pid: value.pid, hostname: typeof value.hostname === 'string' ? value.hostname.slice(0, 253) : undefined, startedAt: typeof value.startedAt === 'string' ? value.startedAt.slice(0, 40) : undefined } : undefined;
  } catch {
    return undefined;
  }
}

import { mkdirSync } from 'node:fs';
import { isRegentError } from '../domain/errors.js';
import type { LogFn, Logger } from '../domain/logger.js';
import { DataDirLock } from '../storage/data-dir-lock.js';
import { dataDirDiskError } from '../storage/data-dir-errors.js';
import { removeInterruptedWrites } from '../storage/startup-cleanup.js';

/**
 * The first thing a start-up does with its data directory: create it, take its lock (one Regent per
 * data directory), then remove what interrupted writes left, all before anything in it is read or
 * written (keys, store, audit log, state). A full or read-only disk is reported as such
 * (`data_dir_full`, `data_dir_not_writable`) naming the directory. The caller releases the lock when it
 * stops, or when the rest of its start-up fails.
 */
export async function openDataDir(dataDir: string, logger: Logger): Promise<DataDirLock> {
  const disk = (error: unknown): unknown => dataDirDiskError(error, dataDir) ?? error;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw disk(error);
  }
  let lock: DataDirLock;
  try {
    lock = await DataDirLock.acquire(dataDir);
  } catch (error) {
    throw disk(error);
  }
  try {
    const removed = await removeInterruptedWrites(dataDir, { logger: logger.child({ component: 'data-dir' }) });
    if (removed.length > 0) logger.info({ dataDir, removed: removed.length }, 'start-up clean-up removed what interrupted writes left');
  } catch (error) {
    await lock.release();
    throw disk(error);
  }
  return lock;
}

/**
 * Says why start-up failed: a Regent error (or a disk error anywhere in the cause chain, as
 * `data_dir_full` / `data_dir_not_writable`) as one clear line, `regent: <message> [<code>]` on stderr and
 * a log record with the code and its details, no stack trace; anything else with its stack (a bug).
 */
export function reportStartupFailure(error: unknown, deps: { logger: { fatal: LogFn }; dataDir: string; stderr: (text: string) => void }): void {
  const failure = dataDirDiskError(error, deps.dataDir) ?? error;
  if (isRegentError(failure)) {
    deps.logger.fatal({ code: failure.code, reason: failure.message, ...failure.details }, 'regent failed to start');
    deps.stderr(`regent: ${failure.message} [${failure.code}]\n`);
    return;
  }
  deps.logger.fatal({ err: failure }, 'regent failed to start');
}

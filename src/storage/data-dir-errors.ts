import { InputError } from '../domain/errors.js';

const FULL = new Set(['ENOSPC', 'EDQUOT']);
const NOT_WRITABLE = new Set(['EROFS', 'EACCES', 'EPERM']);
/** How git (and other tools writing through stdio) say it, when the errno is only in their stderr. */
const FULL_TEXT = /No space left on device|Disk quota exceeded/i;

/**
 * A start-up failure caused by the data directory's disk, as the clear error an operator needs:
 * `data_dir_full` (ENOSPC/EDQUOT, also when only a git process's message says so) or
 * `data_dir_not_writable` (EROFS/EACCES/EPERM), naming the directory and the file when known.
 * Looks through `cause` chains; returns undefined for anything else.
 */
export function dataDirDiskError(error: unknown, dataDir: string): InputError | undefined {
  for (let current = error, depth = 0; current && depth < 8; current = (current as { cause?: unknown }).cause, depth++) {
    if (current instanceof InputError && (current.code === 'data_dir_full' || current.code === 'data_dir_not_writable')) return current;
    const code = (current as NodeJS.ErrnoException).code;
    const path = (current as NodeJS.ErrnoException).path;
    const message = String((current as Error).message ?? '');
    if ((typeof code === 'string' && FULL.has(code)) || FULL_TEXT.test(message)) {
      return new InputError('data_dir_full', `no space left on the device of the data directory ${dataDir}${path ? ` (writing ${path})` : ''}: free some space (or grow the volume) and start again`, { field: 'dataDir', dataDir, ...(path ? { path } : {}) }, { cause: error });
    }
    if (typeof code === 'string' && NOT_WRITABLE.has(code) && path !== undefined && isInside(path, dataDir)) {
      return new InputError('data_dir_not_writable', `the data directory ${dataDir} cannot be written (${code} on ${path}): check its owner, mode and mount`, { field: 'dataDir', dataDir, path }, { cause: error });
    }
  }
  return undefined;
}

function isInside(path: string, dir: string): boolean {
  const base = dir.replace(/\/+$/, '');
  return path === base || path.startsWith(`${base}/`);
}

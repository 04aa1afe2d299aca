import type { Dirent } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Logger } from '../domain/logger.js';
import { temporaryFileWriter } from './atomic-file.js';

/** Options of {@link removeInterruptedWrites}. */
export interface RemoveInterruptedWritesOptions {
  logger: Logger;
  /** The store's directory inside the data directory (`store.git`). */
  storeDir?: string;
  /** Git's temp and lock files younger than this are left alone: a `git push` into the store may be writing them. */
  gitMinAgeMs?: number;
  /** Regent temp files of a live process other than this one are left alone until this old. */
  regentMinAgeMs?: number;
  now?: number;
}

/** Git's temp files and directories of interrupted object writes, fetches and pushes. */
const GIT_OBJECT_TEMP = /^(tmp_obj_|tmp_pack_|tmp_idx_|tmp_rev_|tmp_mtimes_|incoming-)/;
/** Ref and config locks git takes for milliseconds; a stale one blocks every later ref update. */
const GIT_LOCK = /\.lock$/;
/** Where a walk of the data directory stops: deeper than this is not Regent's. */
const MAX_DEPTH = 6;

/**
 * Removes what interrupted writes leave in the data directory, at start-up, under the data directory
 * lock (so no other Regent is writing): Regent's own temp files (`<file>.<pid>.<uuid>.tmp` of atomic
 * writes and key generation, other `*.tmp`, and OPA scratch directories under `tmp/`), and in the store
 * git's `tmp_obj_*` / `tmp_pack_*` / `incoming-*` temps and stale `*.lock` files, those only when older
 * than a few minutes, because a `git push` into the store may be running. A Regent temp file whose
 * writer is another live process (`regent token --dev` creating the admin secret) is left alone unless
 * it is old. Returns the removed paths, relative to `dataDir`; logs each kind it removed.
 */
export async function removeInterruptedWrites(dataDir: string, options: RemoveInterruptedWritesOptions): Promise<string[]> {
  const now = options.now ?? Date.now();
  const storeDir = options.storeDir ?? join(dataDir, 'store.git');
  const gitMinAgeMs = options.gitMinAgeMs ?? 5 * 60_000;
  const regentMinAgeMs = options.regentMinAgeMs ?? 10 * 60_000;
  const removed: string[] = [];
  const remove = async (path: string, reason: string): Promise<void> => {
    await rm(path, { recursive: true, force: true });
    removed.push(relative(dataDir, path));
    options.logger.warn({ path, reason }, 'removed what an interrupted write left');
  };
  const ageOf = async (path: string): Promise<number> => now - (await lstat(path)).mtimeMs;

  // Regent's own files, everywhere but the store.
  await walk(dataDir, 0, async (path, entry) => {
    if (path === storeDir) return 'skip';
    if (entry.isDirectory()) {
      if (path === join(dataDir, 'tmp')) {
        for (const scratch of await entries(path)) {
          if (scratch.name.startsWith('regent-opa-')) await remove(join(path, scratch.name), 'OPA scratch directory of an interrupted check');
        }
        return 'skip';
      }
      return 'descend';
    }
    if (!entry.isFile() || !entry.name.endsWith('.tmp')) return 'skip';
    const writer = temporaryFileWriter(entry.name);
    if (writer !== undefined && writer !== process.pid && isAlive(writer) && (await ageOf(path)) < regentMinAgeMs) return 'skip';
    await remove(path, 'temp file of an interrupted write');
    return 'skip';
  });

  // Git's, in the store: object temps and stale locks.
  const objects = join(storeDir, 'objects');
  for (const dir of [objects, join(objects, 'pack'), ...(await entries(objects)).filter((entry) => entry.isDirectory() && /^[0-9a-f]{2}$/.test(entry.name)).map((entry) => join(objects, entry.name))]) {
    for (const entry of await entries(dir)) {
      const path = join(dir, entry.name);
      if (GIT_OBJECT_TEMP.test(entry.name) && (await ageOf(path)) >= gitMinAgeMs) await remove(path, 'git temp file of an interrupted object write');
    }
  }
  const lockDirs = [storeDir];
  await walk(join(storeDir, 'refs'), 0, async (path, entry) => {
    if (entry.isDirectory()) {
      lockDirs.push(path);
      return 'descend';
    }
    return 'skip';
  });
  for (const dir of lockDirs) {
    for (const entry of await entries(dir)) {
      const path = join(dir, entry.name);
      if (entry.isFile() && GIT_LOCK.test(entry.name) && (await ageOf(path)) >= gitMinAgeMs) await remove(path, 'stale git lock file of an interrupted ref or config update');
    }
  }
  return removed;
}

/** The entries of `dir`; none when it is missing or is a symbolic link (what it points to is not ours to clean). */
async function entries(dir: string): Promise<Dirent[]> {
  try {
    if ((await lstat(dir)).isSymbolicLink()) return [];
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw error;
  }
}

/** Depth-first over `dir` without following symlinks; `visit` says whether to enter a directory. */
async function walk(dir: string, depth: number, visit: (path: string, entry: Dirent) => Promise<'descend' | 'skip'>): Promise<void> {
  if (depth > MAX_DEPTH) return;
  for (const entry of await entries(dir)) {
    const path = join(dir, entry.name);
    if ((await visit(path, entry)) === 'descend' && entry.isDirectory()) await walk(path, depth + 1, visit);
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

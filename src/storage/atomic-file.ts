import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, rmSync, writeSync } from 'node:fs';
import { open, rename, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** `<file>.<pid>.<uuid>.tmp`: the temp files {@link writeFileAtomic} and the key generators write. */
const TEMP_NAME = /\.(\d{1,10})\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;

/**
 * A fresh temp path beside `path`, unique per call (pid and a random UUID), so two writers never share
 * one; created exclusively (`wx`) by its writer. The start-up clean-up knows the pattern
 * ({@link temporaryFileWriter}) and removes what an interrupted write left.
 */
export function temporaryPathFor(path: string): string {
  return `${path}.${process.pid}.${randomUUID()}.tmp`;
}

/** The pid that wrote a temp file named by {@link temporaryPathFor}, or undefined for any other name. */
export function temporaryFileWriter(name: string): number | undefined {
  const match = TEMP_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

/**
 * Writes `path` so a reader (or a restart after kill -9 or power loss) sees the old content or the new
 * one, never a torn file: write a temp file, fsync it, rename it into place, fsync the directory.
 * Content given as chunks is written chunk by chunk, so a large file does not hold the event loop.
 */
export async function writeFileAtomic(path: string, content: string | Buffer | Iterable<string>, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = temporaryPathFor(path);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      if (typeof content === 'string' || Buffer.isBuffer(content)) await handle.writeFile(content);
      else for (const chunk of content) await handle.write(chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    // A full disk must not also leave the temp file behind.
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Creates `path` with `content` if it does not exist, atomically and without ever replacing it: the
 * content goes to a temp file that is fsynced and then hard-linked to `path` (`link` fails when `path`
 * exists, where `rename` would overwrite), and the directory is fsynced. So a reader sees no file or the
 * whole file, a crash leaves at most a temp file, and of two concurrent creators one wins and the other
 * gets `false` and reads the winner's file. Returns whether this call created it.
 */
export function createFileOnceSync(path: string, content: string | Buffer, mode = 0o600): boolean {
  const temp = temporaryPathFor(path);
  try {
    const fd = openSync(temp, 'wx', mode);
    try {
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  } finally {
    rmSync(temp, { force: true });
  }
  syncDirectorySync(dirname(path));
  return true;
}

function syncDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

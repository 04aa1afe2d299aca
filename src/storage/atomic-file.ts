import { randomUUID } from 'node:crypto';
import { open, rename, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes `path` so a reader (or a restart after kill -9 or power loss) sees the old content or the new
 * one, never a torn file: write a temp file, fsync it, rename it into place, fsync the directory.
 * Content given as chunks is written chunk by chunk, so a large file does not hold the event loop.
 */
export async function writeFileAtomic(path: string, content: string | Buffer | Iterable<string>, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Unique per call, created exclusively: two writes of the same file never share a temp file.
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  const handle = await open(temp, 'wx', mode);
  try {
    if (typeof content === 'string' || Buffer.isBuffer(content)) await handle.writeFile(content);
    else for (const chunk of content) await handle.write(chunk);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { pack } from 'tar-stream';

/** The bundle file `use` is given, relative to its directory (where extra files such as an input may go). */
export const POLICY_BUNDLE_FILE = 'policy.tar.gz';

const gzipAsync = promisify(gzip);

/**
 * Packs files into one bundle tarball in a private temp directory, runs `use(dir, POLICY_BUNDLE_FILE)`,
 * removes the directory. OPA reads it with `-b` (`check`, `test`, `eval`, `inspect`) and reports the
 * paths as given. One file instead of one per module: creating thousands of small files costs seconds on
 * an ordinary journaling disk, writing one tarball a few milliseconds. The tarball is for OPA's eyes
 * only (fast compression, no signatures); paths were validated by the store and the API, and are
 * checked again here to be plain relative paths.
 */
export async function withPolicyBundle<T>(files: ReadonlyArray<{ path: string; content: Buffer }>, baseDir: string | undefined, use: (dir: string, bundle: string) => Promise<T>): Promise<T> {
  const base = baseDir ?? tmpdir();
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(join(base, 'regent-opa-'));
  try {
    await writeFile(join(dir, POLICY_BUNDLE_FILE), await gzipAsync(await tarOf(files), { level: 1 }), { mode: 0o600 });
    return await use(dir, POLICY_BUNDLE_FILE);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function tarOf(files: ReadonlyArray<{ path: string; content: Buffer }>): Promise<Buffer> {
  const stream = pack();
  const chunks: Buffer[] = [];
  const collected = new Promise<Buffer>((resolve, reject) => {
    stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
  for (const file of files) {
    if (file.path.startsWith('/') || file.path.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
      throw new Error(`refusing to pack a path that is not plain and relative: ${file.path}`);
    }
    stream.entry({ name: file.path, size: file.content.length, mode: 0o644, type: 'file' }, file.content);
  }
  stream.finalize();
  return collected;
}

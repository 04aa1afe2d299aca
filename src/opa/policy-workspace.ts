import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Writes files into a private temp directory for OPA to read, runs `use`, removes the directory.
 * Paths were validated by the store and the API; they are joined under the new directory only.
 */
export async function withPolicyWorkspace<T>(files: ReadonlyArray<{ path: string; content: Buffer }>, baseDir: string | undefined, use: (dir: string) => Promise<T>): Promise<T> {
  const base = baseDir ?? tmpdir();
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(join(base, 'regent-opa-'));
  try {
    await Promise.all(files.map(async (file) => {
      const target = join(dir, file.path);
      if (!target.startsWith(`${dir}/`)) throw new Error(`refusing to write outside the workspace: ${file.path}`);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, file.content);
    }));
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

import { readFile, rename } from 'node:fs/promises';
import type { Logger } from '../domain/logger.js';

export interface JsonListFile<T> {
  path: string;
  /** The key of the list in the file's object (`agents`, `revisions`). */
  key: string;
  /** One entry checked on the way in: undefined refuses the whole file. */
  entryFrom(value: unknown): T | undefined;
  /** Says what the file is, in the error and the log (`fleet snapshot`, `convergence records`). */
  what: string;
  logger: Logger;
}

/**
 * Reads a snapshot file `{"version":1,"<key>":[...]}` written atomically by its store. No file: an empty
 * list. A file that does not read as such (not JSON, no list, one entry that fails its check) is moved
 * aside (`<path>.corrupt-<time>`), logged, and the list starts empty: what these files hold is rebuilt
 * from what agents report next.
 */
export async function readJsonListFile<T>(file: JsonListFile<T>): Promise<T[]> {
  let text: string;
  try {
    text = await readFile(file.path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const list = parsed[file.key];
    if (!Array.isArray(list)) throw new Error(`not a ${file.what} file`);
    return list.map((value: unknown, index) => {
      const entry = file.entryFrom(value);
      if (!entry) throw new Error(`${file.key}[${index}] is not valid`);
      return entry;
    });
  } catch (error) {
    const aside = `${file.path}.corrupt-${Date.now()}`;
    await rename(file.path, aside);
    file.logger.error({ path: file.path, movedTo: aside, reason: (error as Error).message }, `${file.what} unreadable; starting afresh`);
    return [];
  }
}

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChangeRequestRecord, ChangeRequestRepository } from '../domain/change-requests/change-request.js';
import type { Logger } from '../domain/logger.js';
import { writeFileAtomic } from './atomic-file.js';

const RECORD_FILE = /^([1-9][0-9]{0,8})\.json$/;

/**
 * Change request records as one JSON file each (`<dir>/<id>.json`), replaced atomically (temp file,
 * fsync, rename, fsync of the directory), so a kill -9 leaves the previous or the new record, never a
 * torn one, and an answered request's write is on disk.
 */
export class FileChangeRequestStore implements ChangeRequestRepository {
  private constructor(private readonly dir: string, private readonly logger: Logger) {}

  static create(dir: string, logger: Logger): FileChangeRequestStore {
    return new FileChangeRequestStore(dir, logger);
  }

  async loadAll(): Promise<ChangeRequestRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const records: ChangeRequestRecord[] = [];
    for (const name of names) {
      const match = RECORD_FILE.exec(name);
      if (!match) continue;
      const path = join(this.dir, name);
      try {
        const record = JSON.parse(await readFile(path, 'utf8')) as ChangeRequestRecord;
        if (record.id !== Number(match[1]) || typeof record.tip !== 'string') throw new Error('not a change request record');
        records.push(record);
      } catch (error) {
        // Atomic replacement means this is damage from outside Regent: keep serving the others.
        this.logger.error({ err: error, path }, 'cannot read a change request record; it is ignored');
      }
    }
    return records.sort((a, b) => a.id - b.id);
  }

  async save(record: ChangeRequestRecord): Promise<void> {
    await writeFileAtomic(join(this.dir, `${record.id}.json`), `${JSON.stringify(record, null, 2)}\n`, 0o600);
  }
}

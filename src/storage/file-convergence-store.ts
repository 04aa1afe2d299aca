import { revisionConvergenceFrom, type RevisionConvergence } from '../domain/fleet/convergence-tracker.js';
import type { Logger } from '../domain/logger.js';
import { writeFileAtomic } from './atomic-file.js';
import { readJsonListFile } from './json-list-file.js';

/**
 * The convergence tracker's records (`<dataDir>/fleet/convergence.json`), rewritten atomically when they
 * change, read back at start-up. An unreadable file is moved aside (`.corrupt-<time>`): the tracker
 * starts afresh, which at worst reports the current revisions' convergence once more.
 */
export class FileConvergenceStore {
  private constructor(private readonly path: string, private readonly logger: Logger) {}

  static create(path: string, logger: Logger): FileConvergenceStore {
    return new FileConvergenceStore(path, logger.child({ component: 'convergence-store' }));
  }

  async load(): Promise<RevisionConvergence[]> {
    return readJsonListFile({ path: this.path, key: 'revisions', entryFrom: revisionConvergenceFrom, what: 'convergence records', logger: this.logger });
  }

  async save(entries: readonly RevisionConvergence[]): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, revisions: entries })}\n`);
  }
}

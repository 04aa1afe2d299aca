import { readFile, rename } from 'node:fs/promises';
import { revisionConvergenceFrom, type RevisionConvergence } from '../domain/fleet/convergence-tracker.js';
import type { Logger } from '../domain/logger.js';
import { writeFileAtomic } from './atomic-file.js';

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
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as { revisions?: unknown };
      if (!Array.isArray(parsed.revisions)) throw new Error('not a convergence file');
      return parsed.revisions.map((value: unknown, index) => {
        const entry = revisionConvergenceFrom(value);
        if (!entry) throw new Error(`revisions[${index}] is not a convergence record`);
        return entry;
      });
    } catch (error) {
      const aside = `${this.path}.corrupt-${Date.now()}`;
      await rename(this.path, aside);
      this.logger.error({ path: this.path, movedTo: aside, reason: (error as Error).message }, 'convergence records unreadable; starting afresh');
      return [];
    }
  }

  async save(entries: readonly RevisionConvergence[]): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, revisions: entries })}\n`);
  }
}

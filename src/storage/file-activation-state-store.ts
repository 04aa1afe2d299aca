import { readFile } from 'node:fs/promises';
import type { ActivationState, ActivationStateStore } from '../domain/activation/activation-state-store.js';
import { writeFileAtomic } from './atomic-file.js';

/** Activation state as a small JSON file in the data directory, replaced atomically. */
export class FileActivationStateStore implements ActivationStateStore {
  private constructor(private readonly path: string) {}

  static create(path: string): FileActivationStateStore {
    return new FileActivationStateStore(path);
  }

  async load(): Promise<ActivationState> {
    try {
      const parsed = JSON.parse(await readFile(this.path, 'utf8')) as ActivationState;
      const revision = parsed.lastGoodRevision;
      return typeof revision === 'string' && /^[0-9a-f]{40}$/.test(revision) ? { lastGoodRevision: revision } : {};
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      // A damaged state file only loses the fallback revision; head is still activated.
      return {};
    }
  }

  async save(state: ActivationState): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(state)}\n`, 0o644);
  }
}

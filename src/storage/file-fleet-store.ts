import { readFile, rename } from 'node:fs/promises';
import type { AgentRecord } from '../domain/fleet/fleet-registry.js';
import type { Logger } from '../domain/logger.js';
import { writeFileAtomic } from './atomic-file.js';

/**
 * The fleet registry's agents as one JSON file in the data directory, rewritten atomically (so a crash
 * leaves the previous snapshot or the new one), read back at start-up. A file that cannot be read as
 * such is moved aside (`<path>.corrupt-<time>`) and the fleet starts empty: agents report again within
 * their next status interval, so nothing is lost that matters.
 */
export class FileFleetStore {
  private constructor(private readonly path: string, private readonly logger: Logger) {}

  static create(path: string, logger: Logger): FileFleetStore {
    return new FileFleetStore(path, logger.child({ component: 'fleet-store' }));
  }

  async load(): Promise<AgentRecord[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as { agents?: unknown };
      if (!Array.isArray(parsed.agents) || !parsed.agents.every(isAgentRecord)) throw new Error('not a fleet snapshot');
      return parsed.agents;
    } catch (error) {
      const aside = `${this.path}.corrupt-${Date.now()}`;
      await rename(this.path, aside);
      this.logger.error({ path: this.path, movedTo: aside, reason: (error as Error).message }, 'fleet snapshot unreadable; starting with an empty fleet');
      return [];
    }
  }

  async save(agents: readonly AgentRecord[]): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, agents })}\n`);
  }
}

function isAgentRecord(value: unknown): value is AgentRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<AgentRecord>;
  return typeof record.agentId === 'string' && typeof record.reportedAt === 'string' && typeof record.firstSeenAt === 'string'
    && Array.isArray(record.bundles) && typeof record.labels === 'object' && typeof record.plugins === 'object';
}

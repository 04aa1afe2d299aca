import { agentRecordFrom, type AgentRecord } from '../domain/fleet/agent-record.js';
import type { Logger } from '../domain/logger.js';
import { writeFileAtomic } from './atomic-file.js';
import { readJsonListFile } from './json-list-file.js';

/** Records serialized per chunk written: a 64 MiB fleet is written in small steps, never in one. */
const RECORDS_PER_CHUNK = 200;

/**
 * The fleet registry's agents as one JSON file in the data directory, rewritten atomically (so a crash
 * leaves the previous snapshot or the new one), read back at start-up. A file that cannot be read as
 * such is moved aside (`<path>.corrupt-<time>`) and the fleet starts empty: agents report again within
 * their next status interval, so nothing is lost that matters. Records are checked one by one on the
 * way in (names stay data: see `agentRecordFrom`).
 */
export class FileFleetStore {
  private constructor(private readonly path: string, private readonly logger: Logger) {}

  static create(path: string, logger: Logger): FileFleetStore {
    return new FileFleetStore(path, logger.child({ component: 'fleet-store' }));
  }

  async load(): Promise<AgentRecord[]> {
    return readJsonListFile({ path: this.path, key: 'agents', entryFrom: agentRecordFrom, what: 'fleet snapshot', logger: this.logger });
  }

  /** Writes `{"version":1,"agents":[...]}`: exactly the records' JSON, comma-separated, in a 26-byte frame. */
  async save(agents: readonly AgentRecord[]): Promise<void> {
    await writeFileAtomic(this.path, chunks(agents));
  }
}

function* chunks(agents: readonly AgentRecord[]): Generator<string> {
  yield '{"version":1,"agents":[';
  for (let start = 0; start < agents.length; start += RECORDS_PER_CHUNK) {
    const batch = agents.slice(start, start + RECORDS_PER_CHUNK).map((agent) => JSON.stringify(agent)).join(',');
    yield start === 0 ? batch : `,${batch}`;
  }
  yield ']}\n';
}

import { join } from 'node:path';
import type { RegentConfig } from '../config/schema.js';
import { FleetRegistry } from '../domain/fleet/fleet-registry.js';
import type { Logger } from '../domain/logger.js';
import { FileFleetStore } from '../storage/file-fleet-store.js';

export interface Fleet {
  registry: FleetRegistry;
  /** Stops the periodic snapshot and writes a last one. */
  close(): Promise<void>;
}

/** The fleet registry, restored from `<dataDir>/fleet/agents.json` and written back when it changed. */
export async function openFleet(config: Readonly<RegentConfig>, dataDir: string, logger: Logger): Promise<Fleet> {
  const registry = FleetRegistry.create({ maxAgents: config.fleet.maxAgents, maxStoredBytes: config.fleet.maxStoredBytes, staleAfterMs: config.fleet.staleAfterSeconds * 1000 });
  const store = FileFleetStore.create(join(dataDir, 'fleet', 'agents.json'), logger);
  registry.restore(await store.load());
  const save = async (): Promise<void> => {
    const { agents, changed } = registry.snapshot();
    if (changed) await store.save(agents);
  };
  // One save at a time: an interval tick while a save is still writing waits for the next tick.
  let saving: Promise<void> | undefined;
  const saveLogged = async (): Promise<void> => {
    while (saving) await saving;
    saving = save().catch((error: unknown) => logger.error({ err: error }, 'cannot save the fleet snapshot')).finally(() => {
      saving = undefined;
    });
    await saving;
  };
  const timer = setInterval(() => {
    if (!saving) void saveLogged();
  }, config.fleet.snapshotIntervalMs);
  timer.unref();
  return {
    registry,
    async close() {
      clearInterval(timer);
      await saveLogged();
    },
  };
}

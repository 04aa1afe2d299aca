import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { Logger } from '../../src/domain/logger.js';
import { startRegent, type RunningRegent } from '../../src/main.js';
import { opaPath } from './opa-path.js';

export const EXAMPLE_POLICIES = resolve(import.meta.dirname, '..', '..', 'policies-repo');

export interface StartTestRegentOptions {
  /** Reuse a data directory (restarts); a fresh temp dir otherwise, removed after the test. */
  dataDir?: string;
  seedDir?: string;
  /** Config overrides, e.g. `{ bundles: { longPollMaxSeconds: 1 } }`. */
  config?: Record<string, unknown>;
  /** Keep running after the test (the caller closes it). */
  keepRunning?: boolean;
  /** Log here instead of nowhere (see {@link capturingLogger}). */
  logger?: Logger;
}

/** A pino logger at `level` whose JSON lines are kept in `lines`, for assertions on what Regent logged. */
export function capturingLogger(level = 'info'): { logger: pino.Logger; lines: string[]; records: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
  const logger = pino({ level }, sink);
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/**
 * A real Regent on 127.0.0.1 and an ephemeral port, in dev mode (generated key), seeded from the
 * example policies unless told otherwise, with real git and real OPA. Closed when the test finishes.
 * Set REGENT_TEST_LOG=debug to see its log.
 */
export async function startTestRegent(options: StartTestRegentOptions = {}): Promise<RunningRegent & { dataDir: string }> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'regent-data-'));
  if (!options.dataDir) onTestFinished(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig({
    env: {},
    overrides: {
      dev: true,
      host: '127.0.0.1',
      port: 0,
      dataDir,
      store: { seedDir: options.seedDir ?? EXAMPLE_POLICIES, watchIntervalMs: 200 },
      opa: { path: opaPath() },
      ...options.config,
    },
  });
  const logger = options.logger ?? pino({ level: process.env.REGENT_TEST_LOG ?? 'silent' });
  const regent = await startRegent(config, logger);
  if (!options.keepRunning) onTestFinished(() => regent.close());
  return { ...regent, dataDir };
}

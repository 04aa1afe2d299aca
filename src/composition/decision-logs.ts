import { join } from 'node:path';
import type { RequestHandler } from 'express';
import type { RegentConfig } from '../config/schema.js';
import type { Logger } from '../domain/logger.js';
import { createDecisionLogsRouter, type DecisionBatchOutcome } from '../http/fleet/decision-logs-router.js';
import { FileDecisionLog } from '../storage/decisions/file-decision-log.js';

export interface DecisionLogs {
  store: FileDecisionLog;
  /** `POST /logs`, `POST /logs/<partition>`. */
  router: RequestHandler;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

/**
 * The decision-log store in `<dataDir>/decisions` and the endpoint agents upload to, behind the same
 * authentication as status reports. A segment is never larger than a quarter of `maxBytes`, so retention
 * always has closed segments to delete.
 */
export async function openDecisionLogs(config: Readonly<RegentConfig>, deps: { dataDir: string; authenticate: RequestHandler; onBatch?: (outcome: DecisionBatchOutcome) => void; logger: Logger }): Promise<DecisionLogs> {
  const settings = config.decisionLogs;
  const store = await FileDecisionLog.open({
    dir: join(deps.dataDir, 'decisions'),
    segmentBytes: Math.min(settings.segmentBytes, Math.floor(settings.maxBytes / 4)),
    maxBytes: settings.maxBytes,
    maxAgeMs: settings.maxAgeDays * DAY_MS,
    maxEventBytes: settings.maxEventBytes,
    maxScanBytesPerQuery: settings.maxScanBytesPerQuery,
    maxPageBytes: settings.maxPageBytes,
    logger: deps.logger,
  });
  const router = createDecisionLogsRouter({
    recorder: store,
    authenticate: deps.authenticate,
    limits: {
      maxBodyBytes: settings.maxBodyBytes,
      maxDecompressedBytes: settings.maxDecompressedBytes,
      maxEventsPerBatch: settings.maxEventsPerBatch,
      maxValuesPerBatch: settings.maxValuesPerBatch,
      maxConcurrentBatches: settings.maxConcurrentBatches,
      maxQueuedBatches: settings.maxQueuedBatches,
      maxQueueWaitMs: settings.maxQueueWaitMs,
      maxJsonDepth: config.http.maxJsonDepth,
      bodyTimeoutMs: settings.bodyTimeoutMs,
    },
    onBatch: deps.onBatch,
  });
  return { store, router, close: () => store.close() };
}

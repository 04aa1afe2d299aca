import { Router, type RequestHandler } from 'express';
import { parseDecisionBatch } from '../../domain/decisions/decision-event.js';
import type { DecisionRecorder } from '../../domain/decisions/decision-log.js';
import { isRegentError, UnavailableError } from '../../domain/errors.js';
import { parsePartition } from '../../domain/fleet/agent-status-report.js';
import { readCompressedBody } from '../body/gzip-body.js';
import { parseJsonBody } from '../body/json-text.js';

export interface DecisionLogsRouterDeps {
  recorder: DecisionRecorder;
  /** Who may send decisions (`agentReportAuth`, the same as `POST /status`): replaced as one piece. */
  authenticate: RequestHandler;
  limits: {
    maxBodyBytes: number;
    maxDecompressedBytes: number;
    maxEventsPerBatch: number;
    maxConcurrentBatches: number;
    maxJsonDepth: number;
  };
  /** Counts for `/metrics`: called once per batch, accepted or refused. */
  onBatch?: (outcome: DecisionBatchOutcome) => void;
  now?: () => Date;
}

/** What became of one `POST /logs` (for metrics). */
export interface DecisionBatchOutcome {
  /** `accepted`, or the refusal's error code. */
  code: string;
  events: number;
  compressedBytes: number;
  bytes: number;
}

/**
 * `POST /logs` and `POST /logs/<partition>`: OPA's decision-log plugin (`decision_logs: {service: regent}`)
 * uploads gzip'd JSON arrays of decisions. Answered 204 only once the whole batch is on disk, so OPA keeps
 * and re-sends what was not acknowledged. At most `maxConcurrentBatches` bodies are read at once (503
 * `decision_logs_busy` with `Retry-After`), each capped as sent and as inflated, so the memory a fleet (or
 * anyone) can make Regent spend on batches is bounded. Refusals are problem documents: 400
 * `invalid_gzip` / `invalid_json` / `invalid_utf8` / `json_too_deep` / `invalid_decision_batch` (naming the event and
 * field), 413 `body_too_large` / `decompressed_body_too_large` / `too_many_decisions` /
 * `decision_too_large`, 415 `unsupported_encoding`; a refused batch stores nothing.
 */
export function createDecisionLogsRouter(deps: DecisionLogsRouterDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const { limits } = deps;
  const now = deps.now ?? (() => new Date());
  let reading = 0;
  const receive: RequestHandler = async (req, res, next) => {
    const outcome: DecisionBatchOutcome = { code: 'accepted', events: 0, compressedBytes: 0, bytes: 0 };
    if (reading >= limits.maxConcurrentBatches) {
      res.set('Connection', 'close');
      outcome.code = 'decision_logs_busy';
      deps.onBatch?.(outcome);
      next(new UnavailableError('decision_logs_busy', `${limits.maxConcurrentBatches} decision batches are being read already (decisionLogs.maxConcurrentBatches); re-send shortly`, { retryAfterSeconds: 1 }));
      return;
    }
    reading++;
    try {
      const partition = parsePartition((req.params as { partition?: string[] }).partition, 'invalid_decision_batch');
      const body = await readCompressedBody(req, { maxBytes: limits.maxBodyBytes, maxDecompressedBytes: limits.maxDecompressedBytes });
      outcome.compressedBytes = body.compressedBytes;
      outcome.bytes = body.bytes.length;
      const records = parseDecisionBatch(parseJsonBody(body.bytes, limits.maxJsonDepth), { maxEvents: limits.maxEventsPerBatch }, {
        receivedAt: now().toISOString(), ...(partition === undefined ? {} : { partition }),
      });
      outcome.events = records.length;
      await deps.recorder.record(records);
      deps.onBatch?.(outcome);
      res.status(204).end();
    } catch (error) {
      outcome.code = isRegentError(error) ? error.code : 'internal_error';
      deps.onBatch?.(outcome);
      // A body refused before it was read whole: close the connection rather than read the rest.
      if (outcome.code === 'body_too_large') res.set('Connection', 'close');
      next(error);
    } finally {
      reading--;
    }
  };
  // Two routes, so requests are counted under the path they took.
  router.post('/logs', deps.authenticate, receive);
  router.post('/logs/*partition', deps.authenticate, receive);
  return router;
}

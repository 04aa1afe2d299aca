import type { IncomingMessage } from 'node:http';
import { Router, type RequestHandler } from 'express';
import { parseDecisionBatch } from '../../domain/decisions/decision-event.js';
import type { DecisionRecorder } from '../../domain/decisions/decision-log.js';
import { InputError, isRegentError, PayloadTooLargeError, UnavailableError } from '../../domain/errors.js';
import { parsePartition } from '../../domain/fleet/agent-status-report.js';
import { agentOf } from '../agents/agent-auth.js';
import { readCompressedBody, type CompressedBody } from '../body/gzip-body.js';
import { parseJsonBody } from '../body/json-text.js';

export interface DecisionLogsRouterDeps {
  recorder: DecisionRecorder;
  /** Who may send decisions (`agentReportAuth`, the same as `POST /status`): replaced as one piece. */
  authenticate: RequestHandler;
  limits: {
    maxBodyBytes: number;
    maxDecompressedBytes: number;
    maxEventsPerBatch: number;
    /** JSON values (and keys) in one inflated batch at most (413 `too_many_values`), counted before it is parsed. */
    maxValuesPerBatch: number;
    maxConcurrentBatches: number;
    /** Batches waiting for a slot at most (their bodies not read yet); more answer 503 `decision_logs_busy`. */
    maxQueuedBatches: number;
    /** How long a batch waits for a slot at most before 503 `decision_logs_busy`. */
    maxQueueWaitMs: number;
    maxJsonDepth: number;
    /** How long a batch that got a slot may take to send its body (408 `body_timeout`, connection closed). */
    bodyTimeoutMs: number;
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
 * and re-sends what was not acknowledged. At most `maxConcurrentBatches` bodies are read and stored at once,
 * each capped as sent and as inflated, so the memory a fleet (or anyone) can make Regent spend on batches
 * is bounded; the next `maxQueuedBatches` wait for a slot (their bodies unread, up to `maxQueueWaitMs`), and
 * beyond that a batch gets 503 `decision_logs_busy` with `Retry-After`. Batches stored at once share one
 * fsync (the store's group commit), so the slots are also what lets a busy fleet's batches be grouped. Refusals are problem documents: 400
 * `invalid_gzip` / `invalid_json` / `invalid_utf8` / `json_too_deep` / `invalid_decision_batch` (naming the event and
 * field), 413 `body_too_large` / `decompressed_body_too_large` / `too_many_values` / `too_many_decisions` /
 * `decision_too_large`, 415 `unsupported_encoding`, 408 `body_timeout` (a slot is held at most `bodyTimeoutMs` while
 * the body comes in); a refused batch stores nothing.
 */
export function createDecisionLogsRouter(deps: DecisionLogsRouterDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  const { limits } = deps;
  const now = deps.now ?? (() => new Date());
  const slots = new BatchSlots(limits.maxConcurrentBatches, limits.maxQueuedBatches, limits.maxQueueWaitMs);
  const valueLimit = { max: limits.maxValuesPerBatch, refuse: tooManyValues };
  /** Parses and checks a batch and hands it to the store; resolves once it is durable. */
  const storeBatch = (body: CompressedBody, context: { partition?: string; identity?: string }, outcome: DecisionBatchOutcome): Promise<void> => {
    outcome.compressedBytes = body.compressedBytes;
    outcome.bytes = body.bytes.length;
    const records = parseDecisionBatch(parseJsonBody(body.bytes, limits.maxJsonDepth, valueLimit), { maxEvents: limits.maxEventsPerBatch }, {
      receivedAt: now().toISOString(), ...context,
    });
    outcome.events = records.length;
    return deps.recorder.record(records);
  };
  const receive: RequestHandler = async (req, res, next) => {
    const outcome: DecisionBatchOutcome = { code: 'accepted', events: 0, compressedBytes: 0, bytes: 0 };
    const slot = await slots.acquire(req);
    if (slot === 'gone') {
      // The client went away while its batch waited: nothing to read, nobody to answer, no slot held.
      outcome.code = 'request_aborted';
      deps.onBatch?.(outcome);
      next(new InputError('request_aborted', 'the client went away before the body was read', { field: 'body' }));
      return;
    }
    if (slot === 'busy') {
      res.set('Connection', 'close');
      outcome.code = 'decision_logs_busy';
      deps.onBatch?.(outcome);
      next(new UnavailableError('decision_logs_busy', `${limits.maxConcurrentBatches} decision batches are being stored and ${limits.maxQueuedBatches} wait already (decisionLogs.maxConcurrentBatches, maxQueuedBatches); re-send shortly`, { retryAfterSeconds: 1 }));
      return;
    }
    try {
      const partition = parsePartition((req.params as { partition?: string[] }).partition, 'invalid_decision_batch');
      // Who sent it: the agent credential's name, when one was used (not for the fleet report token).
      const identity = agentOf(res)?.name;
      const context = { ...(partition === undefined ? {} : { partition }), ...(identity === undefined ? {} : { identity }) };
      // The inflated body and the parsed records live only inside storeBatch: what waits for the group
      // fsync is the store's encoded lines, so a batch's parse tree is garbage before the await.
      await readCompressedBody(req, { maxBytes: limits.maxBodyBytes, maxDecompressedBytes: limits.maxDecompressedBytes, timeoutMs: limits.bodyTimeoutMs })
        .then((body) => storeBatch(body, context, outcome));
      deps.onBatch?.(outcome);
      res.status(204).end();
    } catch (error) {
      outcome.code = isRegentError(error) ? error.code : 'internal_error';
      deps.onBatch?.(outcome);
      // A body refused before it was read whole (too large, or too slow): close the connection rather than read the rest.
      if (outcome.code === 'body_too_large' || outcome.code === 'body_timeout') res.set('Connection', 'close');
      next(error);
    } finally {
      slots.release();
    }
  };
  // Two routes, so requests are counted under the path they took.
  router.post('/logs', deps.authenticate, receive);
  router.post('/logs/*partition', deps.authenticate, receive);
  return router;
}

function tooManyValues(max: number): PayloadTooLargeError {
  return new PayloadTooLargeError('too_many_values', `the batch holds more than decisionLogs.maxValuesPerBatch (${max}) JSON values and keys; it was not parsed (send smaller batches: OPA's upload_size_limit_bytes)`, { field: 'body', limit: max });
}

/** What {@link BatchSlots.acquire} got: a slot, none (queue full or waited too long), or the client left while waiting. */
type SlotOutcome = 'granted' | 'busy' | 'gone';

/**
 * Slots for batches being read and stored, and a bounded, time-limited queue for them. A waiter whose
 * client goes away leaves the queue at once, so a departed client never takes a slot later.
 */
class BatchSlots {
  private busy = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly slots: number, private readonly maxQueued: number, private readonly maxWaitMs: number) {}

  acquire(req: IncomingMessage): Promise<SlotOutcome> {
    if (req.destroyed || req.readableAborted) return Promise.resolve('gone');
    if (this.busy < this.slots) {
      this.busy++;
      return Promise.resolve('granted');
    }
    if (this.waiting.length >= this.maxQueued) return Promise.resolve('busy');
    return new Promise((resolve) => {
      const leave = (outcome: SlotOutcome): void => {
        clearTimeout(timer);
        req.removeListener('close', onClose);
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve(outcome);
      };
      const grant = (): void => leave('granted');
      const onClose = (): void => leave('gone');
      const timer = setTimeout(() => leave('busy'), this.maxWaitMs);
      req.once('close', onClose);
      this.waiting.push(grant);
    });
  }

  /** Hands the slot to the longest waiting batch, or frees it. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy--;
  }
}

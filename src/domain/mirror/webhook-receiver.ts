import { AuthenticationError, PayloadTooLargeError, UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SyncTrigger } from './sync-scheduler.js';
import { bodyDigest, precheckWebhook, verifyWebhook, type WebhookHeaders } from './webhook-signature.js';

export interface WebhookReceiverOptions {
  /** The shared secret configured on the Git host. */
  secret: string;
  /** Asks for a sync (the only thing a webhook can do). */
  requestSync: (trigger: SyncTrigger) => void;
  logger: Logger;
  /** How long a delivery is remembered for de-duplication (ms). */
  dedupeTtlMs?: number;
  /** How many deliveries are remembered at most (oldest forgotten first). */
  dedupeMaxEntries?: number;
  /** Largest body taken (`remote.webhookMaxBodyBytes`); a larger declared length is refused before reading. */
  maxBodyBytes: number;
  /** Bodies read at once at most (`remote.webhookMaxConcurrentBodies`); beyond, `webhooks_busy`. */
  maxConcurrentBodies: number;
  /** Bodies read at once from one address at most, so a few slow senders cannot hold every slot. */
  maxConcurrentBodiesPerSource?: number;
  now?: () => number;
}

export type WebhookOutcome = { status: 'sync_requested' | 'duplicate'; provider: string; deliveryId?: string };

/**
 * Turns an authenticated webhook into a sync request, once per delivery: a delivery id or a body seen
 * within the TTL is a duplicate (GitHub and Gitea sign no timestamp, so remembering deliveries is what
 * stops a replay from doing anything but nothing). Counts what it saw for `/status`.
 */
export class WebhookReceiver {
  private readonly seen = new Map<string, number>();
  private readonly readingBySource = new Map<string, number>();
  /**
   * Deliveries accepted, duplicate, refused (signature missing or wrong), busy (refused while
   * `maxConcurrentBodies` bodies were being read) and too large; `reading` bodies now, `peakReading` the
   * most ever read at once (never above `maxConcurrentBodies`).
   */
  readonly counts = { accepted: 0, duplicate: 0, refused: 0, busy: 0, tooLarge: 0, reading: 0, peakReading: 0 };

  private constructor(private readonly options: WebhookReceiverOptions) {}

  static create(options: WebhookReceiverOptions): WebhookReceiver {
    return new WebhookReceiver(options);
  }

  /**
   * Before a delivery's body is read: refuses one that cannot be genuine (`AuthenticationError`, see
   * `precheckWebhook`), one whose declared length is over `maxBodyBytes` (`PayloadTooLargeError`
   * `body_too_large`), and one beyond the `maxConcurrentBodies` being read already (`UnavailableError`
   * `webhooks_busy`). So a flood of forged deliveries holds at most `maxConcurrentBodies` ×
   * `maxBodyBytes` of memory. Returns the function that frees the slot, to call once the body is done
   * with (calling it again does nothing).
   */
  admit(headers: WebhookHeaders, declaredLength: number | undefined, source = 'unknown'): () => void {
    try {
      precheckWebhook(headers, this.options.secret);
    } catch (error) {
      this.refuse(error);
      throw error;
    }
    if (declaredLength !== undefined && declaredLength > this.options.maxBodyBytes) {
      this.counts.tooLarge += 1;
      throw new PayloadTooLargeError('body_too_large', `the webhook body is ${declaredLength} bytes; at most ${this.options.maxBodyBytes} are taken (remote.webhookMaxBodyBytes)`, { field: 'Content-Length' });
    }
    const fromSource = this.readingBySource.get(source) ?? 0;
    const perSource = this.options.maxConcurrentBodiesPerSource ?? 2;
    if (this.counts.reading >= this.options.maxConcurrentBodies || fromSource >= perSource) {
      this.counts.busy += 1;
      const why = fromSource >= perSource ? `${perSource} webhook bodies from this address are being read already` : `${this.options.maxConcurrentBodies} webhook bodies are being read already`;
      throw new UnavailableError('webhooks_busy', `${why}; retry in a second (the scheduled sync catches up meanwhile)`, { retryAfterSeconds: 1 });
    }
    this.counts.reading += 1;
    this.readingBySource.set(source, fromSource + 1);
    this.counts.peakReading = Math.max(this.counts.peakReading, this.counts.reading);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.counts.reading -= 1;
      const left = (this.readingBySource.get(source) ?? 1) - 1;
      if (left <= 0) this.readingBySource.delete(source);
      else this.readingBySource.set(source, left);
    };
  }

  /** A body read past `maxBodyBytes` (its length was not declared). */
  noteTooLarge(): void {
    this.counts.tooLarge += 1;
  }

  /** `AuthenticationError` for a missing or bad signature (and no sync is requested). */
  receive(headers: WebhookHeaders, rawBody: Buffer): WebhookOutcome {
    let verified;
    try {
      verified = verifyWebhook(headers, rawBody, this.options.secret);
    } catch (error) {
      this.refuse(error);
      throw error;
    }
    const keys = [`body:${bodyDigest(rawBody)}`, ...(verified.deliveryId ? [`delivery:${verified.provider}:${verified.deliveryId.slice(0, 200)}`] : [])];
    const now = (this.options.now ?? Date.now)();
    this.expire(now);
    const duplicate = keys.some((key) => this.seen.has(key));
    for (const key of keys) {
      this.seen.delete(key);
      this.seen.set(key, now);
    }
    this.trim();
    if (duplicate) {
      this.counts.duplicate += 1;
      this.options.logger.info({ provider: verified.provider, deliveryId: verified.deliveryId }, 'duplicate webhook delivery ignored');
      return { status: 'duplicate', ...verified };
    }
    this.counts.accepted += 1;
    this.options.requestSync('webhook');
    this.options.logger.info({ provider: verified.provider, deliveryId: verified.deliveryId }, 'webhook accepted; sync requested');
    return { status: 'sync_requested', ...verified };
  }

  private refuse(error: unknown): void {
    if (!(error instanceof AuthenticationError)) return;
    this.counts.refused += 1;
    this.options.logger.warn({ reason: error.code, field: error.details.field }, 'webhook refused');
  }

  private expire(now: number): void {
    const ttl = this.options.dedupeTtlMs ?? 3_600_000;
    // Insertion order is age order (re-seen keys are moved to the end), so stop at the first young one.
    for (const [key, at] of this.seen) {
      if (now - at < ttl) break;
      this.seen.delete(key);
    }
  }

  private trim(): void {
    const max = this.options.dedupeMaxEntries ?? 10_000;
    for (const key of this.seen.keys()) {
      if (this.seen.size <= max) break;
      this.seen.delete(key);
    }
  }
}

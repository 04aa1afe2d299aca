import { AuthenticationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SyncTrigger } from './sync-scheduler.js';
import { bodyDigest, verifyWebhook, type WebhookHeaders } from './webhook-signature.js';

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
  readonly counts = { accepted: 0, duplicate: 0, refused: 0 };

  private constructor(private readonly options: WebhookReceiverOptions) {}

  static create(options: WebhookReceiverOptions): WebhookReceiver {
    return new WebhookReceiver(options);
  }

  /** `AuthenticationError` for a missing or bad signature (and no sync is requested). */
  receive(headers: WebhookHeaders, rawBody: Buffer): WebhookOutcome {
    let verified;
    try {
      verified = verifyWebhook(headers, rawBody, this.options.secret);
    } catch (error) {
      if (error instanceof AuthenticationError) {
        this.counts.refused += 1;
        this.options.logger.warn({ reason: error.code, field: error.details.field }, 'webhook refused');
      }
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

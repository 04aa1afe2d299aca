import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from '../errors.js';

export type WebhookProvider = 'github' | 'gitea' | 'gitlab';

/** Request headers, names lower-case (as node:http gives them). */
export type WebhookHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface VerifiedWebhook {
  provider: WebhookProvider;
  /** The provider's delivery id, when it sent one (it is not signed: only a de-duplication hint). */
  deliveryId?: string;
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * Authenticates a Git host's webhook, and nothing more: the payload is never parsed or trusted.
 *
 * - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`; delivery `X-GitHub-Delivery`.
 * - Gitea / Forgejo / Gogs: `X-Gitea-Signature` (or `X-Forgejo-Signature`, `X-Gogs-Signature`): the bare
 *   hex HMAC-SHA256 of the raw body; delivery `X-Gitea-Delivery` (or the Forgejo/Gogs one).
 * - GitLab: `X-Gitlab-Token` equals the secret; delivery `X-Gitlab-Event-UUID` (or `Idempotency-Key`).
 *
 * Comparisons are constant-time over equal-length digests (a GitLab token is compared through its
 * SHA-256, so its length leaks nothing either). `AuthenticationError` `webhook_signature_missing` when no
 * known signature header is present, `webhook_signature_invalid` when one is present but wrong or malformed.
 */
export function verifyWebhook(headers: WebhookHeaders, rawBody: Buffer, secret: string): VerifiedWebhook {
  const gitlab = header(headers, 'x-gitlab-token');
  if (gitlab !== undefined) {
    if (!safeEqual(sha256(Buffer.from(gitlab, 'utf8')), sha256(Buffer.from(secret, 'utf8')))) throw invalid('X-Gitlab-Token');
    return { provider: 'gitlab', deliveryId: header(headers, 'x-gitlab-event-uuid') ?? header(headers, 'idempotency-key') };
  }
  const github = header(headers, 'x-hub-signature-256');
  if (github !== undefined) {
    const hex = github.startsWith('sha256=') ? github.slice('sha256='.length) : undefined;
    checkHmac(hex, rawBody, secret, 'X-Hub-Signature-256');
    // Gitea also sends X-Hub-Signature-256 (and its own delivery header) for GitHub compatibility.
    const giteaDelivery = header(headers, 'x-gitea-delivery');
    return giteaDelivery !== undefined ? { provider: 'gitea', deliveryId: giteaDelivery } : { provider: 'github', deliveryId: header(headers, 'x-github-delivery') };
  }
  for (const name of ['gitea', 'forgejo', 'gogs']) {
    const signature = header(headers, `x-${name}-signature`);
    if (signature === undefined) continue;
    checkHmac(signature, rawBody, secret, `X-${name[0]!.toUpperCase()}${name.slice(1)}-Signature`);
    return { provider: 'gitea', deliveryId: header(headers, `x-${name}-delivery`) };
  }
  throw missing();
}

function missing(): AuthenticationError {
  return new AuthenticationError('webhook_signature_missing', 'the webhook carries no X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token header (hint: set the webhook secret on the Git host)', { field: 'X-Hub-Signature-256' });
}

/**
 * What can be checked before the body is read, so a delivery that cannot be genuine costs no memory:
 * a known signature header is present (`webhook_signature_missing`), an HMAC header is well-formed
 * (64 hex digits, `sha256=` for GitHub), and a GitLab token, which signs nothing, equals the secret
 * (`webhook_signature_invalid`). {@link verifyWebhook} still checks everything once the body is read.
 */
export function precheckWebhook(headers: WebhookHeaders, secret: string): WebhookProvider {
  const gitlab = header(headers, 'x-gitlab-token');
  if (gitlab !== undefined) {
    if (!safeEqual(sha256(Buffer.from(gitlab, 'utf8')), sha256(Buffer.from(secret, 'utf8')))) throw invalid('X-Gitlab-Token');
    return 'gitlab';
  }
  const github = header(headers, 'x-hub-signature-256');
  if (github !== undefined) {
    if (!github.startsWith('sha256=') || !SHA256_HEX.test(github.slice('sha256='.length))) throw invalid('X-Hub-Signature-256');
    return header(headers, 'x-gitea-delivery') !== undefined ? 'gitea' : 'github';
  }
  for (const name of ['gitea', 'forgejo', 'gogs']) {
    const signature = header(headers, `x-${name}-signature`);
    if (signature === undefined) continue;
    if (!SHA256_HEX.test(signature)) throw invalid(`X-${name[0]!.toUpperCase()}${name.slice(1)}-Signature`);
    return 'gitea';
  }
  throw missing();
}

/** SHA-256 of the raw body, hex: the de-duplication key of a delivery whose signature checked out. */
export function bodyDigest(rawBody: Buffer): string {
  return sha256(rawBody).toString('hex');
}

function checkHmac(hex: string | undefined, rawBody: Buffer, secret: string, field: string): void {
  if (hex === undefined || !SHA256_HEX.test(hex)) throw invalid(field);
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  if (!safeEqual(Buffer.from(hex, 'hex'), expected)) throw invalid(field);
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

function invalid(field: string): AuthenticationError {
  return new AuthenticationError('webhook_signature_invalid', `the webhook's ${field} does not match the configured secret`, { field });
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  const value = headers[name];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? undefined : one.trim();
}

import { createHmac } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { AuthenticationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { WebhookReceiver } from './webhook-receiver.js';
import { verifyWebhook } from './webhook-signature.js';

const SECRET = 'a-webhook-secret-of-some-length';
const BODY = Buffer.from('{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}');
const hmac = (body: Buffer, secret = SECRET): string => createHmac('sha256', secret).update(body).digest('hex');
const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quiet };

describe('verifyWebhook', () => {
  test.each([
    ['GitHub', { 'x-hub-signature-256': `sha256=${hmac(BODY)}`, 'x-github-delivery': 'd-1' }, { provider: 'github', deliveryId: 'd-1' }],
    ['Gitea (own header)', { 'x-gitea-signature': hmac(BODY), 'x-gitea-delivery': 'g-1' }, { provider: 'gitea', deliveryId: 'g-1' }],
    ['Gitea (GitHub-compatible header)', { 'x-hub-signature-256': `sha256=${hmac(BODY)}`, 'x-gitea-delivery': 'g-2' }, { provider: 'gitea', deliveryId: 'g-2' }],
    ['Forgejo', { 'x-forgejo-signature': hmac(BODY) }, { provider: 'gitea', deliveryId: undefined }],
    ['GitLab', { 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'l-1' }, { provider: 'gitlab', deliveryId: 'l-1' }],
  ])('accepts a correctly signed %s delivery', (_name, headers, expected) => {
    expect(verifyWebhook(headers, BODY, SECRET)).toEqual(expected);
  });

  test.each([
    ['no signature header', {}, 'webhook_signature_missing'],
    ['only the SHA-1 header', { 'x-hub-signature': `sha1=${createHmac('sha1', SECRET).update(BODY).digest('hex')}` }, 'webhook_signature_missing'],
    ['an HMAC with another secret', { 'x-hub-signature-256': `sha256=${hmac(BODY, 'another-secret-entirely')}` }, 'webhook_signature_invalid'],
    ['an HMAC over another body', { 'x-hub-signature-256': `sha256=${hmac(Buffer.from('{}'))}` }, 'webhook_signature_invalid'],
    ['a sha1= prefix in the SHA-256 header', { 'x-hub-signature-256': `sha1=${hmac(BODY)}` }, 'webhook_signature_invalid'],
    ['a signature of the wrong length', { 'x-hub-signature-256': `sha256=${hmac(BODY).slice(0, 40)}` }, 'webhook_signature_invalid'],
    ['a non-hex signature', { 'x-gitea-signature': 'z'.repeat(64) }, 'webhook_signature_invalid'],
    ['an empty signature', { 'x-gitea-signature': '' }, 'webhook_signature_invalid'],
    ['a wrong GitLab token', { 'x-gitlab-token': `${SECRET}x` }, 'webhook_signature_invalid'],
    ['a GitLab token that is a prefix of the secret', { 'x-gitlab-token': SECRET.slice(0, 5) }, 'webhook_signature_invalid'],
  ])('refuses %s', (_name, headers, code) => {
    expect(() => verifyWebhook(headers, BODY, SECRET)).toThrow(expect.objectContaining({ code }));
  });
});

describe('WebhookReceiver', () => {
  function receiver() {
    const syncs: string[] = [];
    let now = 1_000_000;
    const instance = WebhookReceiver.create({ secret: SECRET, requestSync: (trigger) => syncs.push(trigger), logger: quiet, dedupeTtlMs: 60_000, dedupeMaxEntries: 3, maxBodyBytes: 1000, maxConcurrentBodies: 2, now: () => now });
    return { instance, syncs, advance: (ms: number) => (now += ms) };
  }

  test('requests one sync per delivery; a replayed delivery id or body is a duplicate until the TTL passes', () => {
    const { instance, syncs, advance } = receiver();
    const headers = { 'x-hub-signature-256': `sha256=${hmac(BODY)}`, 'x-github-delivery': 'd-1' };
    expect(instance.receive(headers, BODY).status).toBe('sync_requested');
    expect(instance.receive(headers, BODY).status).toBe('duplicate');
    // The delivery id is not signed: the same signed body under a new id is still a replay.
    expect(instance.receive({ ...headers, 'x-github-delivery': 'd-2' }, BODY).status).toBe('duplicate');
    expect(syncs).toEqual(['webhook']);
    advance(61_000);
    expect(instance.receive(headers, BODY).status).toBe('sync_requested');
    expect(syncs).toHaveLength(2);
    expect(instance.counts).toMatchObject({ accepted: 2, duplicate: 2, refused: 0 });
  });

  test('refuses bad signatures without requesting a sync, and forgets the oldest deliveries beyond its bound', () => {
    const { instance, syncs } = receiver();
    expect(() => instance.receive({ 'x-hub-signature-256': 'sha256=00' }, BODY)).toThrow(AuthenticationError);
    expect(syncs).toEqual([]);
    expect(instance.counts.refused).toBe(1);
    const bodies = ['1', '2', '3', '4'].map((n) => Buffer.from(`{"n":${n}}`));
    for (const body of bodies) instance.receive({ 'x-gitea-signature': hmac(body) }, body);
    // Bound 3: the first body was forgotten, so it counts as new again.
    expect(instance.receive({ 'x-gitea-signature': hmac(bodies[0]!) }, bodies[0]!).status).toBe('sync_requested');
    expect(instance.receive({ 'x-gitea-signature': hmac(bodies[3]!) }, bodies[3]!).status).toBe('duplicate');
  });

  test('admits a body to be read only with a plausible signature, a length within the limit, and a free slot', () => {
    const { instance } = receiver();
    const signed = { 'x-hub-signature-256': `sha256=${hmac(BODY)}` };
    expect(() => instance.admit({}, 10)).toThrow(expect.objectContaining({ code: 'webhook_signature_missing' }));
    expect(() => instance.admit({ 'x-hub-signature-256': 'sha256=xyz' }, 10)).toThrow(expect.objectContaining({ code: 'webhook_signature_invalid' }));
    expect(() => instance.admit({ 'x-gitea-signature': hmac(BODY).toUpperCase().slice(1) }, 10)).toThrow(expect.objectContaining({ code: 'webhook_signature_invalid' }));
    expect(() => instance.admit({ 'x-gitlab-token': 'not-the-secret' }, 10)).toThrow(expect.objectContaining({ code: 'webhook_signature_invalid' }));
    expect(() => instance.admit(signed, 1001)).toThrow(expect.objectContaining({ code: 'body_too_large' }));
    const first = instance.admit(signed, 1000);
    const second = instance.admit({ 'x-gitlab-token': SECRET }, undefined);
    expect(() => instance.admit(signed, 10)).toThrow(expect.objectContaining({ code: 'webhooks_busy', details: { retryAfterSeconds: 1 } }));
    first();
    first();
    const third = instance.admit(signed, 10);
    expect(() => instance.admit(signed, 10)).toThrow(expect.objectContaining({ code: 'webhooks_busy' }));
    second();
    third();
    expect(instance.counts).toEqual({ accepted: 0, duplicate: 0, refused: 4, busy: 2, tooLarge: 1, reading: 0, peakReading: 2 });
  });
});

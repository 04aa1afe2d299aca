import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import type { PublishedRevision } from '../activation/bundle-publisher.js';
import type { BuiltBundle } from '../bundles/bundle-builder.js';
import { UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BundleSink, SinkBundle } from './bundle-sink.js';
import { DEFAULT_SET, SinkPublisher } from './sink-publisher.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** Every bundle of `revision` (40 hex of one character) with made-up bytes: what the catalog would hold. */
function revision(char: string, names: string[] = ['a', 'b']): PublishedRevision {
  const rev = char.repeat(40);
  const bundles = new Map(names.map((name) => {
    const tarball = Buffer.from(`${name}@${rev}`);
    const bundle = { name, revision: rev, tarball, etag: `"${createHash('sha256').update(tarball).digest('hex')}"` } as BuiltBundle;
    return [name, bundle];
  }));
  return { revision: rev, bundles, publishedAt: new Date() };
}

/**
 * A sink that records what it was given and can be told to fail or to hold a publish until released:
 * the publisher's ordering, retries and skipping are what is tested here; the real S3 and OCI sinks
 * are tested against real engines in test/integration/publish-*.test.ts.
 */
function recordingSink() {
  const sink = {
    name: 'mem', kind: 's3' as const, target: 'memory://',
    written: [] as string[],
    failing: undefined as Error | undefined,
    hold: undefined as Promise<void> | undefined,
    signals: [] as AbortSignal[],
    latestLocation: (path: string) => `memory://${path}`,
    async publish(bundle: SinkBundle, signal: AbortSignal) {
      sink.signals.push(signal);
      if (sink.hold) await sink.hold;
      if (signal.aborted) throw signal.reason;
      if (sink.failing) throw sink.failing;
      expect(bundle.sha256).toBe(createHash('sha256').update(bundle.bytes).digest('hex'));
      sink.written.push(`${bundle.path}@${bundle.revision[0]}`);
    },
  };
  return sink satisfies BundleSink;
}

function publisher(sink: BundleSink, options: { timeoutMs?: number } = {}): SinkPublisher {
  return SinkPublisher.create({ sink, retry: { initialMs: 20, maxMs: 40 }, timeoutMs: options.timeoutMs ?? 5000, logger: silent, random: () => 1 });
}

async function until(probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('SinkPublisher', () => {
  test('publishes every bundle of an activated revision in name order, then reports it published', async () => {
    const sink = recordingSink();
    const sinks = publisher(sink);
    expect(sinks.status()).toMatchObject({ name: 'mem', kind: 's3', lastPublished: null, pending: null, lastError: null, attempts: 0 });
    sinks.offer(DEFAULT_SET, revision('1', ['b', 'a']));
    expect(sinks.status().pending).toBe('1'.repeat(40));
    await sinks.idle();
    expect(sink.written).toEqual(['a@1', 'b@1']);
    expect(sinks.status()).toMatchObject({ lastPublished: { revision: '1'.repeat(40), bundles: ['a', 'b'] }, pending: null, pendingSince: null, lastError: null, attempts: 0, nextAttemptAt: null });
    expect(sinks.stats()).toMatchObject({ bundlesPublished: 2, bytesPublished: 2 * 42, failures: 0, pendingSets: 0, pendingSeconds: 0 });
  });

  test('a revision activated while another is being published supersedes it: the rest of the older one is skipped', async () => {
    const sink = recordingSink();
    let release!: () => void;
    sink.hold = new Promise((resolve) => (release = resolve));
    const sinks = publisher(sink);
    sinks.offer(DEFAULT_SET, revision('1'));
    await until(() => sink.signals.length === 1);
    sinks.offer(DEFAULT_SET, revision('2'));
    sinks.offer(DEFAULT_SET, revision('3'));
    sink.hold = undefined;
    release();
    await sinks.idle();
    // `a` of revision 1 was in flight and finished; its `b`, and revision 2, were never written.
    expect(sink.written).toEqual(['a@1', 'a@3', 'b@3']);
    expect(sinks.status().lastPublished?.revision).toBe('3'.repeat(40));
  });

  test('a failing sink is retried with backoff and shows why in its status; revisions activated meanwhile are skipped for the newest', async () => {
    const sink = recordingSink();
    sink.failing = new UnavailableError('sink_unavailable', 'connection refused');
    const sinks = publisher(sink);
    sinks.offer(DEFAULT_SET, revision('1'));
    await until(() => sinks.status().attempts >= 2);
    const failing = sinks.status();
    expect(failing).toMatchObject({ pending: '1'.repeat(40), lastPublished: null, lastError: { code: 'sink_unavailable', message: 'connection refused', bundle: 'a', revision: '1'.repeat(40) } });
    expect(failing.pendingSince).not.toBeNull();
    expect(sinks.stats().failures).toBeGreaterThanOrEqual(2);
    expect(sinks.stats().pendingSets).toBe(1);
    sinks.offer(DEFAULT_SET, revision('2'));
    sinks.offer(DEFAULT_SET, revision('3'));
    sink.failing = undefined;
    await until(() => sinks.status().lastPublished?.revision === '3'.repeat(40));
    expect(sink.written).toEqual(['a@3', 'b@3']);
    expect(sinks.status()).toMatchObject({ attempts: 0, lastError: null, pending: null, nextAttemptAt: null });
  });

  test('a retry resumes after the bundles of the same revision already written', async () => {
    const sink = recordingSink();
    const sinks = publisher(sink);
    const original = sink.publish;
    let calls = 0;
    sink.publish = async (bundle, signal) => {
      calls += 1;
      if (calls === 2) throw new Error('reset by peer');
      return original(bundle, signal);
    };
    sinks.offer(DEFAULT_SET, revision('1'));
    await until(() => sinks.status().lastPublished !== null);
    expect(sink.written).toEqual(['a@1', 'b@1']);
    expect(calls).toBe(3);
    expect(sinks.stats()).toMatchObject({ failures: 1, bundlesPublished: 2 });
  });

  test('environments are sets of their own, named in the paths and reported under environments', async () => {
    const sink = recordingSink();
    const sinks = publisher(sink);
    sinks.offer(DEFAULT_SET, revision('1', ['a']));
    sinks.offer('prod', revision('2', ['a']));
    await until(() => sink.written.length === 2);
    await sinks.idle();
    expect(sink.written).toEqual(['a@1', 'prod/a@2']);
    expect(sinks.status()).toMatchObject({ lastPublished: { revision: '1'.repeat(40) }, environments: { prod: { lastPublished: { revision: '2'.repeat(40), bundles: ['prod/a'] }, pending: null } } });
  });

  test('a set that keeps changing does not starve another: sets take turns', async () => {
    const sink = recordingSink();
    let release!: () => void;
    sink.hold = new Promise((resolve) => (release = resolve));
    const sinks = publisher(sink);
    sinks.offer(DEFAULT_SET, revision('1', ['a']));
    await until(() => sink.signals.length === 1);
    sinks.offer('prod', revision('2', ['a']));
    sinks.offer(DEFAULT_SET, revision('3', ['a']));
    sink.hold = undefined;
    release();
    await sinks.idle();
    // Revision 1 (in flight) was superseded by 3, and the default set went to the back: prod before 3.
    expect(sink.written).toEqual(['a@1', 'prod/a@2', 'a@3']);
  });

  test('a publish slower than timeoutMs is abandoned as sink_timeout and retried', async () => {
    const sink = recordingSink();
    sink.hold = new Promise(() => {});
    const sinks = publisher(sink, { timeoutMs: 50 });
    const original = sink.publish;
    sink.publish = (bundle, signal) => Promise.race([original(bundle, signal), new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))]);
    sinks.offer(DEFAULT_SET, revision('1'));
    await until(() => sinks.status().attempts >= 1);
    expect(sinks.status().lastError).toMatchObject({ code: 'sink_timeout', bundle: 'a' });
    sink.hold = undefined;
    await until(() => sinks.status().lastPublished !== null);
    sinks.stop();
  });

  test('stop abandons the publish in flight and retries nothing more', async () => {
    const sink = recordingSink();
    sink.hold = new Promise(() => {});
    const sinks = publisher(sink);
    const original = sink.publish;
    sink.publish = (bundle, signal) => Promise.race([original(bundle, signal), new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))]);
    sinks.offer(DEFAULT_SET, revision('1'));
    await until(() => sink.signals.length === 1);
    sinks.stop();
    await sinks.idle();
    expect(sink.signals[0]!.aborted).toBe(true);
    sinks.offer(DEFAULT_SET, revision('2'));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(sink.signals).toHaveLength(1);
    expect(sink.written).toEqual([]);
    expect(sinks.status().lastError).toBeNull();
  });
});

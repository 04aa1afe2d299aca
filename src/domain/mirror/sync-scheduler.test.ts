import { afterEach, describe, expect, test, vi } from 'vitest';
import type { Logger } from '../logger.js';
import { SyncScheduler } from './sync-scheduler.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quiet };

function deferredRuns() {
  const pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const run = () => new Promise<void>((resolve, reject) => {
    concurrent += 1;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    const done = (fn: () => void) => () => {
      concurrent -= 1;
      fn();
    };
    pending.push({ resolve: done(resolve), reject: (error) => done(() => reject(error))() });
  });
  return { run, pending, max: () => maxConcurrent };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

afterEach(() => {
  vi.useRealTimers();
});

describe('SyncScheduler', () => {
  test('runs at most one sync at a time, and coalesces every request made meanwhile into one queued sync', async () => {
    const runs = deferredRuns();
    const scheduler = SyncScheduler.create({ run: runs.run, backoffInitialMs: 1000, backoffMaxMs: 10_000, logger: quiet });
    scheduler.request('cron');
    for (let i = 0; i < 50; i++) scheduler.request('webhook');
    expect(runs.pending).toHaveLength(1);
    expect(scheduler.state()).toMatchObject({ running: true, queued: true, runs: 1 });
    runs.pending[0]!.resolve();
    await flush();
    expect(runs.pending).toHaveLength(2);
    runs.pending[1]!.resolve();
    await flush();
    expect(scheduler.state()).toMatchObject({ running: false, queued: false, runs: 2, requests: { cron: 1, webhook: 50 } });
    expect(runs.max()).toBe(1);
  });

  test('retries a failed sync with exponential backoff and jitter, capped, and resets after a success', async () => {
    vi.useFakeTimers();
    const runs = deferredRuns();
    const scheduler = SyncScheduler.create({ run: runs.run, backoffInitialMs: 1000, backoffMaxMs: 4000, logger: quiet, random: () => 0.999 });
    scheduler.request('cron');
    const delays: number[] = [];
    for (let failure = 1; failure <= 4; failure++) {
      runs.pending[failure - 1]!.reject(new Error('remote down'));
      await flush();
      const state = scheduler.state();
      expect(state.consecutiveFailures).toBe(failure);
      delays.push(state.nextRetryAt!.getTime() - Date.now());
      await vi.advanceTimersByTimeAsync(delays.at(-1)!);
      expect(runs.pending).toHaveLength(failure + 1);
    }
    expect(delays).toEqual([1000, 1999, 3998, 3998]);
    runs.pending[4]!.resolve();
    await flush();
    expect(scheduler.state()).toMatchObject({ consecutiveFailures: 0, nextRetryAt: undefined, requests: { retry: 4 } });
  });

  test('jitter keeps a retry between half and all of the backoff', async () => {
    vi.useFakeTimers();
    const runs = deferredRuns();
    const scheduler = SyncScheduler.create({ run: runs.run, backoffInitialMs: 1000, backoffMaxMs: 4000, logger: quiet, random: () => 0 });
    scheduler.request('cron');
    runs.pending[0]!.reject(new Error('remote down'));
    await flush();
    expect(scheduler.state().nextRetryAt!.getTime() - Date.now()).toBe(500);
    await scheduler.stop();
  });

  test('stop waits for the sync in flight and starts no more', async () => {
    const runs = deferredRuns();
    const scheduler = SyncScheduler.create({ run: runs.run, backoffInitialMs: 1000, backoffMaxMs: 10_000, logger: quiet });
    scheduler.request('cron');
    scheduler.request('webhook');
    const stopped = scheduler.stop();
    runs.pending[0]!.resolve();
    await stopped;
    scheduler.request('webhook');
    expect(runs.pending).toHaveLength(1);
  });

  test('requestAndWait waits for a run that started after the call, not for every run requested later', async () => {
    const runs = deferredRuns();
    const scheduler = SyncScheduler.create({ run: runs.run, backoffInitialMs: 1000, backoffMaxMs: 10_000, logger: quiet });
    scheduler.request('cron');
    let answered = false;
    const waiting = scheduler.requestAndWait('start').then(() => {
      answered = true;
    });
    runs.pending[0]!.resolve(); // the run in flight at the call: not enough
    await flush();
    expect(answered).toBe(false);
    expect(runs.pending).toHaveLength(2);
    scheduler.request('webhook'); // queued behind the run that answers the call
    runs.pending[1]!.resolve();
    await waiting;
    expect(answered).toBe(true);
    expect(scheduler.state()).toMatchObject({ running: true, runs: 3 });
    runs.pending[2]!.resolve();
    await flush();
  });
});

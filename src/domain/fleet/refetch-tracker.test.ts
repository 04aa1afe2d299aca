import { describe, expect, test } from 'vitest';
import { RefetchTracker } from './refetch-tracker.js';

function tracker(now: { ms: number }, maxClients = 100): RefetchTracker {
  return RefetchTracker.create({ initialHoldMs: 1000, maxHoldMs: 8000, maxClients, forgetAfterMs: 60_000, newConnectionWindowMs: 2000, now: () => now.ms });
}

describe('RefetchTracker', () => {
  test('never holds a first download, nor a download of a revision the client was not sent', () => {
    const now = { ms: 0 };
    const refetches = tracker(now);
    expect(refetches.holdFor('agent-1', 'rbac', '"x"', 1)).toBe(0);
    refetches.recordSent('agent-1', 'rbac', '"x"', 1);
    expect(refetches.holdFor('agent-1', 'rbac', '"y"', 1)).toBe(0);
    expect(refetches.holdFor('agent-1', 'datasets', '"x"', 1)).toBe(0);
    expect(refetches.holdFor('agent-2', 'rbac', '"x"', 1)).toBe(0);
    expect(refetches.stats()).toEqual({ held: 0, clients: 1, refetching: 0 });
  });

  test('holds a client asking again on the same connection for what it was just sent, doubling up to the cap', () => {
    const now = { ms: 0 };
    const refetches = tracker(now);
    const holds: number[] = [];
    refetches.recordSent('agent-1', 'rbac', '"x"', 7);
    for (let i = 0; i < 6; i++) {
      const hold = refetches.holdFor('agent-1', 'rbac', '"x"', 7);
      holds.push(hold);
      now.ms += hold;
      refetches.recordSent('agent-1', 'rbac', '"x"', 7);
    }
    expect(holds).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(refetches.stats()).toEqual({ held: 6, clients: 1, refetching: 1 });
  });

  test('on another connection, only the same stale ETag asked for again at once is a re-fetch', () => {
    const now = { ms: 0 };
    const refetches = tracker(now);
    const client = '10.0.0.1|Open Policy Agent/1.0.0';
    refetches.recordSent(client, 'rbac', '"x"', 1, '"w"');
    // Another state (no ETag: a fresh agent; or another old one): another agent, or the same one restarted.
    expect(refetches.holdFor(client, 'rbac', '"x"', 2, '')).toBe(0);
    expect(refetches.holdFor(client, 'rbac', '"x"', 2, '"v"')).toBe(0);
    // The same stale ETag, a moment later, on a new connection: an OPA that could not use what it got.
    now.ms = 50;
    expect(refetches.holdFor(client, 'rbac', '"x"', 2, '"w"')).toBe(1000);
    now.ms = 1050;
    refetches.recordSent(client, 'rbac', '"x"', 2, '"w"');
    now.ms = 1050 + 2001;
    expect(refetches.holdFor(client, 'rbac', '"x"', 3, '"w"')).toBe(0);
    expect(refetches.holdFor(client, 'rbac', '"x"', 2, '"w"')).toBe(2000);
  });

  test('a new revision starts over; a client that took the bundle is no longer counted as failing', () => {
    const now = { ms: 0 };
    const refetches = tracker(now);
    refetches.recordSent('a', 'rbac', '"x"', 1);
    expect(refetches.holdFor('a', 'rbac', '"x"', 1)).toBe(1000);
    refetches.recordSent('a', 'rbac', '"x"', 1);
    expect(refetches.holdFor('a', 'rbac', '"x"', 1)).toBe(2000);
    refetches.recordSent('a', 'rbac', '"y"', 1);
    expect(refetches.stats().refetching).toBe(0);
    expect(refetches.holdFor('a', 'rbac', '"y"', 1)).toBe(1000);
    refetches.recordSent('a', 'rbac', '"y"', 1);
    refetches.confirmed('a', 'rbac', '"y"');
    expect(refetches.stats().refetching).toBe(0);
  });

  test('forgets a client after a quiet while, and the oldest beyond its bound', () => {
    const now = { ms: 0 };
    const refetches = tracker(now, 2);
    refetches.recordSent('a', 'rbac', '"x"', 1);
    now.ms = 60_001;
    expect(refetches.holdFor('a', 'rbac', '"x"', 1)).toBe(0);
    for (const client of ['b', 'c', 'd']) refetches.recordSent(client, 'rbac', '"x"', 1);
    expect(refetches.stats().clients).toBe(2);
    expect(refetches.holdFor('b', 'rbac', '"x"', 1)).toBe(0);
    expect(refetches.holdFor('d', 'rbac', '"x"', 1)).toBe(1000);
  });
});

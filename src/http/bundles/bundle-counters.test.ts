import { describe, expect, test } from 'vitest';
import { BundleCounters } from './bundle-counters.js';

describe('BundleCounters', () => {
  test('a worker drains what it counted since its last report; the primary adds it up', () => {
    const worker = new BundleCounters();
    worker.count(304, 0);
    worker.count(304, 0);
    worker.count(200, 1500);
    worker.count(404, 90);
    const primary = new BundleCounters();
    primary.count(200, 100);
    primary.add(worker.drain());
    expect(primary).toMatchObject({ notModified: 2, ok: 2, bytesSent: 1600 });
    expect([...primary.others]).toEqual([[404, 1]]);
    // Drained: the next report carries only what came after.
    worker.count(404, 90);
    expect(worker.drain()).toEqual({ notModified: 0, ok: 0, bytesSent: 0, others: [[404, 1]] });
    expect(worker.drain()).toEqual({ notModified: 0, ok: 0, bytesSent: 0, others: [] });
  });
});

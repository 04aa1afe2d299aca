import { describe, expect, test } from 'vitest';
import { ConvergenceTracker } from './convergence-tracker.js';
import type { BundleConvergence } from './fleet-registry.js';

const R1 = 'a'.repeat(40);
const R2 = 'b'.repeat(40);
const published = new Date('2026-12-01T10:00:00Z');

function bundle(revision: string, agents: number, onServed: number, convergence?: BundleConvergence['convergence']): BundleConvergence {
  return { name: 'rbac', servedRevision: revision, agents, onServedRevision: onServed, withErrors: 0, revisions: {}, ...(convergence ? { convergence } : {}) };
}

describe('ConvergenceTracker', () => {
  test('freezes the 50/90/100% times as they are reached and reports convergence once', () => {
    let now = published.getTime() + 1000;
    const tracker = ConvergenceTracker.create({ stuckAfterMs: 60_000, now: () => now });
    const at = () => published;
    const none = () => [];
    expect(tracker.observe([bundle(R1, 4, 2, { p50Ms: 300 })], at, none)).toEqual([]);
    // A later, larger figure does not move the frozen 50% time.
    expect(tracker.observe([bundle(R1, 4, 3, { p50Ms: 320 })], at, none)).toEqual([]);
    now += 1000;
    const events = tracker.observe([bundle(R1, 4, 4, { p50Ms: 320, p90Ms: 900, p100Ms: 900 })], at, none);
    expect(events).toMatchObject([{ type: 'converged', convergence: { bundle: 'rbac', revision: R1, agents: 4, p50Ms: 300, p90Ms: 900, p100Ms: 900, state: 'converged' } }]);
    expect(tracker.observe([bundle(R1, 4, 4, { p50Ms: 320, p90Ms: 900, p100Ms: 900 })], at, none)).toEqual([]);
  });

  test('reports a revision stuck once, naming the agents behind; a new revision starts a new record', () => {
    let now = published.getTime();
    const tracker = ConvergenceTracker.create({ stuckAfterMs: 10_000, maxLaggards: 1, now: () => now });
    const laggards = () => [{ agentId: 'x', code: 'bundle_error', message: 'signature' }, { agentId: 'y' }];
    expect(tracker.observe([bundle(R1, 2, 1, { p50Ms: 100 })], () => published, laggards)).toEqual([]);
    now += 10_000;
    const [stuck] = tracker.observe([bundle(R1, 2, 1, { p50Ms: 100 })], () => published, laggards);
    expect(stuck).toMatchObject({ type: 'stuck', convergence: { state: 'stuck', p50Ms: 100 }, laggards: [{ agentId: 'x', code: 'bundle_error' }], moreLaggards: true });
    expect(tracker.observe([bundle(R1, 2, 1, { p50Ms: 100 })], () => published, laggards)).toEqual([]);
    // It may still converge, which is reported.
    expect(tracker.observe([bundle(R1, 2, 2, { p50Ms: 100, p90Ms: 20_000, p100Ms: 20_000 })], () => published, laggards)).toMatchObject([{ type: 'converged' }]);
    const next = new Date(now);
    tracker.observe([bundle(R2, 2, 0)], () => next, laggards);
    expect(tracker.list().map((entry) => [entry.revision, entry.state])).toEqual([[R2, 'converging'], [R1, 'converged']]);
  });

  test('restored records keep a revision\'s first publication, so a restart does not report it again', () => {
    const first = ConvergenceTracker.create({ stuckAfterMs: 60_000, now: () => published.getTime() + 5000 });
    first.observe([bundle(R1, 1, 1, { p50Ms: 200, p90Ms: 200, p100Ms: 200 })], () => published, () => []);
    const second = ConvergenceTracker.create({ stuckAfterMs: 60_000, now: () => published.getTime() + 60_000 });
    second.restore(JSON.parse(JSON.stringify(first.snapshot().entries)));
    expect(second.firstPublished('rbac', R1)).toEqual(published);
    expect(second.firstPublished('rbac', R2)).toBeUndefined();
    expect(second.observe([bundle(R1, 1, 1, { p50Ms: 0, p90Ms: 0, p100Ms: 0 })], () => new Date(), () => [])).toEqual([]);
  });
});

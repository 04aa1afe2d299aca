import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { silentLogger } from '../../test/helpers/git-repo.js';
import { opaPath } from '../../test/helpers/opa-path.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { isRegentError } from '../domain/errors.js';
import type { WorkPriority } from '../domain/work-priority.js';
import { OpaRunner, type OpaRunnerOptions } from './opa-runner.js';

/**
 * A stand-in for `opa` that logs `start <label>` when it starts and sleeps for its second argument
 * (`<label> <seconds>`), or writes a lot of output for `flood`.
 */
function sleeper(): { path: string; starts(): string[] } {
  const dir = tempDirForTest();
  const log = join(dir, 'log');
  const path = join(dir, 'opa');
  writeFileSync(path, `#!/bin/sh\necho "start $1" >> ${log}\nif [ "$1" = flood ]; then head -c 2000000 /dev/zero | tr '\\0' x; exit 0; fi\nexec sleep "$2"\n`);
  chmodSync(path, 0o755);
  writeFileSync(log, '');
  return { path, starts: () => readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => line.slice('start '.length)) };
}

function runner(path: string, overrides: Partial<OpaRunnerOptions> = {}): OpaRunner {
  return new OpaRunner({
    path,
    maxConcurrency: 2,
    maxQueued: 100,
    memoryLimitBytes: 1024 * 1024 * 1024,
    maxOutputBytes: 1024 * 1024,
    budgetsMs: { activation: 30_000, write: 30_000, interactive: 30_000, background: 30_000 },
    logger: silentLogger(),
    ...overrides,
  });
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; details?: Record<string, unknown> }> {
  try {
    await promise;
    return { code: 'resolved' };
  } catch (error) {
    return isRegentError(error) ? { code: error.code, details: error.details } : { code: `not a RegentError: ${(error as Error).message}` };
  }
}

describe('OpaRunner', () => {
  test('never runs more processes than its limit, and keeps the last slot from interactive and background work', async () => {
    const opa = sleeper();
    const run = runner(opa.path, { maxConcurrency: 3 });
    const jobs = ['a', 'b', 'c', 'd', 'e', 'f'].map((label, index) => run.run([label, '0.2'], { priority: index % 2 === 0 ? 'interactive' : 'background' }));
    const results = await Promise.all(jobs);
    expect(results.every((result) => result.exitCode === 0)).toBe(true);
    expect(run.stats().peakRunning).toBe(2);
    expect(run.stats().started).toBe(6);
  });

  test('an activation starts at once while evaluations fill their slots and wait in the queue', async () => {
    const opa = sleeper();
    const run = runner(opa.path, { maxConcurrency: 2 });
    const evaluations = [run.run(['eval-1', '1'], { priority: 'interactive' }), run.run(['eval-2', '0.1'], { priority: 'interactive' }), run.run(['eval-3', '0.1'], { priority: 'interactive' })];
    const activation = run.run(['gate', '0.1'], { priority: 'activation' });
    await Promise.all([activation, ...evaluations]);
    const starts = opa.starts();
    // eval-1 and the gate start together (their log lines may land in either order); eval-2 and eval-3
    // only once eval-1 is done, because the last slot is kept for activations and writes.
    expect(new Set(starts.slice(0, 2))).toEqual(new Set(['eval-1', 'gate']));
    expect(starts.slice(2)).toEqual(['eval-2', 'eval-3']);
  });

  test('queued work starts by priority, then in arrival order', async () => {
    const opa = sleeper();
    const run = runner(opa.path, { maxConcurrency: 1 });
    const first = run.run(['first', '0.5'], { priority: 'activation' });
    const order: Array<[string, WorkPriority]> = [['background-1', 'background'], ['interactive-1', 'interactive'], ['write-1', 'write'], ['background-2', 'background'], ['activation-1', 'activation'], ['write-2', 'write']];
    const rest = order.map(([label, priority]) => run.run([label, '0'], { priority }));
    await Promise.all([first, ...rest]);
    expect(opa.starts()).toEqual(['first', 'activation-1', 'write-1', 'write-2', 'interactive-1', 'background-1', 'background-2']);
  });

  test('refuses a request with opa_busy and a retry delay when the queue is full', async () => {
    const opa = sleeper();
    const run = runner(opa.path, { maxConcurrency: 2, maxQueued: 1 });
    const running = run.run(['slow', '0.5'], { priority: 'interactive' });
    const queued = run.run(['queued', '0'], { priority: 'interactive' });
    const refused = await codeOf(run.run(['refused', '0'], { priority: 'interactive' }));
    expect(refused.code).toBe('opa_busy');
    expect(refused.details).toMatchObject({ reason: 'queue_full' });
    expect(refused.details!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // Activations are never refused for a full queue.
    expect((await run.run(['gate', '0'], { priority: 'activation' })).exitCode).toBe(0);
    await Promise.all([running, queued]);
    expect(opa.starts()).not.toContain('refused');
    expect(run.stats().refusedBusy).toBe(1);
  });

  test('a request still queued when its budget runs out is refused, and never started', async () => {
    const opa = sleeper();
    const run = runner(opa.path, { maxConcurrency: 2, budgetsMs: { activation: 30_000, write: 30_000, interactive: 300, background: 30_000 } });
    const slow = run.run(['slow', '1'], { priority: 'write', budgetMs: 30_000 });
    const evaluation = run.run(['busy-1', '1'], { priority: 'interactive', budgetMs: 30_000 });
    const waiting = await codeOf(run.run(['starved', '0'], { priority: 'interactive' }));
    expect(waiting).toMatchObject({ code: 'opa_busy', details: { reason: 'budget_spent_waiting' } });
    await Promise.all([slow, evaluation]);
    expect(opa.starts()).not.toContain('starved');
  });

  test('kills a process at its wall-clock budget: opa_timeout', async () => {
    const opa = sleeper();
    const run = runner(opa.path);
    const result = await codeOf(run.run(['hang', '30'], { priority: 'interactive', budgetMs: 300 }));
    // The limit named is what was left of the budget when the process started (a queue wait comes off it).
    expect(result.code).toBe('opa_timeout');
    expect(result.details?.limit).toBeGreaterThan(200);
    expect(result.details?.limit).toBeLessThanOrEqual(300);
    expect(run.stats()).toMatchObject({ running: 0, killed: { timeout: 1 } });
  });

  test('kills a process that writes more output than is kept: opa_output_limit', async () => {
    const opa = sleeper();
    const run = runner(opa.path, { maxOutputBytes: 65_536 });
    expect((await codeOf(run.run(['flood', '0'], { priority: 'interactive' }))).code).toBe('opa_output_limit');
  });

  test('kills a real opa whose memory grows past the limit: opa_memory_limit', async () => {
    const dir = tempDirForTest();
    writeFileSync(join(dir, 'hungry.rego'), 'package hungry\n\nbig := [x | some x in numbers.range(1, 100000000)]\n');
    const run = runner(opaPath(), { memoryLimitBytes: 150 * 1024 * 1024 });
    const result = await codeOf(run.run(['eval', '--format', 'json', '-d', 'hungry.rego', 'count(data.hungry.big)'], { cwd: dir, priority: 'interactive', budgetMs: 60_000 }));
    expect(result.code).toBe('opa_memory_limit');
    expect(run.stats().killed.memory).toBe(1);
  });

  test('a binary that cannot start is opa_unavailable, not a result', async () => {
    const run = runner(join(tempDirForTest(), 'no-such-opa'));
    expect((await codeOf(run.run(['version'], { priority: 'activation' }))).code).toBe('opa_unavailable');
  });

  test('a request that spent its budget waiting for the slot is refused as busy (503, retry), not killed as a timeout (422)', async () => {
    const opa = sleeper();
    const run = runner(opa.path, { maxConcurrency: 1 });
    const [first, second] = await Promise.all([codeOf(run.run(['first', '0.7'], { priority: 'write', budgetMs: 1000 })), codeOf(run.run(['second', '0.7'], { priority: 'write', budgetMs: 1000 }))]);
    expect(first.code).toBe('resolved');
    expect(second).toMatchObject({ code: 'opa_busy', details: { reason: 'budget_spent_waiting' } });
  });
});

import { readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { adminClient, type AdminClient } from '../helpers/admin-client.js';
import { opaPath } from '../helpers/opa-path.js';
import { tempDirForTest } from '../helpers/temp-dir.js';
import { startTestRegent } from '../helpers/start-regent.js';

/**
 * The real OPA under a path of this test's own (a symbolic link), so its processes can be told from those
 * of other test files running OPA at the same time.
 */
function opaOfThisTest(): string {
  const path = join(tempDirForTest('regent-opa-link-'), 'opa');
  symlinkSync(opaPath(), path);
  return path;
}

/** `opa eval` processes started as `path` alive right now (every /proc entry whose command line says so). */
function liveOpaEvals(path: string): number {
  let count = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0] === path && argv[1] === 'eval') count++;
    } catch {
      // gone meanwhile
    }
  }
  return count;
}

/** Watches the live `opa eval` processes until stopped; returns the most seen at once. */
function watchLiveEvals(path: string): () => number {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, liveOpaEvals(path));
  }, 10);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

/** A CPU-bound rule: `hits` iterates n² pairs (n = 1500: about half a second in OPA, 40 MB). */
const SLOW = 'package rbac.slow\n\nr := numbers.range(1, input.n)\n\nhits := count([1 | some x in r; some y in r; x == y])\n';
const HUNGRY = 'package rbac.hungry\n\nbig := [x | some x in numbers.range(1, 100000000)]\n';

async function withPolicies(admin: AdminClient, files: Record<string, string>): Promise<string> {
  const head = ((await (await admin.get('/api/versions/head')).json()) as { revision: string }).revision;
  const response = await admin.post('/api/changes', { message: 'test policies', baseRevision: head, changes: Object.entries(files).map(([path, content]) => ({ op: 'put', path, content })) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { revision: string }).revision;
}

describe('every OPA run is bounded', () => {
  test('20 concurrent evaluations never run more opa processes than the limit allows, and each answers 200 or 503 opa_busy with Retry-After', async () => {
    const opa = opaOfThisTest();
    const regent = await startTestRegent({ config: { opa: { path: opa, maxConcurrency: 3, maxQueued: 6, evaluateTimeoutMs: 60_000 } } });
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    await withPolicies(admin, { 'rbac/slow.rego': SLOW });
    const stop = watchLiveEvals(opa);
    const answers = await Promise.all(Array.from({ length: 20 }, () => admin.post('/api/evaluate', { query: 'data.rbac.slow.hits', input: { n: 1500 } })));
    const peak = stop();
    const statuses = answers.map((answer) => answer.status);
    for (const answer of answers) {
      if (answer.status === 503) {
        expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(await answer.json()).toMatchObject({ code: 'opa_busy' });
      } else {
        expect(answer.status).toBe(200);
        expect(await answer.json()).toMatchObject({ result: 1500 });
      }
    }
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(2);
    // Evaluations leave one of the three slots to activations and writes.
    expect(peak).toBeLessThanOrEqual(2);
    const status = (await (await fetch(`${regent.url}/status`)).json()) as { opa: { peakRunning: number; maxConcurrency: number; running: number } };
    expect(status.opa).toMatchObject({ maxConcurrency: 3, running: 0 });
    expect(status.opa.peakRunning).toBeLessThanOrEqual(3);
  });

  test('an admin write is validated and activated while slow evaluations hold the other slots and queue', async () => {
    const regent = await startTestRegent({ config: { opa: { path: opaPath(), maxConcurrency: 2, maxQueued: 20, evaluateTimeoutMs: 120_000 } } });
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    const base = await withPolicies(admin, { 'rbac/slow.rego': SLOW });
    let evaluationsDone = 0;
    const evaluations = Array.from({ length: 6 }, () => admin.post('/api/evaluate', { query: 'data.rbac.slow.hits', input: { n: 2500 } }).then((answer) => {
      evaluationsDone++;
      return answer.status;
    }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const write = await admin.post('/api/changes', { message: 'during evaluations', baseRevision: base, changes: [{ op: 'put', path: 'rbac/extra.rego', content: 'package rbac.extra\n\nenabled := true\n' }] });
    expect(write.status).toBe(201);
    expect(await write.json()).toMatchObject({ activation: { state: 'active' } });
    // Six evaluations of ~2.5 s each run one at a time: the write did not wait for them.
    expect(evaluationsDone).toBeLessThan(6);
    expect(await Promise.all(evaluations)).toEqual([200, 200, 200, 200, 200, 200]);
  });

  test('an evaluation over its time budget answers 422 opa_timeout; over its memory limit 422 opa_memory_limit; the process is gone', async () => {
    const opa = opaOfThisTest();
    const regent = await startTestRegent({ config: { opa: { path: opa, evaluateTimeoutMs: 3000, memoryLimitMiB: 96 } } });
    const admin = adminClient(regent, { sub: 'eddie', role: 'admin' });
    await withPolicies(admin, { 'rbac/slow.rego': SLOW, 'rbac/hungry.rego': HUNGRY });
    const slow = await admin.post('/api/evaluate', { query: 'data.rbac.slow.hits', input: { n: 20_000 } });
    expect(slow.status).toBe(422);
    expect(await slow.json()).toMatchObject({ code: 'opa_timeout' });
    const hungry = await admin.post('/api/evaluate', { query: 'data.rbac.hungry.big' });
    expect(hungry.status).toBe(422);
    expect(await hungry.json()).toMatchObject({ code: 'opa_memory_limit' });
    expect(liveOpaEvals(opa)).toBe(0);
  });

  test('a validation whose tests outrun the gate budget answers 422 opa_timeout and commits nothing', async () => {
    const regent = await startTestRegent({ config: { opa: { path: opaPath(), timeoutMs: 2000 } } });
    const editor = adminClient(regent, { sub: 'eddie', role: 'admin' });
    const head = ((await (await editor.get('/api/versions/head')).json()) as { revision: string }).revision;
    const changes = [
      { op: 'put', path: 'rbac/slow.rego', content: SLOW },
      { op: 'put', path: 'rbac/slow_test.rego', content: 'package rbac.slow\n\ntest_slow if hits > 0 with input as {"n": 20000}\n' },
    ];
    const validated = await editor.post('/api/changes/validate', { baseRevision: head, changes });
    expect(validated.status).toBe(422);
    expect(await validated.json()).toMatchObject({ code: 'opa_timeout' });
    const write = await editor.post('/api/changes', { baseRevision: head, changes, message: 'slow tests' });
    expect(write.status).toBe(422);
    expect(((await (await editor.get('/api/versions/head')).json()) as { revision: string }).revision).toBe(head);
  });
});

describe('concurrent writers', () => {
  test('four writers from one base, ten rounds: each round one 201 and three 409 head_moved, never a 422', async () => {
    const regent = await startTestRegent();
    const writers = ['w1', 'w2', 'w3', 'w4'].map((sub) => adminClient(regent, { sub, role: 'admin' }));
    for (let round = 0; round < 10; round++) {
      const head = ((await (await writers[0]!.get('/api/versions/head')).json()) as { revision: string }).revision;
      const answers = await Promise.all(writers.map((writer, index) => writer.put(`/api/policies/rbac/w${index}.rego`, {
        content: `package rbac.w${index}\n\nround := ${round}\n`, message: `round ${round} by writer ${index}`, baseRevision: head,
      })));
      const statuses = answers.map((answer) => answer.status).sort();
      const bodies = await Promise.all(answers.map((answer) => answer.json() as Promise<{ code?: string }>));
      expect({ round, statuses }).toEqual({ round, statuses: [201, 409, 409, 409] });
      expect(bodies.filter((body) => body.code !== undefined).map((body) => body.code)).toEqual(['head_moved', 'head_moved', 'head_moved']);
    }
  });
});

import { describe, expect, test } from 'vitest';
import { UnavailableError } from '../errors.js';
import { MemoizedPolicyGate } from './memoized-policy-gate.js';
import type { GateInput, GateReport, PolicyGate } from './policy-gate.js';

/** A gate that counts its runs and fails (throws) when told to. */
function countingGate(options: { throwOnce?: boolean | Error } = {}): PolicyGate & { runs: number; throwNext: boolean | Error; cacheable: boolean; release?: () => void; hold?: Promise<void> } {
  const gate = {
    runs: 0,
    throwNext: options.throwOnce ?? (false as boolean | Error),
    cacheable: true,
    release: undefined as (() => void) | undefined,
    hold: undefined as Promise<void> | undefined,
    async check(input: GateInput): Promise<GateReport> {
      gate.runs++;
      if (gate.hold) await gate.hold;
      if (gate.throwNext) {
        const error = gate.throwNext instanceof Error ? gate.throwNext : new Error('opa timed out');
        gate.throwNext = false;
        throw error;
      }
      const ok = !input.files.some((file) => file.content.toString().includes('bad'));
      return { ok, problems: ok ? [] : [{ code: 'rego_parse_error', message: 'bad' }], tests: { passed: 1, failed: 0, errored: 0 }, durationMs: 5, cacheable: gate.cacheable };
    },
  };
  return gate;
}

const file = (path: string, content: string) => ({ path, content: Buffer.from(content) });

describe('MemoizedPolicyGate', () => {
  test('checks the same files once, whatever their order, and says the second verdict was remembered', async () => {
    const inner = countingGate();
    const gate = new MemoizedPolicyGate(inner);
    const first = await gate.check({ files: [file('a.rego', 'package a'), file('b/data.json', '{}')] });
    const second = await gate.check({ revision: 'f'.repeat(40), files: [file('b/data.json', '{}'), file('a.rego', 'package a')] });
    expect(inner.runs).toBe(1);
    expect(first.cached).toBeUndefined();
    expect(second).toMatchObject({ ok: true, cached: true });
  });

  test('a different content, or the same content under another path, is checked again', async () => {
    const inner = countingGate();
    const gate = new MemoizedPolicyGate(inner);
    await gate.check({ files: [file('a.rego', 'package a')] });
    const bad = await gate.check({ files: [file('a.rego', 'package a bad')] });
    await gate.check({ files: [file('c.rego', 'package a')] });
    expect(inner.runs).toBe(3);
    expect(bad.ok).toBe(false);
    expect((await gate.check({ files: [file('a.rego', 'package a bad')] })).ok).toBe(false);
    expect(inner.runs).toBe(3);
  });

  test('a check that could not run is not remembered', async () => {
    const inner = countingGate({ throwOnce: true });
    const gate = new MemoizedPolicyGate(inner);
    await expect(gate.check({ files: [file('a.rego', 'package a')] })).rejects.toThrow('opa timed out');
    expect((await gate.check({ files: [file('a.rego', 'package a')] })).ok).toBe(true);
    expect(inner.runs).toBe(2);
  });

  test('two identical checks in flight share one run; the memory is bounded', async () => {
    const inner = countingGate();
    const gate = new MemoizedPolicyGate(inner, 2);
    await Promise.all([gate.check({ files: [file('a.rego', '1')] }), gate.check({ files: [file('a.rego', '1')] })]);
    expect(inner.runs).toBe(1);
    await gate.check({ files: [file('a.rego', '2')] });
    await gate.check({ files: [file('a.rego', '3')] });
    await gate.check({ files: [file('a.rego', '1')] });
    expect(inner.runs).toBe(4);
  });

  test('a check that ran OPA and got no verdict drops every remembered verdict; opa_busy keeps them', async () => {
    const inner = countingGate();
    const gate = new MemoizedPolicyGate(inner);
    await gate.check({ files: [file('a.rego', 'package a')] });
    inner.throwNext = new UnavailableError('opa_busy', 'busy');
    await expect(gate.check({ files: [file('b.rego', 'package b')] })).rejects.toThrow('busy');
    expect((await gate.check({ files: [file('a.rego', 'package a')] })).cached).toBe(true);
    inner.throwNext = new UnavailableError('gate_unavailable', 'OPA gave no verdict');
    await expect(gate.check({ files: [file('b.rego', 'package b')] })).rejects.toThrow('no verdict');
    const again = await gate.check({ files: [file('a.rego', 'package a')] });
    expect(again.cached).toBeUndefined();
    expect(inner.runs).toBe(4);
  });

  test('a verdict that depends on the machine (cacheable: false) is not remembered', async () => {
    const inner = countingGate();
    inner.cacheable = false;
    const gate = new MemoizedPolicyGate(inner);
    await gate.check({ files: [file('a.rego', 'package a')] });
    await gate.check({ files: [file('a.rego', 'package a')] });
    expect(inner.runs).toBe(2);
  });

  test('an activation does not wait on the same check queued in the background: it runs its own', async () => {
    const inner = countingGate();
    let release!: () => void;
    inner.hold = new Promise((resolve) => (release = resolve));
    const gate = new MemoizedPolicyGate(inner);
    const background = gate.check({ files: [file('a.rego', '1')], priority: 'background' });
    const interactive = gate.check({ files: [file('a.rego', '1')], priority: 'interactive' });
    const background2 = gate.check({ files: [file('a.rego', '1')], priority: 'background' });
    expect(inner.runs).toBe(2);
    release();
    await Promise.all([background, interactive, background2]);
    expect(inner.runs).toBe(2);
  });
});

import { describe, expect, test } from 'vitest';
import { silentLogger } from '../../test/helpers/git-repo.js';
import { opaStandIn, type OpaStandInMode } from '../../test/helpers/opa-stand-in.js';
import { realOpaCli } from '../../test/helpers/opa-path.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { MemoizedPolicyGate } from '../domain/candidates/memoized-policy-gate.js';
import { isRegentError } from '../domain/errors.js';
import { writeRestrictedCapabilities } from './capabilities.js';
import { OpaPolicyGate } from './opa-policy-gate.js';

const file = (path: string, content: string) => ({ path, content: Buffer.from(content) });
const MODULE = file('app/policy.rego', 'package app\n\nallow if input.user == "root"\n');
const PASSING_TEST = file('app/policy_test.rego', 'package app\n\ntest_root if allow with input as {"user": "root"}\n');
const BROKEN = file('app/broken.rego', 'package app\n\nallow if {\n');

/** The gate over a stand-in in front of the real OPA, with short budgets. */
async function gateBehind(mode: OpaStandInMode) {
  const dir = tempDirForTest();
  const standIn = opaStandIn(mode);
  const logger = silentLogger();
  const opa = await realOpaCli(logger, { timeoutMs: 2000 }, standIn.path);
  const capabilitiesPath = await writeRestrictedCapabilities(opa, dir);
  return { standIn, opa, gate: OpaPolicyGate.create({ opa, capabilitiesPath, logger, workDir: dir }) };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return isRegentError(error) ? error.code : `not a RegentError: ${(error as Error).message}`;
  }
  return 'no error: the gate gave a verdict';
}

describe('the gate fails closed when OPA gives no verdict', () => {
  test.each<[OpaStandInMode, string]>([
    ['silent', 'gate_unavailable'],
    ['garbage', 'gate_unavailable'],
    ['garbage-exit-0', 'gate_unavailable'],
    ['empty-results', 'gate_unavailable'],
    ['check-passes', 'gate_unavailable'],
    ['crash', 'opa_unavailable'],
    ['hang', 'opa_timeout'],
  ])('an opa that answers %s throws %s for a good tree and for a broken one, never passing', async (mode, code) => {
    const { gate } = await gateBehind(mode);
    expect(await codeOf(gate.check({ files: [MODULE, PASSING_TEST] }))).toBe(code);
    expect(await codeOf(gate.check({ files: [MODULE, PASSING_TEST, BROKEN] }))).toBe(code);
  });

  test('an opa that leaves a test out of its results gives no verdict', async () => {
    const { gate } = await gateBehind('drop-tests');
    expect(await codeOf(gate.check({ files: [MODULE, PASSING_TEST] }))).toBe('gate_unavailable');
  });

  test('a tree without tests is judged through the canary: a silent opa is no verdict there either', async () => {
    const { gate } = await gateBehind('silent');
    expect(await codeOf(gate.check({ files: [MODULE] }))).toBe('gate_unavailable');
  });

  test('the same stand-in in real mode gives the real verdicts', async () => {
    const { gate } = await gateBehind('real');
    expect(await gate.check({ files: [MODULE, PASSING_TEST] })).toMatchObject({ ok: true, tests: { passed: 1, failed: 0, errored: 0 } });
    expect(await gate.check({ files: [MODULE] })).toMatchObject({ ok: true, tests: { passed: 0, failed: 0, errored: 0 } });
    const broken = await gate.check({ files: [MODULE, PASSING_TEST, BROKEN] });
    expect(broken.ok).toBe(false);
    expect(broken.problems[0]).toMatchObject({ code: 'rego_parse_error', file: 'app/broken.rego' });
  });

  test('no verdict is remembered: after OPA recovers the same tree is checked again and judged', async () => {
    const { gate, standIn } = await gateBehind('garbage');
    const memo = new MemoizedPolicyGate(gate);
    expect(await codeOf(memo.check({ files: [MODULE, PASSING_TEST, BROKEN] }))).toBe('gate_unavailable');
    expect(await codeOf(memo.check({ files: [MODULE, PASSING_TEST, BROKEN] }))).toBe('gate_unavailable');
    const testRunsWhileBroken = standIn.calls().filter((call) => call === 'test').length;
    expect(testRunsWhileBroken).toBe(2);
    standIn.setMode('real');
    const report = await memo.check({ files: [MODULE, PASSING_TEST, BROKEN] });
    expect(report.ok).toBe(false);
    expect(report.cached).toBeUndefined();
    expect(standIn.calls().filter((call) => call === 'test').length).toBe(3);
    // A real verdict is remembered: OPA is not asked again for the same tree.
    expect(await memo.check({ files: [MODULE, PASSING_TEST, BROKEN] })).toMatchObject({ ok: false, cached: true });
    expect(standIn.calls().filter((call) => call === 'test').length).toBe(3);
  });
});

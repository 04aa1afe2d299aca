import { describe, expect, test } from 'vitest';
import { silentLogger } from '../../test/helpers/git-repo.js';
import { realOpaCli } from '../../test/helpers/opa-path.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { OpaCapabilities, writeRestrictedCapabilities } from './capabilities.js';
import { OpaPolicyGate } from './opa-policy-gate.js';

/** The gate over the real, pinned OPA with Regent's restricted capabilities. */
async function realGate(): Promise<OpaPolicyGate> {
  const dir = tempDirForTest();
  const logger = silentLogger();
  const opa = await realOpaCli(logger);
  const capabilitiesPath = await writeRestrictedCapabilities(opa, dir);
  return OpaPolicyGate.create({ opa, capabilitiesPath, logger, workDir: dir });
}

/** The gate with every release's capabilities at hand, for checks against the fleet's oldest OPA. */
async function fleetGate(): Promise<OpaPolicyGate> {
  const dir = tempDirForTest();
  const logger = silentLogger();
  const opa = await realOpaCli(logger);
  const capabilities = await OpaCapabilities.create(opa, dir);
  return OpaPolicyGate.create({ opa, capabilitiesPath: capabilities.current.path, capabilities, logger, workDir: dir });
}

const file = (path: string, content: string) => ({ path, content: Buffer.from(content) });
const MODULE = file('app/policy.rego', 'package app\n\nallow if input.user == "root"\n');
const PASSING_TEST = file('app/policy_test.rego', 'package app\n\ntest_root if allow with input as {"user": "root"}\n');

describe('OpaPolicyGate with the real OPA', () => {
  test('passes a tree whose tests pass, counting them', async () => {
    const report = await (await realGate()).check({ files: [MODULE, PASSING_TEST] });
    expect(report).toMatchObject({ ok: true, problems: [], tests: { passed: 1, failed: 0, errored: 0 } });
  });

  test('reports a failing test with its file and line', async () => {
    const failing = file('app/policy_test.rego', 'package app\n\ntest_root if allow with input as {"user": "root"}\n\ntest_guest if allow with input as {"user": "guest"}\n');
    const report = await (await realGate()).check({ files: [MODULE, failing] });
    expect(report.ok).toBe(false);
    expect(report.tests).toEqual({ passed: 1, failed: 1, errored: 0 });
    expect(report.problems).toEqual([expect.objectContaining({ code: 'rego_test_failed', file: 'app/policy_test.rego', line: 5 })]);
  });

  test.each([
    ['with tests in the tree', [PASSING_TEST]],
    ['without tests', []],
  ])('refuses a forbidden built-in %s, with a structured error naming file and line', async (_name, extra) => {
    const leak = file('app/leak.rego', 'package app\n\nx := http.send({"method": "GET", "url": "http://example.test"})\n');
    const report = await (await realGate()).check({ files: [MODULE, leak, ...extra] });
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ code: 'rego_type_error', file: 'app/leak.rego', line: 3 });
    expect(report.problems[0]!.message).toContain('http.send is not allowed');
  });

  test('reports a parse error as OPA check does, even when tests are present', async () => {
    const broken = file('app/broken.rego', 'package app\n\nx := \n');
    const report = await (await realGate()).check({ files: [MODULE, PASSING_TEST, broken] });
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ code: 'rego_parse_error', file: 'app/broken.rego', line: 4 });
  });

  test('refuses a tree whose data does not load for the tests', async () => {
    const report = await (await realGate()).check({ files: [MODULE, PASSING_TEST, file('app/data.json', '{"a": ')] });
    expect(report.ok).toBe(false);
    expect(report.problems[0]!.code).toBe('rego_check_error');
    expect(report.problems[0]!.message).toContain('data.json');
  });

  test('against an older release (opaVersion), a built-in that release lacks is refused naming the built-in and the release', async () => {
    const gate = await fleetGate();
    const split = file('app/split.rego', 'package app\n\nparts := strings.split_n("a,b,c", ",", 2)\n');
    expect(await gate.check({ files: [MODULE, split] })).toMatchObject({ ok: true });
    const report = await gate.check({ files: [MODULE, split, PASSING_TEST], opaVersion: 'v1.0.0' });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({
      code: 'builtin_unavailable_on_fleet', builtin: 'strings.split_n', opaVersion: 'v1.0.0', file: 'app/split.rego', line: 3,
      message: 'built-in strings.split_n is not available on OPA v1.0.0',
    })]);
  });

  test('against an older release, a function no OPA knows and a forbidden built-in keep OPA\'s own findings', async () => {
    const gate = await fleetGate();
    const unknown = file('app/unknown.rego', 'package app\n\nx := strings.no_such_builtin("a")\n');
    const leak = file('app/leak.rego', 'package app\n\ny := http.send({"method": "GET", "url": "http://example.test"})\n');
    const report = await gate.check({ files: [MODULE, unknown, leak], opaVersion: 'v1.0.0' });
    expect(report.ok).toBe(false);
    expect(report.problems.map((problem) => problem.code)).toEqual(['rego_type_error', 'rego_type_error']);
    expect(report.problems.map((problem) => problem.message).join('\n')).toMatch(/undefined function strings.no_such_builtin[\s\S]*http.send is not allowed|http.send is not allowed[\s\S]*undefined function strings.no_such_builtin/);
  });
});

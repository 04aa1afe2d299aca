import { randomBytes } from 'node:crypto';
import type { GateInput, GateReport, PolicyGate } from '../domain/candidates/policy-gate.js';
import type { Logger } from '../domain/logger.js';
import type { OpaCli } from './opa-cli.js';
import { definedTests, noVerdict, readCheckErrors, readTestVerdict, type TestId } from './opa-verdicts.js';
import { withPolicyBundle } from './policy-bundle-file.js';

export interface OpaPolicyGateOptions {
  opa: OpaCli;
  capabilitiesPath: string;
  logger: Logger;
  /** Where candidate trees are written for OPA; a temp dir per check beneath it. */
  workDir?: string;
  /** Wall-clock budget of one check (queueing included), whoever waits for it; the runner's default otherwise. */
  budgetMs?: number;
}

const CANARY_PACKAGE = 'regent_gate_canary';
/** Outside every path a policy file may have (the store refuses dot-directories), so it never clashes. */
const CANARY_PATH = '.regent/gate_canary_test.rego';

/**
 * The gate backed by the real OPA binary: parse, compile, types and forbidden built-ins against the
 * restricted capabilities, and the `*_test.rego` tests (`opa test --capabilities`), over the candidate
 * tree packed as one bundle tarball in a private temp dir. When OPA cannot load or compile the tree,
 * `opa check` gives the same errors as structured file/row/column problems.
 *
 * Fails closed: every check carries a canary test with a random name that OPA must report as passed, and
 * every test the tree defines must be in OPA's results. An `opa` that exits 0 silently, prints garbage,
 * crashes or skips tests gives no verdict: the check throws `gate_unavailable` (or the runner's
 * `opa_busy` / `opa_timeout` / `opa_memory_limit`), which is never a pass and never remembered.
 */
export class OpaPolicyGate implements PolicyGate {
  private constructor(private readonly options: OpaPolicyGateOptions) {}

  static create(options: OpaPolicyGateOptions): OpaPolicyGate {
    return new OpaPolicyGate(options);
  }

  async check(input: GateInput): Promise<GateReport> {
    const started = performance.now();
    const priority = input.priority ?? 'activation';
    const canary: TestId = { package: `data.${CANARY_PACKAGE}`, name: `test_canary_${randomBytes(8).toString('hex')}` };
    const canaryFile = { path: CANARY_PATH, content: Buffer.from(`package ${CANARY_PACKAGE}\n\n${canary.name} if true\n`) };
    const expected = definedTests(input.files);
    return withPolicyBundle([...input.files, canaryFile], this.options.workDir, async (dir, bundle) => {
      const opaArgs = (command: 'test' | 'check'): string[] => [command, '--format', 'json', '--capabilities', this.options.capabilitiesPath, '--bundle', bundle];
      const budgetMs = this.options.budgetMs;
      const test = await this.options.opa.run(opaArgs('test'), { cwd: dir, priority, budgetMs });
      const verdict = readTestVerdict(test.exitCode, test.stdout, expected, canary);
      if (verdict) {
        return { ok: verdict.problems.length === 0, problems: verdict.problems, tests: verdict.tests, durationMs: Math.round(performance.now() - started), cacheable: verdict.cacheable };
      }
      // OPA could not load or compile the tree; its test runner says so in plain text, `opa check`
      // gives the same errors as JSON with file, row and column.
      const checked = await this.options.opa.run(opaArgs('check'), { cwd: dir, priority, budgetMs });
      const problems = readCheckErrors(checked.exitCode, checked.stdout, checked.stderr).filter((problem) => problem.file !== CANARY_PATH);
      if (problems.length === 0) throw noVerdict('check', "reported errors only in Regent's canary test");
      return { ok: false, problems, tests: { passed: 0, failed: 0, errored: 0 }, durationMs: Math.round(performance.now() - started), cacheable: true };
    });
  }
}

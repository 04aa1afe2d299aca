import { randomBytes } from 'node:crypto';
import { BUILTIN_UNAVAILABLE_ON_FLEET } from '../domain/activation/fleet-aware-policy-gate.js';
import type { GateInput, GateProblem, GateReport, PolicyGate } from '../domain/candidates/policy-gate.js';
import type { Logger } from '../domain/logger.js';
import type { OpaCapabilities, RestrictedCapabilities } from './capabilities.js';
import type { OpaCli } from './opa-cli.js';
import { definedTests, noVerdict, readCheckErrors, readTestVerdict, type TestId } from './opa-verdicts.js';
import { withPolicyBundle } from './policy-bundle-file.js';

export interface OpaPolicyGateOptions {
  opa: OpaCli;
  /** Regent's own restricted capabilities: what a candidate is checked against without `opaVersion`. */
  capabilitiesPath: string;
  /** Other releases' restricted capabilities, for candidates checked against the fleet's oldest OPA (`opaVersion`). */
  capabilities?: OpaCapabilities;
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
    // Refused before the tree is packed when OPA's queue is full: a flood costs no CPU or disk.
    this.options.opa.admit(priority);
    const target = input.opaVersion === undefined ? undefined : await this.capabilitiesOf(input.opaVersion);
    const capabilitiesPath = target?.path ?? this.options.capabilitiesPath;
    return withPolicyBundle([...input.files, canaryFile], this.options.workDir, async (dir, bundle) => {
      const opaArgs = (command: 'test' | 'check'): string[] => [command, '--format', 'json', '--capabilities', capabilitiesPath, '--bundle', bundle];
      const budgetMs = this.options.budgetMs;
      // OPA's own per-test limit (5 s by default) would cancel a slow test on a busy machine, a finding
      // that depends on the load; the whole run's budget is the limit instead.
      const perTest = budgetMs === undefined ? [] : ['--timeout', `${Math.max(1, Math.ceil(budgetMs / 1000))}s`];
      const test = await this.options.opa.run([...opaArgs('test'), ...perTest], { cwd: dir, priority, budgetMs });
      const verdict = readTestVerdict(test.exitCode, test.stdout, expected, canary);
      if (verdict) {
        return { ok: verdict.problems.length === 0, problems: verdict.problems, tests: verdict.tests, durationMs: Math.round(performance.now() - started), cacheable: verdict.cacheable };
      }
      // OPA could not load or compile the tree; its test runner says so in plain text, `opa check`
      // gives the same errors as JSON with file, row and column.
      const checked = await this.options.opa.run(opaArgs('check'), { cwd: dir, priority, budgetMs });
      const problems = readCheckErrors(checked.exitCode, checked.stdout, checked.stderr).filter((problem) => problem.file !== CANARY_PATH).map((problem) => this.onFleet(problem, target));
      if (problems.length === 0) throw noVerdict('check', "reported errors only in Regent's canary test");
      return { ok: false, problems, tests: { passed: 0, failed: 0, errored: 0 }, durationMs: Math.round(performance.now() - started), cacheable: true };
    });
  }

  private async capabilitiesOf(version: string): Promise<RestrictedCapabilities> {
    if (!this.options.capabilities) throw noVerdict('check', `no capabilities of other OPA releases were given to the gate (asked for ${version})`);
    try {
      return await this.options.capabilities.forVersion(version);
    } catch (error) {
      throw noVerdict('check', `cannot write the capabilities of OPA ${version}: ${(error as Error).message}`);
    }
  }

  /** OPA's "undefined function X" for a built-in Regent's OPA has and the target release lacks, said so. */
  private onFleet(problem: GateProblem, target: RestrictedCapabilities | undefined): GateProblem {
    if (!target?.version || problem.code !== 'rego_type_error') return problem;
    const builtin = UNDEFINED_FUNCTION.exec(problem.message)?.[1];
    if (!builtin || target.builtins.has(builtin) || !this.options.capabilities?.current.builtins.has(builtin)) return problem;
    return { ...problem, code: BUILTIN_UNAVAILABLE_ON_FLEET, message: `built-in ${builtin} is not available on OPA ${target.version}`, builtin, opaVersion: target.version };
  }
}

const UNDEFINED_FUNCTION = /^undefined function ([A-Za-z_][A-Za-z0-9_.]*)$/;

import type { GateInput, GateProblem, GateReport, PolicyGate } from '../domain/activation/policy-gate.js';
import type { Logger } from '../domain/logger.js';
import { FORBIDDEN_BUILTINS } from './capabilities.js';
import type { OpaCli } from './opa-cli.js';
import { withPolicyBundle } from './policy-bundle-file.js';

export interface OpaPolicyGateOptions {
  opa: OpaCli;
  capabilitiesPath: string;
  logger: Logger;
  /** Where candidate trees are written for OPA; a temp dir per check beneath it. */
  workDir?: string;
}

interface OpaError {
  message?: string;
  code?: string;
  location?: { file?: string; row?: number; col?: number };
}

interface OpaTestResult {
  location?: { file?: string; row?: number; col?: number };
  package?: string;
  name?: string;
  fail?: boolean;
  error?: { message?: string; code?: string } | string;
}

/**
 * The gate backed by the real OPA binary: parse, compile, types and forbidden built-ins against the
 * restricted capabilities, and the `*_test.rego` tests (`opa test --capabilities`, or `opa check` when
 * there are no tests), over the candidate tree packed as one bundle tarball in a private temp dir. OPA's findings come back as file/row/column problems.
 */
export class OpaPolicyGate implements PolicyGate {
  private constructor(private readonly options: OpaPolicyGateOptions) {}

  static create(options: OpaPolicyGateOptions): OpaPolicyGate {
    return new OpaPolicyGate(options);
  }

  async check(input: GateInput): Promise<GateReport> {
    const started = performance.now();
    return withPolicyBundle(input.files, this.options.workDir, async (dir, bundle) => {
      const problems: GateProblem[] = [];
      const tests = { passed: 0, failed: 0, errored: 0 };
      const check = () => this.options.opa.run(['check', '--format', 'json', '--capabilities', this.options.capabilitiesPath, '--bundle', bundle], { cwd: dir });
      const hasTests = input.files.some((file) => file.path.endsWith('_test.rego'));
      if (!hasTests) {
        const checked = await check();
        if (checked.exitCode !== 0) problems.push(...parseCheckErrors(checked.stderr || checked.stdout));
        return { ok: problems.length === 0, problems, tests, durationMs: Math.round(performance.now() - started) };
      }
      // One OPA run in the common case: `opa test` compiles every module against the same restricted
      // capabilities `opa check` uses, then runs the tests. Only when it cannot compile (its errors are
      // plain text) is `opa check` asked for the same errors as structured JSON.
      const test = await this.options.opa.run(['test', '--format', 'json', '--capabilities', this.options.capabilitiesPath, '--bundle', bundle], { cwd: dir });
      const results = parseTestResults(test.stdout);
      if (test.exitCode !== 0 && results.length === 0) {
        const checked = await check();
        problems.push(...(checked.exitCode !== 0 ? parseCheckErrors(checked.stderr || checked.stdout) : parseCheckErrors(test.stderr || test.stdout, 'rego_test_error')));
      }
      for (const result of results) {
        if (result.error) {
          tests.errored++;
          const message = typeof result.error === 'string' ? result.error : result.error.message ?? 'error';
          problems.push({ code: 'rego_test_error', message: `${result.package ?? ''}.${result.name ?? ''}: ${message}`, ...location(result.location) });
        } else if (result.fail) {
          tests.failed++;
          problems.push({ code: 'rego_test_failed', message: `test ${result.package ?? ''}.${result.name ?? ''} failed`, ...location(result.location) });
        } else {
          tests.passed++;
        }
      }
      return { ok: problems.length === 0, problems, tests, durationMs: Math.round(performance.now() - started) };
    });
  }
}

function location(loc: OpaError['location']): Pick<GateProblem, 'file' | 'line' | 'column'> {
  if (!loc) return {};
  return { file: loc.file?.replace(/^\.?\//, ''), line: loc.row, column: loc.col };
}

function parseCheckErrors(output: string, fallbackCode = 'rego_check_error'): GateProblem[] {
  try {
    const parsed = JSON.parse(output) as { errors?: OpaError[] };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      return parsed.errors.map((error) => ({
        code: error.code ?? fallbackCode,
        message: hint(error.message ?? 'error'),
        ...location(error.location),
      }));
    }
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return [{ code: fallbackCode, message: output.trim().slice(0, 2000) || 'opa reported an error without details' }];
}

function hint(message: string): string {
  const forbidden = FORBIDDEN_BUILTINS.find((name) => message === `undefined function ${name}`);
  return forbidden ? `${message} (hint: ${forbidden} is not allowed in policies served by Regent)` : message;
}

function parseTestResults(output: string): OpaTestResult[] {
  try {
    const parsed = JSON.parse(output) as unknown;
    return Array.isArray(parsed) ? (parsed as OpaTestResult[]) : [];
  } catch {
    return [];
  }
}

import type { GateInput, GateProblem, GateReport, PolicyGate } from '../domain/activation/policy-gate.js';
import type { Logger } from '../domain/logger.js';
import { FORBIDDEN_BUILTINS } from './capabilities.js';
import type { OpaCli } from './opa-cli.js';
import { withPolicyWorkspace } from './policy-workspace.js';

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
 * The gate backed by the real OPA binary: `opa check` against the restricted capabilities (parse,
 * compile, types, forbidden built-ins) and `opa test` for the `*_test.rego` files, both over the
 * candidate tree written to a private temp dir. OPA's findings come back as file/row/column problems.
 */
export class OpaPolicyGate implements PolicyGate {
  private constructor(private readonly options: OpaPolicyGateOptions) {}

  static create(options: OpaPolicyGateOptions): OpaPolicyGate {
    return new OpaPolicyGate(options);
  }

  async check(input: GateInput): Promise<GateReport> {
    const started = performance.now();
    return withPolicyWorkspace(input.files, this.options.workDir, async (dir) => {
      const hasTests = input.files.some((file) => file.path.endsWith('_test.rego'));
      const [check, test] = await Promise.all([
        this.options.opa.run(['check', '--format', 'json', '--capabilities', this.options.capabilitiesPath, '.'], { cwd: dir }),
        hasTests ? this.options.opa.run(['test', '--format', 'json', '.'], { cwd: dir }) : Promise.resolve(undefined),
      ]);
      const problems: GateProblem[] = [];
      if (check.exitCode !== 0) problems.push(...parseCheckErrors(check.stderr || check.stdout));
      const tests = { passed: 0, failed: 0, errored: 0 };
      if (test && problems.length === 0) {
        const results = parseTestResults(test.stdout);
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
        if (test.exitCode !== 0 && results.length === 0) {
          problems.push(...parseCheckErrors(test.stderr || test.stdout, 'rego_test_error'));
        }
      }
      return { ok: problems.length === 0, problems, tests, durationMs: Math.round(performance.now() - started) };
    });
  }
}

function location(loc: OpaError['location']): Pick<GateProblem, 'file' | 'line' | 'column'> {
  if (!loc) return {};
  return { file: loc.file?.replace(/^\.\//, ''), line: loc.row, column: loc.col };
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

import type { GateProblem } from '../domain/candidates/policy-gate.js';
import { regoPackagePath } from '../domain/bundles/rego-package.js';
import { UnavailableError } from '../domain/errors.js';
import { FORBIDDEN_BUILTINS } from './capabilities.js';

/**
 * Reading OPA's answers strictly. A verdict is only what real OPA writes when it judged the tree: a JSON
 * array of test results in which every test the tree defines (and Regent's canary test) appears, or a
 * JSON error document from `opa check` with at least one error. Anything else (no output, garbage, an
 * exit code that contradicts the output, a test missing from the results) is no verdict at all:
 * {@link noVerdict}, an infrastructure failure that is never a pass and never remembered.
 */

export interface TestId {
  /** `data.<package>` as OPA reports it. */
  package: string;
  name: string;
}

export interface TestVerdict {
  problems: GateProblem[];
  tests: { passed: number; failed: number; errored: number };
  /** False when a finding depends on the machine (a test cancelled at OPA's own time limit). */
  cacheable: boolean;
}

interface OpaLocation {
  file?: unknown;
  row?: unknown;
  col?: unknown;
}

interface OpaTestResult {
  location?: OpaLocation;
  package?: unknown;
  name?: unknown;
  fail?: unknown;
  skip?: unknown;
  error?: unknown;
}

export function noVerdict(command: string, why: string, output?: string): UnavailableError {
  const sample = output?.trim().slice(0, 200);
  return new UnavailableError('gate_unavailable', `OPA gave no verdict (opa ${command} ${why})${sample ? `: ${sample}` : ''}`, { reason: why, command, retryAfterSeconds: 5 });
}

/** The tests a tree defines: rule heads named `test_*` at the start of a line in `*_test.rego` files. */
export function definedTests(files: ReadonlyArray<{ path: string; content: Buffer }>): TestId[] {
  const tests: TestId[] = [];
  for (const file of files) {
    if (!file.path.endsWith('_test.rego')) continue;
    const source = file.content.toString('utf8');
    let pkg: string;
    try {
      pkg = `data.${regoPackagePath(source, file.path).join('.')}`;
    } catch {
      continue; // OPA will say what is wrong with the module.
    }
    for (const name of testRuleHeads(source)) tests.push({ package: pkg, name });
  }
  return tests;
}

/**
 * Names of rules starting with `test_` at the start of a line, read lexically: text inside strings
 * (`"..."`, and raw strings in backquotes, which may span lines) and comments is skipped, so a line of
 * a raw string that happens to start with `test_` is not taken for a test.
 */
export function testRuleHeads(source: string): string[] {
  const names: string[] = [];
  let inRaw = false;
  let lineStart = true;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (inRaw) {
      if (ch === '`') inRaw = false;
      else if (ch === '\n') lineStart = true;
      continue;
    }
    if (lineStart) {
      lineStart = false;
      const head = /^test_[A-Za-z0-9_]*/.exec(source.slice(i, i + 200));
      if (head) names.push(head[0]);
    }
    if (ch === '\n') {
      lineStart = true;
    } else if (ch === '#') {
      const end = source.indexOf('\n', i);
      i = (end < 0 ? source.length : end) - 1;
    } else if (ch === '"') {
      for (i++; i < source.length && source[i] !== '"' && source[i] !== '\n'; i++) if (source[i] === '\\') i++;
      if (source[i] === '\n') i--;
    } else if (ch === '`') {
      inRaw = true;
    }
  }
  return names;
}

/**
 * `opa test --format json`: a verdict when the output is an array of well-formed results, the exit code
 * agrees with them (0 when all passed, non-zero otherwise), and every expected test is among them.
 * Returns undefined when OPA could not load or compile the tree (non-zero exit, output not JSON): the
 * caller then asks `opa check` for the structured errors. Throws {@link noVerdict} otherwise.
 */
export function readTestVerdict(exitCode: number, stdout: string, expected: readonly TestId[], canary: TestId): TestVerdict | undefined {
  const parsed = parseJson(stdout);
  if (parsed === undefined) {
    if (exitCode === 0) throw noVerdict('test', 'exited 0 without JSON results', stdout);
    return undefined;
  }
  if (!Array.isArray(parsed)) throw noVerdict('test', 'wrote JSON that is not a list of test results', stdout);
  const results = parsed as OpaTestResult[];
  const reported = new Set<string>();
  const problems: GateProblem[] = [];
  const tests = { passed: 0, failed: 0, errored: 0 };
  let cacheable = true;
  let canaryPassed = false;
  for (const result of results) {
    if (!isRecord(result) || typeof result.package !== 'string' || typeof result.name !== 'string') {
      throw noVerdict('test', 'wrote a test result without a package and name', stdout);
    }
    const name = result.name.replace(/#\d+$/, '');
    reported.add(`${result.package}\0${name}`);
    if (result.package === canary.package && name === canary.name) {
      canaryPassed = !result.fail && result.error === undefined && !result.skip;
      continue;
    }
    if (result.skip === true) continue;
    if (result.error !== undefined) {
      tests.errored++;
      const message = typeof result.error === 'string' ? result.error : isRecord(result.error) && typeof result.error.message === 'string' ? result.error.message : 'error';
      const code = isRecord(result.error) && typeof result.error.code === 'string' ? result.error.code : undefined;
      if (code === 'eval_cancel_error' || /timed out|cancel|deadline exceeded/i.test(message)) cacheable = false;
      problems.push({ code: 'rego_test_error', message: `${result.package.replace(/^data\./, '')}.${result.name}: ${message}`, ...location(isRecord(result.location) ? result.location : undefined) });
    } else if (result.fail === true) {
      tests.failed++;
      problems.push({ code: 'rego_test_failed', message: `test ${result.package.replace(/^data\./, '')}.${result.name} failed`, ...location(isRecord(result.location) ? result.location : undefined) });
    } else {
      tests.passed++;
    }
  }
  if (!canaryPassed) throw noVerdict('test', "did not report Regent's canary test as passed", stdout);
  const missing = expected.find((test) => !reported.has(`${test.package}\0${test.name}`));
  if (missing) throw noVerdict('test', `did not report test ${missing.package.replace(/^data\./, '')}.${missing.name}`, stdout);
  if ((exitCode === 0) !== (problems.length === 0)) throw noVerdict('test', `exited ${exitCode} with ${problems.length} failing tests`, stdout);
  return { problems, tests, cacheable };
}

/**
 * `opa check --format json` after `opa test` could not load or compile the tree: a verdict only when it
 * also fails and writes OPA's error document, `{"errors": [{"message": ..., "code"?, "location"?}]}`.
 */
export function readCheckErrors(exitCode: number, stdout: string, stderr: string): GateProblem[] {
  if (exitCode === 0) throw noVerdict('check', 'passed a tree opa test could not load', stderr || stdout);
  const parsed = parseJson(stdout) ?? parseJson(stderr);
  const errors = isRecord(parsed) ? parsed.errors : undefined;
  if (!Array.isArray(errors) || errors.length === 0) throw noVerdict('check', `exited ${exitCode} without an error document`, stderr || stdout);
  return errors.map((error: unknown) => {
    if (!isRecord(error) || typeof error.message !== 'string') throw noVerdict('check', 'wrote an error without a message', stderr || stdout);
    return {
      code: typeof error.code === 'string' ? error.code : 'rego_check_error',
      message: hint(error.message),
      ...location(isRecord(error.location) ? error.location : undefined),
    };
  });
}

function hint(message: string): string {
  const forbidden = FORBIDDEN_BUILTINS.find((name) => message === `undefined function ${name}`);
  return forbidden ? `${message} (hint: ${forbidden} is not allowed in policies served by Regent)` : message;
}

function location(loc: OpaLocation | undefined): Pick<GateProblem, 'file' | 'line' | 'column'> {
  if (!loc) return {};
  return {
    ...(typeof loc.file === 'string' ? { file: loc.file.replace(/^\.?\//, '') } : {}),
    ...(typeof loc.row === 'number' ? { line: loc.row } : {}),
    ...(typeof loc.col === 'number' ? { column: loc.col } : {}),
  };
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

import { InputError, isRegentError } from '../domain/errors.js';
import { redactUrls } from '../domain/redact-urls.js';
import { CommandFailure } from './cli-io.js';
import { RegentApiError, RegentUnreachableError, type ProblemDocument } from './regent-client.js';
import { UsageError } from './usage-error.js';

/** Exit codes of `regent`: scripts can tell a refusal from a mistake in the command line. */
export const EXIT = {
  ok: 0,
  /** The command ran and the answer is no, or the server refused (a problem document), or it is unreachable. */
  failure: 1,
  /** A usage or configuration mistake: fix the command line or the config. */
  usage: 2,
} as const;

/** A finding as the gate reports it (`problems[]` of `validation_failed`, `gate_failed`). */
interface Finding {
  code?: string;
  message?: string;
  file?: string;
  line?: number;
  column?: number;
}

const SHOWN_ELSEWHERE = new Set(['type', 'title', 'status', 'code', 'detail', 'problems', 'instance']);

/** `file:line:column code: message`, one line. */
export function formatFinding(finding: Finding): string {
  const where = [finding.file, finding.line, finding.column].filter((part) => part !== undefined && part !== '').join(':');
  return `${where ? `${where} ` : ''}${finding.code ?? 'problem'}: ${finding.message ?? ''}`.trim();
}

/**
 * A problem document for people: `<status> <code>: <detail>`, then each finding and each extension field
 * (`field`, `head`, `file`, ...) on its own line.
 */
export function formatProblem(problem: ProblemDocument): string {
  const lines = [`${problem.status} ${problem.code}: ${problem.detail ?? problem.title ?? ''}`.trimEnd()];
  const findings = Array.isArray(problem.problems) ? (problem.problems as Finding[]) : [];
  for (const finding of findings) lines.push(`  ${formatFinding(finding)}`);
  for (const [key, value] of Object.entries(problem)) {
    if (SHOWN_ELSEWHERE.has(key) || value === undefined || value === null) continue;
    lines.push(`  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  return lines.join('\n');
}

/** What to print on stderr for an error a command threw, and the exit code. */
export function reportError(error: unknown, command: string | undefined): { text: string; exitCode: number } {
  if (error instanceof UsageError) {
    return { text: `regent: ${error.message}\n(see: regent ${command ?? ''} --help)\n`.replace('regent  --help', 'regent --help'), exitCode: EXIT.usage };
  }
  if (error instanceof CommandFailure) return { text: `regent: ${error.message}\n`, exitCode: error.exitCode };
  if (error instanceof RegentApiError) return { text: `regent: ${error.method} ${error.path} refused: ${formatProblem(error.problem)}\n`, exitCode: EXIT.failure };
  if (error instanceof RegentUnreachableError) return { text: `regent: ${error.message}\n`, exitCode: EXIT.failure };
  if (isRegentError(error)) {
    // An InputError is a mistake in what the command was given (flags, config, keys): exit 2.
    return { text: `regent: ${redactUrls(error.message)} [${error.code}]\n`, exitCode: error instanceof InputError ? EXIT.usage : EXIT.failure };
  }
  return { text: `regent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`, exitCode: EXIT.failure };
}

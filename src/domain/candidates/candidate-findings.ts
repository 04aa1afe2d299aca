import type { GateProblem } from './policy-gate.js';
import { BuildError } from '../errors.js';

/** The bundle builder's refusal as a finding: its code, message, file, line and column. */
export function builderProblem(error: BuildError): GateProblem {
  const { file, line, column } = error.details;
  return { code: error.code, message: error.message, file, line, column };
}

/**
 * The findings of one candidate check (the bundle builder and real OPA ran on the same tree), root
 * cause first. The builder's refusal comes first: it names the file and the reason (bad JSON, a package
 * outside its directory, a symlink, an empty bundle), where OPA often reports only the consequence (a
 * data file it cannot load, tests that no longer compile or that fail because a rule moved to another
 * package). OPA's own findings follow in its order. Used wherever a tree is checked (activation, API
 * validation), so a pushed revision and an API write report the same first problem.
 */
export function rankFindings(builderRefusal: BuildError | undefined, gateProblems: readonly GateProblem[]): GateProblem[] {
  return [...(builderRefusal ? [builderProblem(builderRefusal)] : []), ...gateProblems];
}

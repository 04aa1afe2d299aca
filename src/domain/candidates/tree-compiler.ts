import type { GateProblem } from './policy-gate.js';

/** A Rego module a compile step generated from a source file of the tree. */
export interface GeneratedModule {
  /** Where it sits in the compiled tree, and so in the bundle (`a/b/c.policy.rego` for `a/b/c.policy.yaml`). */
  path: string;
  content: Buffer;
  /** The repository file it was compiled from. */
  source: string;
  /** Where the source names the module's package, for problems about the package (absent when derived from the path). */
  packageAt?: { line: number; column: number };
}

/** What a compile step made of one source file: its module, or the problems that stop it (file, line, column). */
export interface CompileOutcome {
  module?: GeneratedModule;
  problems: GateProblem[];
}

/**
 * A compile step: turns files people write instead of Rego (declarative role specs) into modules before
 * real OPA and the bundle builder see the tree, so both judge, and the bundle ships, exactly the
 * generated modules. Pure and deterministic: the same source gives the same bytes on every replica.
 */
export interface TreeCompiler {
  /** True for the repository paths this step compiles. */
  accepts(path: string): boolean;
  compile(path: string, content: Buffer): CompileOutcome;
}

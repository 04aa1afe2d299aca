import type { BlobReader, BundleBuilder, CheckedTree } from '../bundles/bundle-builder.js';
import { BuildError, UnavailableError } from '../errors.js';
import type { Revision, TreeEntry } from '../store/policy-store.js';
import type { WorkPriority } from '../work-priority.js';
import { rankFindings } from './candidate-findings.js';
import { compileTree, type CompiledTree } from './compiled-tree.js';
import type { GateProblem, GateReport, PolicyGate } from './policy-gate.js';
import type { GeneratedModule, TreeCompiler } from './tree-compiler.js';

export interface CandidateCheckInput {
  /** The candidate tree: a revision's, or one a change would produce. */
  entries: readonly TreeEntry[];
  readBlobs: BlobReader;
  /** Who waits for the verdict: orders the OPA work. */
  priority: WorkPriority;
  /** The revision being checked, when there is one (for OPA's logs). */
  revision?: Revision;
}

/** The step of a check that refused the tree. */
export type CheckStep = 'compile' | 'build' | 'gate';

export interface CandidateReport {
  ok: boolean;
  /** Every finding, root cause first: compile problems; else the builder's refusal, then OPA's findings. */
  problems: GateProblem[];
  tests: GateReport['tests'];
  /** The bundles the tree declares (when the builder's check passed). */
  bundles: string[];
  /** The modules the compile steps generated, and the source of each. */
  generated: Array<{ path: string; source: string }>;
  /** When refused: the step, and for `compile` and `build` the first finding as the error to report. */
  refusal?: { step: CheckStep; error?: BuildError };
  /** When ok: the checked bundles, for {@link BundleBuilder.package}. */
  checked?: CheckedTree;
  /** OPA's part: how long it took, and whether the verdict was remembered from an earlier check. */
  gate?: { durationMs: number; cached: boolean };
  timings: { readMs: number; checkMs: number };
}

/**
 * The check reached no verdict: `step` failed for a reason outside the tree (a blob could not be read,
 * OPA gave no verdict, the builder failed unexpectedly). Never a pass; `reason` is the original error.
 */
export class CandidateCheckUnavailable extends Error {
  constructor(readonly step: 'snapshot' | 'gate' | 'build', readonly reason: unknown) {
    super(`candidate check: ${step} gave no verdict: ${(reason as Error)?.message ?? String(reason)}`, { cause: reason });
  }
}

/**
 * The one check every candidate tree goes through, whether it is a new head to activate, an admin write,
 * a change request or a promotion: read the policy files, run the compile steps (specs become modules),
 * then real OPA (compile against the restricted capabilities, Rego tests) beside the bundle builder's
 * check (definitions, kinds, limits, packages, data, roots, empty bundles), and rank what they found.
 *
 * Fails closed: a compile problem or a builder refusal is a verdict by itself (deterministic for the
 * tree); otherwise only OPA's verdict decides, and when OPA gives none the check throws
 * {@link CandidateCheckUnavailable}, which no caller takes for a pass. Signs and packs nothing: the
 * activation packages only what passed ({@link BundleBuilder.package}).
 */
export class CandidateCheck {
  private constructor(private readonly gate: PolicyGate, private readonly builder: BundleBuilder, private readonly compilers: readonly TreeCompiler[]) {}

  static create(options: { gate: PolicyGate; builder: BundleBuilder; compilers?: readonly TreeCompiler[] }): CandidateCheck {
    return new CandidateCheck(options.gate, options.builder, options.compilers ?? []);
  }

  /** The tree with its compile steps run (what evaluation and impact analysis run OPA on). */
  async compile(entries: readonly TreeEntry[], readBlobs: BlobReader): Promise<CompiledTree> {
    return compileTree(entries, readBlobs, this.compilers);
  }

  async check(input: CandidateCheckInput): Promise<CandidateReport> {
    const started = performance.now();
    let tree: CompiledTree;
    try {
      tree = await this.compile(input.entries, input.readBlobs);
    } catch (error) {
      throw new CandidateCheckUnavailable('snapshot', error);
    }
    const readMs = elapsed(started);
    const generated = tree.generated.map((module) => ({ path: module.path, source: module.source }));
    const base = { tests: { passed: 0, failed: 0, errored: 0 }, bundles: [] as string[], generated };
    if (tree.problems.length > 0) {
      const first = tree.problems[0]!;
      const where = `${first.file}${first.line ? `:${first.line}:${first.column}` : ''}`;
      const error = new BuildError(first.code, `${where}: ${first.message}`, { file: first.file, line: first.line, column: first.column });
      return { ...base, ok: false, problems: tree.problems, refusal: { step: 'compile', error }, timings: { readMs, checkMs: elapsed(started) - readMs } };
    }
    const [gate, build] = await Promise.allSettled([
      this.gate.check({ revision: input.revision, files: tree.policyFiles, priority: input.priority }),
      this.builder.check(tree.entries, tree.readBlobs),
    ]);
    const timings = { readMs, checkMs: elapsed(started) - readMs };
    const source = sourceFinder(tree.generated);
    const gateInfo = gate.status === 'fulfilled' ? { durationMs: gate.value.durationMs, cached: gate.value.cached === true } : undefined;
    const tests = gate.status === 'fulfilled' ? gate.value.tests : base.tests;
    // The builder's refusal is a verdict by itself and leads (rankFindings): it names the cause where OPA
    // often reports the consequence. Without it, no answer from OPA means no verdict at all.
    if (build.status === 'rejected' && build.reason instanceof BuildError) {
      const problems = rankFindings(build.reason, gate.status === 'fulfilled' ? gate.value.problems : []).map(source.problem);
      return { ...base, ok: false, problems, tests, refusal: { step: 'build', error: source.error(build.reason) }, gate: gateInfo, timings };
    }
    if (gate.status === 'rejected') throw new CandidateCheckUnavailable('gate', gate.reason);
    // A finding that depends on the machine (a test cancelled at OPA's own time limit) is no verdict: the
    // same tree passes on a quieter moment, so it is tried again, never refused for good.
    if (!gate.value.ok && gate.value.cacheable === false) {
      throw new CandidateCheckUnavailable('gate', new UnavailableError('gate_unavailable', `OPA cancelled a test at its time limit: ${gate.value.problems[0]?.message ?? ''}`.trim(), { reason: 'a test was cancelled at its time limit', retryAfterSeconds: 5 }));
    }
    if (build.status === 'rejected') throw new CandidateCheckUnavailable('build', build.reason);
    const bundles = build.value.bundles.map((bundle) => bundle.definition.name);
    if (!gate.value.ok) {
      return { ...base, ok: false, problems: gate.value.problems.map(source.problem), tests, bundles, refusal: { step: 'gate' }, gate: gateInfo, timings };
    }
    return { ...base, ok: true, problems: [], tests, bundles, checked: build.value, gate: gateInfo, timings };
  }
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 10) / 10;
}

const PACKAGE_CODES = new Set(['package_outside_roots', 'package_outside_directory']);

/**
 * Findings about a generated module are reported at its source (the spec people edit): the file is the
 * source, the position in the generated module goes into the message, and problems about the package
 * point at the source's `package` key when it has one.
 */
function sourceFinder(generated: readonly GeneratedModule[]) {
  const byPath = new Map(generated.map((module) => [module.path, module]));
  const locate = (code: string, message: string, file: string | undefined, line: number | undefined, column: number | undefined) => {
    const module = file === undefined ? undefined : byPath.get(file);
    if (!module) return undefined;
    const at = PACKAGE_CODES.has(code) ? module.packageAt : undefined;
    const where = `${module.path}${line ? `:${line}${column ? `:${column}` : ''}` : ''}`;
    const text = message.startsWith(module.path) ? message : `${where}: ${message}`;
    return { message: `${text} (in the module compiled from ${module.source})`, file: module.source, line: at?.line, column: at?.column };
  };
  return {
    problem(problem: GateProblem): GateProblem {
      const located = locate(problem.code, problem.message, problem.file, problem.line, problem.column);
      return located ? { code: problem.code, ...located } : problem;
    },
    error(error: BuildError): BuildError {
      const { file, line, column } = error.details;
      const located = locate(error.code, error.message, file, line, column);
      return located ? new BuildError(error.code, located.message, { ...error.details, file: located.file, line: located.line, column: located.column }, { cause: error }) : error;
    },
  };
}

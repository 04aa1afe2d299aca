/** What OPA says about one module: its package and its `# METADATA` title/description. */
export interface ModuleInfo {
  package?: string;
  title?: string;
  description?: string;
}

/** Reads packages and annotations of a set of files (backed by `opa inspect`). */
export interface PolicyInspector {
  inspect(files: ReadonlyArray<{ path: string; content: Buffer }>): Promise<Map<string, ModuleInfo>>;
}

/** OPA's `--explain` levels: `notes` (only `trace()` notes), `fails` (expressions that failed), `full` (everything). */
export type ExplainMode = 'notes' | 'fails' | 'full';

export const EXPLAIN_MODES: readonly ExplainMode[] = ['notes', 'fails', 'full'];

export interface EvaluationOutcome {
  result: unknown;
  defined: boolean;
  durationMs: number;
  /** With `explain`: OPA's trace, as lines a person reads (`file:row  | | Op text`) and as OPA's own events. */
  explanation?: { mode: ExplainMode; lines: string[]; events: unknown[] };
}

/** One decision of a batch: OPA's value, or undefined. */
export type EvaluatedDecision = { defined: true; result: unknown } | { defined: false };

/** Many inputs for one data reference. */
export interface EvaluationGroup {
  query: string;
  inputs: readonly unknown[];
}

/** Evaluates data references against a set of files with inputs (backed by `opa eval`). */
export interface PolicyEvaluator {
  evaluate(files: ReadonlyArray<{ path: string; content: Buffer }>, query: string, input: unknown, options?: { explain?: ExplainMode }): Promise<EvaluationOutcome>;
  /**
   * Every input of every group in one OPA process (not one per input), as an interactive request within
   * the runner's limits. Answers per group, per input, in order. Throws when OPA gives no well-formed
   * answer (never a guess).
   */
  evaluateBatch(files: ReadonlyArray<{ path: string; content: Buffer }>, groups: readonly EvaluationGroup[]): Promise<EvaluatedDecision[][]>;
}

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

/** Evaluates a data reference against a set of files with an input (backed by `opa eval`). */
export interface PolicyEvaluator {
  evaluate(files: ReadonlyArray<{ path: string; content: Buffer }>, query: string, input: unknown): Promise<{ result: unknown; defined: boolean; durationMs: number }>;
}

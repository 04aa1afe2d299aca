import type { Revision } from '../store/policy-store.js';
import type { WorkPriority } from '../work-priority.js';

/** One finding of the gate: OPA's error for a file/row/column, or a failed Rego test. */
export interface GateProblem {
  /** OPA's error code (`rego_parse_error`, `rego_type_error`, ...) or `rego_test_failed`. */
  code: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
  /** With `builtin_unavailable_on_fleet`: the built-in the fleet's oldest OPA lacks, and that version. */
  builtin?: string;
  opaVersion?: string;
}

export interface GateReport {
  ok: boolean;
  problems: GateProblem[];
  tests: { passed: number; failed: number; errored: number };
  /** Milliseconds spent, for the activation log. */
  durationMs: number;
  /** True when the verdict was remembered from an earlier check of the same files. */
  cached?: boolean;
  /** False when the verdict depends on the machine (a test cancelled at OPA's time limit): not remembered. */
  cacheable?: boolean;
}

export interface GateInput {
  revision?: Revision;
  /** Who waits for the verdict (the activation by default): decides the order OPA work starts in. */
  priority?: WorkPriority;
  /**
   * Check against the capabilities of this OPA release (`v1.0.0`: the fleet's oldest) instead of Regent's
   * own OPA. Set by `FleetAwarePolicyGate`; part of what a remembered verdict is keyed by.
   */
  opaVersion?: string;
  /** Every module, Rego test and data file of the candidate tree, by repository path. */
  files: ReadonlyArray<{ path: string; content: Buffer }>;
}

/**
 * The activation gate: real OPA checks a candidate tree (parse, compile, type check against the
 * capabilities Regent allows) and runs its Rego tests. A tree that fails never becomes active.
 * `check` resolves only with a verdict; when no verdict can be had (OPA missing, crashed, silent, busy,
 * over its limits) it throws, and the caller treats that as an infrastructure failure, never a pass.
 */
export interface PolicyGate {
  check(input: GateInput): Promise<GateReport>;
}
